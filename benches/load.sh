#!/usr/bin/env bash
# Load test of the local server on loopback: starts a release build of
# scim-local on a free 127.0.0.1 port, drives it with wrk for a bounded time
# per endpoint, prints requests/s, latency percentiles and the server's peak
# RSS, then stops it.
#
#   bash benches/load.sh            # 10 s per endpoint, 2 threads, 16 connections
#   SCIM_LOAD_SECONDS=30 SCIM_LOAD_CONNECTIONS=64 bash benches/load.sh
#
# After the discovery endpoints it seeds a tenant with SCIM_LOAD_USERS users
# (default 10000; POSTs from wrk, timed) and measures /Users: GET by id,
# Entra's userName filter, a 100-user page, creates, and Entra's PATCH, on
# one hot user and spread over the seeded users. benches/users.lua makes
# the requests; it prints the status counts of every write run.
#
# SCIM_LOAD_STORE=dynamodb runs seeding, GET by id, the filter and creates
# against `scim-local --store dynamodb` instead (discovery runs skipped), in
# a new table of the DynamoDB endpoint in AWS_ENDPOINT_URL_DYNAMODB, which
# must be on loopback, e.g. DynamoDB Local started by tests/run.sh:
#
#   SCIM_ONLY_SERVERS=1 SCIM_SERVERS_CMD='SCIM_LOAD_STORE=dynamodb bash benches/load.sh' \
#     bash tests/run.sh
#
# Only loopback is ever targeted. Installs wrk with apt-get when missing.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

SECONDS_PER_RUN=${SCIM_LOAD_SECONDS:-10}
CONNECTIONS=${SCIM_LOAD_CONNECTIONS:-16}
THREADS=${SCIM_LOAD_THREADS:-2}
STORE=${SCIM_LOAD_STORE:-memory}
USERS=${SCIM_LOAD_USERS:-10000}

STORE_ARGS=()
case "$STORE" in
  memory) ;;
  dynamodb)
    # Never a real AWS endpoint: the table is created and filled here.
    case "${AWS_ENDPOINT_URL_DYNAMODB:-}" in
      http://127.0.0.1:* | http://localhost:*) ;;
      *)
        echo "SCIM_LOAD_STORE=dynamodb needs AWS_ENDPOINT_URL_DYNAMODB on loopback (DynamoDB Local)" >&2
        exit 1
        ;;
    esac
    SCIM_TABLE_NAME="scim-load-$(head -c 4 /dev/urandom | od -An -tx1 | tr -d ' \n')"
    export SCIM_TABLE_NAME
    STORE_ARGS=(--store dynamodb --create-table)
    ;;
  *)
    echo "SCIM_LOAD_STORE must be memory or dynamodb" >&2
    exit 1
    ;;
esac

if ! command -v wrk >/dev/null 2>&1; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk
fi

cargo build --release --bin scim-local
PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')
TOKEN="scim_load_$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/scim-load.XXXXXX")
RUST_LOG=warn ./target/release/scim-local --addr "127.0.0.1:$PORT" --token "$TOKEN" "${STORE_ARGS[@]}" >"$WORK/server.log" 2>&1 &
SERVER=$!
WRK=""
trap '[ -z "$WRK" ] || kill -INT "$WRK" 2>/dev/null || true
  kill -INT "$SERVER" 2>/dev/null || true; wait "$SERVER" 2>/dev/null || true; rm -rf "$WORK"' EXIT
for _ in $(seq 1 300); do
  curl -s -o /dev/null "http://127.0.0.1:$PORT/" && break
  kill -0 "$SERVER" 2>/dev/null || {
    cat "$WORK/server.log" >&2
    exit 1
  }
  sleep 0.1
done

BASE="http://127.0.0.1:$PORT/scim/v2/default"
run() {
  local name=$1 url=$2 auth=$3
  printf '\n== %s\n' "$name"
  wrk -t"$THREADS" -c"$CONNECTIONS" -d"${SECONDS_PER_RUN}s" --latency -H "Authorization: Bearer $auth" "$url" |
    grep -E 'Requests/sec|^ +50%|^ +99%|Non-2xx|Socket errors'
}
# run_users NAME DURATION benches/users.lua-arguments...
run_users() {
  local name=$1 duration=$2
  shift 2
  printf '\n== %s\n' "$name"
  wrk -t"$THREADS" -c"$CONNECTIONS" -d"$duration" --latency -H "Authorization: Bearer $TOKEN" \
    -s benches/users.lua "$BASE/Users" -- "$@" |
    grep -E 'Requests/sec|^ +50%|^ +99%|Non-2xx|Socket errors|Statuses|Slower than'
}
users_total() {
  curl -sf -H "Authorization: Bearer $TOKEN" "$BASE/Users?count=0" |
    grep -o '"totalResults":[0-9]*' | cut -d: -f2
}
# seed N: POSTs from wrk until the tenant holds N users, timed. Each wrk
# thread stops at its share of 201s; wrk itself runs until SIGINT, sent as
# soon as the count (polled every 0.02 s) reaches N. Requests still in flight
# when a thread stops may add a few users more.
seed() {
  local n=$1 start elapsed total
  printf '\n== seed: POST /Users until %s users exist (%s store)\n' "$n" "$STORE"
  start=$(date +%s.%N)
  wrk -t"$THREADS" -c"$CONNECTIONS" -d30m --latency -H "Authorization: Bearer $TOKEN" \
    -s benches/users.lua "$BASE/Users" -- create seed "$n" "$THREADS" >"$WORK/seed.out" &
  WRK=$!
  total=0
  while [ "${total:-0}" -lt "$n" ] && kill -0 "$WRK" 2>/dev/null; do
    sleep 0.02
    total=$(users_total || echo 0)
  done
  elapsed=$(python3 -c 'import sys, time; print(f"{time.time() - float(sys.argv[1]):.2f}")' "$start")
  kill -INT "$WRK" 2>/dev/null || true
  wait "$WRK" || true
  WRK=""
  grep -E '^ +50%|^ +99%|Non-2xx|Socket errors|Statuses' "$WORK/seed.out"
  total=$(users_total)
  printf '  seeded %s users in %s s: %s creates/s\n' "$total" "$elapsed" \
    "$(python3 -c 'import sys; print(round(int(sys.argv[1]) / float(sys.argv[2])))' "$total" "$elapsed")"
  [ "$total" -ge "$n" ] || {
    echo "seeding stopped at $total users:" >&2
    cat "$WORK/seed.out" >&2
    exit 1
  }
}
# Every user as an "id userName" line (cursor pages of 1000).
list_users() {
  python3 - "$BASE/Users" "$TOKEN" "$1" <<'PY'
import json, sys, urllib.parse, urllib.request
url, token, out = sys.argv[1:]
cursor = ""
with open(out, "w") as f:
    while True:
        query = urllib.parse.urlencode({"attributes": "userName", "count": 1000, "cursor": cursor})
        request = urllib.request.Request(f"{url}?{query}", headers={"Authorization": f"Bearer {token}"})
        page = json.load(urllib.request.urlopen(request))
        for user in page.get("Resources", []):
            f.write(f"{user['id']} {user['userName']}\n")
        cursor = page.get("nextCursor")
        if not cursor:
            break
PY
}
memory() {
  printf '\n== server memory %s: peak RSS %s kB, RSS now %s kB\n' "$1" \
    "$(grep VmHWM "/proc/$SERVER/status" | awk '{print $2}')" \
    "$(grep VmRSS "/proc/$SERVER/status" | awk '{print $2}')"
}

if [ "$STORE" = memory ]; then
  run "GET /ServiceProviderConfig (valid token)" "$BASE/ServiceProviderConfig" "$TOKEN"
  run "GET /Schemas (full schema list, 21 KB)" "$BASE/Schemas" "$TOKEN"
  run "GET /Schemas with a wrong token (401)" "$BASE/Schemas" "wrong"
  printf '\n== server peak RSS: %s kB\n' "$(grep VmHWM "/proc/$SERVER/status" | awk '{print $2}')"
else
  printf '\n== store: DynamoDB at %s, table %s (DynamoDB Local on loopback: not AWS latency)\n' \
    "$AWS_ENDPOINT_URL_DYNAMODB" "$SCIM_TABLE_NAME"
fi

seed "$USERS"
seeded=$(users_total)
list_users "$WORK/users.txt"
[ "$STORE" = dynamodb ] || memory "holding $seeded users"

run_users "GET /Users/{id} (a random seeded user)" "${SECONDS_PER_RUN}s" get "$WORK/users.txt"
run_users "GET /Users?filter=userName eq \"<name>\" (Entra's match, a random seeded user)" "${SECONDS_PER_RUN}s" \
  filter "$WORK/users.txt"
if [ "$STORE" = memory ]; then
  run "GET /Users?startIndex=1&count=100 (first page of $seeded users)" "$BASE/Users?startIndex=1&count=100" "$TOKEN"
  memory "after the reads, holding $seeded users"
fi
run_users "POST /Users (a new userName each request)" "${SECONDS_PER_RUN}s" create "load"
printf '\n== users now: %s\n' "$(users_total)"
if [ "$STORE" = memory ]; then
  # Conditional writes: concurrent PATCHes of one user lose version races and
  # are retried from a fresh read after a short backoff (up to 10 attempts,
  # then 409).
  run_users "PATCH /Users/{id} (Entra's Replace of title and active, one hot user)" "${SECONDS_PER_RUN}s" \
    patch "$WORK/users.txt" hot
  # Every 200 above was one write (each PATCH sets a new title); requests in
  # flight when wrk stopped may have written too.
  printf '  hot user now at version %s\n' "$(curl -sf -H "Authorization: Bearer $TOKEN" \
    "$BASE/Users/$(head -n 1 "$WORK/users.txt" | cut -d' ' -f1)" |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["meta"]["version"])')"
  run_users "PATCH /Users/{id} (the same, a random seeded user)" "${SECONDS_PER_RUN}s" patch "$WORK/users.txt"
  memory "at the end, holding $(users_total) users"
else
  memory "at the end (users in DynamoDB)"
fi
# The server logs at warn level: anything it said explains odd numbers.
if grep -qE 'WARN|ERROR' "$WORK/server.log"; then
  printf '\n== server warnings and errors: %s lines, the last ones:\n' "$(grep -cE 'WARN|ERROR' "$WORK/server.log")"
  grep -E 'WARN|ERROR' "$WORK/server.log" | tail -n 5
fi
