#!/usr/bin/env bash
# Builds the stack exactly as `sam build` does (cargo-lambda with zig,
# `cargo lambda build --release` per function) for x86_64, then checks every
# function's artifact: it exists, is at most 8 MB, and answers every event of
# events/ under the Lambda Runtime API harness (tests/lambda_runtime.rs) against
# DynamoDB Local and moto.
#
#   bash tests/sam-build.sh
#
# A release build with fat LTO of seven binaries: 460 s on an idle 2-core machine
# from a cold release cache (30 minutes measured with other builds sharing the
# cores); not part of tests/run.sh for that reason, CI runs it after it
# (.ci/run). At the end it prints the cold-start table of the artifacts
# (examples/cold_start.rs). It installs what it needs into the
# same cache as tests/run.sh: the SAM CLI venv and a venv with cargo-lambda
# (PyPI; its wheel brings zig). The build directory is kept in
# ${SCIM_SAM_BUILD_DIR:-target/sam-build}.
#
# Knobs: SCIM_TOOLS_DIR (tool cache), SCIM_SAM_ARCHITECTURE (default x86_64; arm64
# needs the aarch64 Rust standard library: rustup target add aarch64-unknown-linux-gnu),
# SCIM_SAM_TARGET_DIR (cargo's target directory for the release build only, e.g. one
# shared between checkouts; the tests build in the usual one),
# SCIM_SAM_COLD_START_ROUNDS (cold starts per function in the final table, default 10).
set -euo pipefail

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$REPO_ROOT"

TOOLS_DIR=${SCIM_TOOLS_DIR:-$HOME/.cache/scim-serverless/tools}
ARCHITECTURE=${SCIM_SAM_ARCHITECTURE:-x86_64}
BUILD_DIR=${SCIM_SAM_BUILD_DIR:-$REPO_ROOT/target/sam-build}
SAM_VENV="$TOOLS_DIR/venv-sam"
CARGO_LAMBDA_VENV="$TOOLS_DIR/venv-cargo-lambda"
# Same pin as tests/run.sh.
SAM_REQUIREMENT="aws-sam-cli==1.170.0"
CARGO_LAMBDA_REQUIREMENT="cargo-lambda==1.9.2"
MAX_BYTES=$((8 * 1024 * 1024))
FUNCTIONS=(UsersFunction GroupsFunction BulkFunction SchemasFunction ResourceTypesFunction
  ServiceProviderConfigFunction AuthorizerFunction EventsFunction ManageFunction RecorderFunction)

log() { printf '%s\n' "$*" >&2; }
die() {
  log "error: $*"
  exit 1
}

# venv DIR REQUIREMENT: (re)creates DIR when the requirement changed.
venv() {
  local dir=$1 requirement=$2
  if [ -x "$dir/bin/python" ] && [ "$(cat "$dir/.scim-requirements" 2>/dev/null || true)" = "$requirement" ]; then
    return
  fi
  rm -rf "$dir"
  python3 -m venv "$dir"
  "$dir/bin/python" -m pip install --quiet --disable-pip-version-check "$requirement"
  printf '%s\n' "$requirement" >"$dir/.scim-requirements"
}

install() {
  mkdir -p "$TOOLS_DIR"
  (
    flock -w 1800 9 || die "timed out waiting for the lock on $TOOLS_DIR"
    venv "$SAM_VENV" "$SAM_REQUIREMENT"
    venv "$CARGO_LAMBDA_VENV" "$CARGO_LAMBDA_REQUIREMENT"
  ) 9>"$TOOLS_DIR/.lock"
}

start=$SECONDS
log "==> install: $SAM_REQUIREMENT, $CARGO_LAMBDA_REQUIREMENT (zig)"
install

log "==> sam build (Architecture=$ARCHITECTURE) into $BUILD_DIR"
rm -rf "$BUILD_DIR"
sam_build_start=$SECONDS
CARGO_TARGET_DIR=${SCIM_SAM_TARGET_DIR:-${CARGO_TARGET_DIR:-$REPO_ROOT/target}} \
  PATH="$CARGO_LAMBDA_VENV/bin:$PATH" SAM_CLI_TELEMETRY=0 SAM_CLI_BETA_RUST_CARGO_LAMBDA=1 \
  "$SAM_VENV/bin/sam" build --template-file template.yaml --build-dir "$BUILD_DIR" \
  --parameter-overrides "Architecture=$ARCHITECTURE"
log "sam build: $((SECONDS - sam_build_start)) s"

log "==> artifacts"
for function in "${FUNCTIONS[@]}"; do
  artifact="$BUILD_DIR/$function/bootstrap"
  [ -x "$artifact" ] || die "$function: no executable $artifact"
  size=$(stat -c %s "$artifact")
  awk -v f="$function" -v s="$size" 'BEGIN { printf "%-32s %6.1f MB\n", f, s / 1048576 }' >&2
  [ "$size" -le "$MAX_BYTES" ] || die "$function: $size bytes, more than 8 MB"
done

log "==> the artifacts under the Runtime API harness"
SCIM_ONLY_SERVERS=1 \
  SCIM_SERVERS_CMD="SCIM_LAMBDA_ARTIFACTS='$BUILD_DIR' cargo test --test lambda_runtime" \
  bash tests/run.sh

log "==> cold starts of the artifacts (benches/cold_start.sh's table)"
cargo build --quiet --example cold_start
SCIM_ONLY_SERVERS=1 \
  SCIM_SERVERS_CMD="RUST_LOG=warn target/debug/examples/cold_start '$BUILD_DIR' ${SCIM_SAM_COLD_START_ROUNDS:-10}" \
  bash tests/run.sh

log "tests/sam-build.sh: ok after $((SECONDS - start)) s"
