#!/usr/bin/env bash
# Load test of the local server on loopback: starts a release build of
# scim-local on a free 127.0.0.1 port, drives it with wrk for a bounded time
# per endpoint, prints requests/s, latency percentiles and the server's peak
# RSS, then stops it.
#
#   bash benches/load.sh            # 10 s per endpoint, 2 threads, 16 connections
#   SCIM_LOAD_SECONDS=30 SCIM_LOAD_CONNECTIONS=64 bash benches/load.sh
#
# Only loopback is ever targeted. Installs wrk with apt-get when missing.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

SECONDS_PER_RUN=${SCIM_LOAD_SECONDS:-10}
CONNECTIONS=${SCIM_LOAD_CONNECTIONS:-16}
THREADS=${SCIM_LOAD_THREADS:-2}

if ! command -v wrk >/dev/null 2>&1; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk
fi

cargo build --release --bin scim-local
PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')
TOKEN="scim_load_$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')"
RUST_LOG=warn ./target/release/scim-local --addr "127.0.0.1:$PORT" --token "$TOKEN" >/dev/null 2>&1 &
SERVER=$!
trap 'kill -INT "$SERVER" 2>/dev/null || true; wait "$SERVER" 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do
  curl -s -o /dev/null "http://127.0.0.1:$PORT/" && break
  sleep 0.1
done

BASE="http://127.0.0.1:$PORT/scim/v2/default"
run() {
  local name=$1 url=$2 auth=$3
  printf '\n== %s\n' "$name"
  wrk -t"$THREADS" -c"$CONNECTIONS" -d"${SECONDS_PER_RUN}s" --latency -H "Authorization: Bearer $auth" "$url" |
    grep -E 'Requests/sec|^ +50%|^ +99%|Non-2xx'
}
run "GET /ServiceProviderConfig (valid token)" "$BASE/ServiceProviderConfig" "$TOKEN"
run "GET /Schemas (full schema list, 21 KB)" "$BASE/Schemas" "$TOKEN"
run "GET /Schemas with a wrong token (401)" "$BASE/Schemas" "wrong"
printf '\n== server peak RSS: %s kB\n' "$(grep VmHWM "/proc/$SERVER/status" | awk '{print $2}')"
