#!/usr/bin/env bash
# Cold-start benchmark of the Lambda binaries (not a test): builds them as
# `cargo lambda build --release` (what `sam build` runs) does — release profile,
# panic = "abort", no default features — then, with DynamoDB Local and moto
# started by tests/run.sh, runs each binary under the Runtime API harness and
# prints a Markdown table: binary size, init (process start to the first
# `next` call), first invocation, warm invocation.
#
#   bash benches/cold_start.sh [rounds]     (default 10 cold starts per function)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

CARGO_PROFILE_RELEASE_PANIC=abort cargo build --release --no-default-features \
  --bin users --bin groups --bin authorizer --bin schemas --bin resource_types \
  --bin service_provider_config
cargo build --example cold_start
SCIM_ONLY_SERVERS=1 \
  SCIM_SERVERS_CMD="RUST_LOG=warn target/debug/examples/cold_start target/release ${1:-10}" \
  bash tests/run.sh
