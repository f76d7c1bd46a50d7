#!/usr/bin/env bash
# Smoke test of the load generator (load-tests/, crate questpath-load): every scenario,
# small and short, against a live server, so the generator never rots.
#
#   scripts/checks.d/load-smoke.sh        (scripts/test runs it after the test suite)
#
# 1. builds target/debug/questpath-load (and the server binary if missing);
# 2. starts target/debug/questpath on a free loopback port with a fresh data folder,
#    the embedded store, in-process backends and generous rate limits;
# 3. runs `connect` (50 sockets), `quiz` (20 players), `http` (200 requests per
#    second), `room` (20 guests, then 10 learners, 2 questions each) and `mixed` (10
#    quizzers, a room of 3, 20 REST requests a second, 8 s and its final check), each a
#    few seconds, and checks each exits 0 and wrote its JSON report;
# 4. stops the server.
#
# Numbers from a debug build mean nothing; see load-tests/README.md for real runs.
# LOAD_SMOKE_KEEP=1 keeps the temp folder (server log, reports).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
QP_LOG_TAG="load-smoke"
# shellcheck source=scripts/services/lib.sh
source scripts/services/lib.sh

# The binaries follow CARGO_TARGET_DIR when it is set, like cargo itself.
TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
BIN="$TARGET_DIR/debug/questpath"
LOAD="$TARGET_DIR/debug/questpath-load"
T0=$(qp_now_ms)

qp_log "building questpath-load"
cargo build --quiet -p questpath-load
if [[ ! -x $BIN ]]; then
  qp_log "building the server binary"
  cargo build --quiet --bin questpath
fi

WORK="$(mktemp -d -t questpath-load-smoke.XXXXXX)"
SERVER_PID=""
# shellcheck disable=SC2317  # invoked by the EXIT trap
cleanup() {
  local rc=$?
  trap - EXIT
  set +e
  if qp_pid_alive "$SERVER_PID"; then
    kill -TERM "$SERVER_PID" 2>/dev/null
    wait "$SERVER_PID" 2>/dev/null
  fi
  if ((rc != 0)); then
    qp_err "failed (exit $rc); the server's log follows (last 40 lines of $WORK/server.log)"
    tail -n 40 "$WORK/server.log" >&2 2>/dev/null
  fi
  if [[ ${LOAD_SMOKE_KEEP:-0} == 1 ]]; then
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

PORT="$(free_port)"
BASE="http://127.0.0.1:$PORT"
qp_log "starting $BIN on $BASE (data in $WORK/data)"
# From $WORK, so no .env of the checkout is read; every setting is given here. The
# limits are raised because one generator plays many users from a few addresses.
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
    QUESTPATH_METRICS_TOKEN= \
    QUESTPATH_RATE_LIMIT_READS=1000000 \
    QUESTPATH_RATE_LIMIT_WRITES=1000000 \
    QUESTPATH_RATE_LIMIT_ANONYMOUS=1000000 \
    QUESTPATH_RATE_LIMIT_LOGIN=1000000 \
    QUESTPATH_RATE_LIMIT_REGISTER=1000000 \
    "$BIN" serve
) >"$WORK/server.log" 2>&1 &
SERVER_PID=$!

qp_wait_serving "$SERVER_PID" "$BASE/health" server || exit 1

# One accounts file for the three runs: learners are registered (and their goals
# generated) once, by the first scenario that needs them.
ACCOUNTS="$WORK/accounts.json"
failed=0
scenario() { # NAME ARGS...: one bounded run; checks the exit status and the report
  local name=$1 rc=0
  shift
  local report="$WORK/$name${SMOKE_TAG:-}.json"
  qp_log "questpath-load $name $*"
  timeout --signal=TERM --kill-after=10 60 \
    "$LOAD" "$name" --url "$BASE" --backends embedded --accounts "$ACCOUNTS" \
    --json "$report" --max-runtime 45 --setup-concurrency 4 "$@" \
    >"$WORK/$name${SMOKE_TAG:-}.out" 2>&1 || rc=$?
  if ((rc != 0)); then
    qp_err "$name exited with $rc; its output follows"
    cat "$WORK/$name${SMOKE_TAG:-}.out" >&2
    failed=1
    return
  fi
  if ! python3 -c 'import json, sys; r = json.load(open(sys.argv[1])); assert r["scenario"] == sys.argv[2], r["scenario"]' \
    "$report" "$name"; then
    qp_err "$name did not write a readable report at $report"
    failed=1
    return
  fi
  grep -E '^(connections|connect rate|answers|requests|joined|fan-out, host command -> player|quizzes|rooms|XP):' \
    "$WORK/$name${SMOKE_TAG:-}.out" | sed "s/^/  $name: /" || true
}

scenario quiz --players 20 --rate 60 --warmup 1 --duration 3
scenario http --users 20 --rate 200 --connections 8 --warmup 1 --duration 3
scenario connect --connections 50 --rate 500 --hold 2 --users 20
# A room: the host (learner 0) and 20 guests, then 10 of the quiz's learners; two
# questions each, answers within a second, the question closing once all answered.
SMOKE_TAG=-guests scenario room --players 20 --guests --questions 2 --question-time 5 \
  --answer-delay 1 --reveal 0.2 --join-rate 200
SMOKE_TAG=-learners scenario room --players 10 --questions 2 --question-time 5 \
  --answer-delay 1 --reveal 0.2 --join-rate 200
# Everything at once (the chaos run's load, without faults): quizzers, a room of three
# playing short games back to back, REST reads and writes; then the final check.
scenario mixed --duration 8 --final-wait 30 --quizzers 10 --quiz-rate 20 --rooms 1 \
  --room-players 3 --room-questions 2 --question-time 5 --http-rate 20 --http-connections 4

if ! qp_pid_alive "$SERVER_PID"; then
  qp_err "the server died during the runs"
  exit 1
fi
((failed == 0)) || exit 1
qp_log "every scenario ran and wrote its report ($(qp_since "$T0") s)"
