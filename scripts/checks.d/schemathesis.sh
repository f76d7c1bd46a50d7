#!/usr/bin/env bash
# Contract test: schemathesis fuzzes a live server from its own OpenAPI document
# (GET /api/v1/openapi.json) and fails on any 5xx and on any response that contradicts
# the document (status code, content type, headers, body schema).
#
#   scripts/checks.d/schemathesis.sh        (scripts/test runs it after the test suite)
#
# 1. installs schemathesis (PyPI, pinned) into .services/schemathesis-venv, once;
# 2. starts target/debug/questpath (built by the suite; built here if missing) on a free
#    loopback port with a fresh data folder, the embedded store and in-process backends,
#    generous per-user rate limits, and Google sign-in pointed at a local, empty key set
#    (so /auth/google answers 401 for the fuzzer's tokens instead of 501 "disabled");
# 3. registers a user and signs in (curl) for a bearer token;
# 4. generates two goals, so the fuzzer can use real goal, level and job ids too;
# 5. runs `schemathesis run` with that token, bounded by --max-examples and a timeout
#    (twice: every operation but DELETE /api/v1/goals/{goal_id}, then that one);
# 6. stops what it started.
#
# Variables: SCHEMATHESIS_MAX_EXAMPLES (default 30), SCHEMATHESIS_TIMEOUT_SECS (600, per
# run), SCHEMATHESIS_SEED (random), SCHEMATHESIS_CHECKS (default: not_a_server_error and
# the four *_conformance checks; `all` to explore), SCHEMATHESIS_KEEP=1 keeps the temp folder (server log, JUnit and HAR reports)
# for a look after a failure.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
QP_LOG_TAG="schemathesis"
# shellcheck source=scripts/services/lib.sh
source scripts/services/lib.sh

SCHEMATHESIS_VERSION="4.32.5" # supports Python 3.9+; 4.x flags (see `schemathesis run --help`)
VENV="$QP_SERVICES_DIR/schemathesis-venv"
ST="$VENV/bin/schemathesis"
MAX_EXAMPLES="${SCHEMATHESIS_MAX_EXAMPLES:-30}"
TIMEOUT_SECS="${SCHEMATHESIS_TIMEOUT_SECS:-600}"
BIN="$ROOT/target/debug/questpath"

# ---- 1. schemathesis ------------------------------------------------------------------
if [[ ! -x $ST ]] || [[ $("$ST" --version 2>/dev/null) != *"$SCHEMATHESIS_VERSION"* ]]; then
  qp_log "installing schemathesis $SCHEMATHESIS_VERSION into $VENV"
  mkdir -p "$QP_SERVICES_DIR"
  rm -rf "$VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION"
fi
"$ST" --version

# ---- 2. the server ---------------------------------------------------------------------
if [[ ! -x $BIN ]]; then
  qp_log "building the server binary"
  cargo build --bin questpath
fi

WORK="$(mktemp -d -t questpath-schemathesis.XXXXXX)"
SERVER_PID=""
JWKS_PID=""
# shellcheck disable=SC2317  # invoked by the EXIT trap
cleanup() {
  local rc=$?
  trap - EXIT
  set +e
  for pid in "$SERVER_PID" "$JWKS_PID"; do
    if qp_pid_alive "$pid"; then
      kill -TERM "$pid" 2>/dev/null
      wait "$pid" 2>/dev/null
    fi
  done
  if ((rc != 0)); then
    qp_err "failed (exit $rc); the server's log follows (last 40 lines of $WORK/server.log)"
    tail -n 40 "$WORK/server.log" >&2 2>/dev/null
  fi
  if [[ ${SCHEMATHESIS_KEEP:-0} == 1 ]]; then
    qp_log "kept $WORK"
  else
    rm -rf "$WORK"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Google's signing keys, served locally: an empty key set, so every token the fuzzer
# makes up is refused with 401 (as a forged one would be), without internet access.
mkdir -p "$WORK/jwks"
printf '{"keys": []}\n' >"$WORK/jwks/certs.json"
JWKS_PORT="$(free_port)"
python3 -m http.server "$JWKS_PORT" --bind 127.0.0.1 --directory "$WORK/jwks" \
  >"$WORK/jwks.log" 2>&1 &
JWKS_PID=$!

PORT="$(free_port)"
BASE="http://127.0.0.1:$PORT"
qp_log "starting $BIN on $BASE (data in $WORK/data)"
# From $WORK, so no .env of the checkout is read; every setting is given here.
(
  cd "$WORK"
  exec env \
    QUESTPATH_ENV=development \
    QUESTPATH_BIND="127.0.0.1:$PORT" \
    QUESTPATH_DATA_DIR="$WORK/data" \
    QUESTPATH_WORKERS=2 \
    QUESTPATH_SHUTDOWN_TIMEOUT_SECS=2 \
    QUESTPATH_LOG=warn \
    QUESTPATH_LOG_FORMAT=json \
    QUESTPATH_SCYLLA_NODES= \
    QUESTPATH_REDIS_URL= \
    QUESTPATH_LLM_BASE_URL= \
    QUESTPATH_GOOGLE_CLIENT_ID=contract-test.apps.googleusercontent.com \
    QUESTPATH_GOOGLE_JWKS_URL="http://127.0.0.1:$JWKS_PORT/certs.json" \
    QUESTPATH_RATE_LIMIT_READS=100000 \
    QUESTPATH_RATE_LIMIT_WRITES=100000 \
    QUESTPATH_RATE_LIMIT_ANONYMOUS=100000 \
    "$BIN" serve
) >"$WORK/server.log" 2>&1 &
SERVER_PID=$!

qp_wait_serving "$SERVER_PID" "$BASE/health" server || exit 1

# ---- 3. a signed-in user ---------------------------------------------------------------
EMAIL="contract-$(date +%s)-$RANDOM@example.org"
PASSWORD="contract-pw-$RANDOM-$RANDOM"
BODY="{\"email\": \"$EMAIL\", \"password\": \"$PASSWORD\"}"
curl -fsS -o /dev/null -H 'Content-Type: application/json' -d "$BODY" \
  "$BASE/api/v1/auth/register"
TOKEN="$(curl -fsS -H 'Content-Type: application/json' -d "$BODY" "$BASE/api/v1/auth/login" |
  python3 -c 'import json, sys; print(json.load(sys.stdin)["access_token"])')"
[[ -n $TOKEN ]] || {
  qp_err "no access token from login"
  exit 1
}
qp_log "signed in as $EMAIL"

# ---- 4. data to find --------------------------------------------------------------------
# Random ids only ever reach "404 not found". Two goals are generated (offline catalog)
# so that the fuzzer also uses real goal, level and job ids (half of the time, through
# schemathesis dictionaries) and the goal, level and job bodies get checked against the
# document. Deleting goals gets a run of its own, last, on the second goal: schemathesis
# also reuses ids it sees in responses, so a DELETE running alongside the reads would
# soon leave them nothing to find.
api() { # METHOD PATH [JSON BODY]: prints the response body, fails on a non-2xx answer
  local request=(curl -fsS -X "$1" -H "Authorization: Bearer $TOKEN")
  [[ -n ${3:-} ]] && request+=(-H 'Content-Type: application/json' -d "$3")
  "${request[@]}" "$BASE$2"
}
json_get() { # PYTHON EXPRESSION over `d`, the JSON document on stdin
  python3 -c "import json, sys; d = json.load(sys.stdin); print($1)"
}
seed_goal() { # DESCRIPTION: generates a goal, prints "<goal id> <job id>"
  local job_id goal_id="" status
  job_id="$(api POST /api/v1/goals "{\"description\": \"$1\"}" | json_get 'd["job"]["id"]')"
  for _ in $(seq 1 150); do
    status="$(api GET "/api/v1/jobs/$job_id" | json_get 'd["status"], d["goal_id"] or ""')"
    case $status in
      "done "*) goal_id="${status#done }" && break ;;
      failed*) break ;;
    esac
    sleep 0.2
  done
  [[ -n $goal_id ]] || {
    qp_err "generating a goal for the fuzzer failed: job $job_id is '$status'"
    return 1
  }
  echo "$goal_id $job_id"
}
read -r GOAL_ID JOB_ID < <(seed_goal "Learn the Rust programming language")
read -r DOOMED_GOAL_ID DOOMED_JOB_ID < <(seed_goal "Learn to play the guitar")
[[ -n ${GOAL_ID:-} && -n ${DOOMED_GOAL_ID:-} ]] || exit 1
toml_list() { # the ids on stdin, one a line, as a TOML list of strings
  python3 -c 'import json, sys; print(json.dumps(sys.stdin.read().split()))'
}
LEVEL_IDS="$(
  for goal in "$GOAL_ID" "$DOOMED_GOAL_ID"; do
    api GET "/api/v1/goals/$goal" | json_get '"\n".join(l["id"] for l in d["roadmap"]["levels"])'
  done | toml_list
)"
cat >"$WORK/schemathesis.toml" <<TOML
# Written by scripts/checks.d/schemathesis.sh for one run.
[dictionaries.goal_ids]
values = ["$GOAL_ID"]
[dictionaries.doomed_goal_ids]
values = ["$DOOMED_GOAL_ID"]
[dictionaries.level_ids]
values = $LEVEL_IDS
[dictionaries.job_ids]
values = ["$JOB_ID", "$DOOMED_JOB_ID"]
[dictionaries.topic_indexes]
values = [0, 1, 2, 3]

[parameters]
"path.level_id" = { dictionary = "level_ids", probability = 0.5 }
"path.job_id" = { dictionary = "job_ids", probability = 0.5 }
"path.index" = { dictionary = "topic_indexes", probability = 0.5 }

[[operations]]
include-name = "GET /api/v1/goals/{goal_id}"
parameters = { "path.goal_id" = { dictionary = "goal_ids", probability = 0.5 } }

[[operations]]
include-name = "DELETE /api/v1/goals/{goal_id}"
parameters = { "path.goal_id" = { dictionary = "doomed_goal_ids", probability = 0.5 } }
TOML
qp_log "seeded goals $GOAL_ID and $DOOMED_GOAL_ID"

# ---- 5. schemathesis -------------------------------------------------------------------
CHECKS="not_a_server_error,status_code_conformance,content_type_conformance"
CHECKS+=",response_headers_conformance,response_schema_conformance"
CHECKS="${SCHEMATHESIS_CHECKS:-$CHECKS}"
# Read from the live server into a file: schemathesis leaves out the operation its
# schema URL is served by, and the document is one of the operations.
curl -fsS -o "$WORK/openapi.json" "$BASE/api/v1/openapi.json"
DELETE_GOAL="DELETE /api/v1/goals/{goal_id}"
common=(
  run "$WORK/openapi.json"
  --url "$BASE"
  --header "Authorization: Bearer $TOKEN"
  --checks "$CHECKS"
  --max-examples "$MAX_EXAMPLES"
  # One worker: with two, hypothesis 6.170's lambda-source cache (shared by the worker
  # threads) once raised KeyError in the coverage phase of POST /api/v1/quizzes/import,
  # a "Runtime Error" of the tool with every one of 3,439 cases passing.
  --workers 1
  --request-timeout 10
  --generation-database none
  --no-color
)
[[ -n ${SCHEMATHESIS_SEED:-} ]] && common+=(--seed "$SCHEMATHESIS_SEED")

run_schemathesis() { # NAME ARGS...: one run, reports in $WORK/report/NAME
  local name=$1 rc=0
  shift
  # shellcheck disable=SC2054  # "junit,har" is one argument
  local args=(--config-file "$WORK/schemathesis.toml" "${common[@]}" "$@"
    --report junit,har --report-dir "$WORK/report/$name")
  qp_log "schemathesis ${args[*]/Bearer */Bearer ***}"
  # From $WORK: schemathesis and hypothesis keep caches in the current folder.
  # SCHEMATHESIS_HOOKS from the caller's environment would change the run.
  (
    cd "$WORK"
    exec env -u SCHEMATHESIS_HOOKS timeout --signal=TERM --kill-after=10 "$TIMEOUT_SECS" \
      "$ST" "${args[@]}"
  ) || rc=$?
  if ((rc == 124)); then
    qp_err "schemathesis ($name) did not finish within $TIMEOUT_SECS s"
    return 1
  fi
  if ((rc != 0)); then
    qp_err "schemathesis ($name) found responses that contradict the OpenAPI document (exit $rc)"
    return 1
  fi
  if ! qp_pid_alive "$SERVER_PID"; then
    qp_err "the server died during the run"
    return 1
  fi
}

failed=0
run_schemathesis all-but-delete --exclude-name "$DELETE_GOAL" || failed=1
run_schemathesis delete --include-name "$DELETE_GOAL" || failed=1
((failed == 0)) || exit 1
qp_log "no server errors, every response matches the document"
