#!/usr/bin/env bash
# The measurements of load-tests/RESULTS.md, one backend per call:
#
#   load-tests/bench.sh embedded|embedded-redis|redis-cassandra [STEP...]
#
# Steps (default: all, in this order):
#   setup       start a server, register PLAYERS learners with a goal each (accounts file)
#   connect     restart the server (so it has hashed no password: see README), ramp to
#               CONNECTIONS idle websockets, hold them 30 s
#   quiz-max    PLAYERS players at QUIZ_MAX answers per second (embedded 20,000; else 5,000)
#   quiz-half   the same players at QUIZ_HALF answers per second (embedded 10,000; else 5,000)
#   quiz-sweep  the same players at each rate of QUIZ_RATES, 20 s each
#   http        reads at each rate of HTTP_RATES, 20 s each
#   wrk         reads per route with wrk, closed loop as issue 17 states them (WRK_THREADS 2,
#               WRK_CONNECTIONS 64, WRK_SECONDS 20, the bearer tokens of WRK_LEARNERS (16)
#               learners in turn, as one may read 16,667 times a second at most): each of the
#               four legacy routes, their /api/v1 twins and /health, with the server's CPU
#               per request from /proc (load-tests/wrk_routes.py; wrk from Debian's
#               packages, installed when missing); report OUT/wrk-BACKENDS-TIME.json
#   room-1k     restart the server, one room of 1,000 guests and a host, ROOM_QUESTIONS
#               questions (10), answers within 3 s
#   room-1k-accounts  the same with 1,000 registered learners (PLAYERS >= 1,001 from setup)
#   room-10k    restart the server, one room of 10,000 guests (ROOM_MAX_PLAYERS, 10,000,
#               is the server's QUESTPATH_ROOM_MAX_PLAYERS)
#   quick       (not in the default steps) the regression guard, in under 3 minutes:
#               QUICK_PLAYERS (800: 5,000 answers/s need 667 sockets under the server's 10
#               messages/s) learners, 4,000 sockets held 10 s, quiz at QUICK_QUIZ_RATE answers/s
#               and REST at QUICK_HTTP_RATE reads/s for 10 s each (embedded 5,000 and 10,000,
#               else 3,000 and 3,000), a room of 1,000 guests over 3 questions; each report is
#               written as OUT/quick-SCENARIO-BACKENDS-TIME.json and its figures are printed
#               beside the last committed report of that name (bench_compare.py), any figure
#               more than 20 % worse flagged (exit status 1)
#   soak        (not in the default steps; load-tests/soak.sh runs it) SOAK_MINUTES (30) of
#               mixed load on one server process: SOAK_PLAYERS (1,000) quiz players at
#               SOAK_QUIZ_RATE answers/s, REST reads and renames at SOAK_HTTP_RATE, and room
#               games of SOAK_ROOM_PLAYERS (200) guests back to back, each in 10-minute
#               segments; the server's memory, descriptors, threads, sockets, session and room
#               actors sampled every SOAK_SAMPLE seconds (60) into OUT/soak-BACKENDS-TIME.csv,
#               then load-tests/soak_plot.py draws and judges it (.png, .md)
#
# WS_OUTBOUND_QUEUE, when set, is the server's QUESTPATH_WS_OUTBOUND_QUEUE (messages a
# socket may have queued before it is closed as a slow consumer; the server's default
# is 64). ROOM_JOIN_RATE (1,000) is the joins per second of the room steps.
#
# Uses target/release/questpath and target/release/questpath-load (under
# CARGO_TARGET_DIR when set; override with QUESTPATH_BIN / QUESTPATH_LOAD_BIN); build
# them first with
#   cargo build --release -p questpath -p questpath-load
# Reports go to OUT (default load-tests/results); BENCH_COMMIT names the server's commit
# in them when the binaries were not built from this checkout. Everything runs on loopback; the server
# gets generous rate limits (one generator plays thousands of users from few addresses).
# embedded-redis: the embedded store, Redis on 127.0.0.1:6379 for everything else
# (bash scripts/services/redis.sh start).
# redis-cassandra: Redis and Cassandra must answer on 127.0.0.1:6379 and :9042
# (bash scripts/services/redis.sh start; bash scripts/services/cassandra.sh start); a
# keyspace and a Redis prefix of their own are created, and the keyspace is dropped at
# the end.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
QP_LOG_TAG="bench"
# shellcheck source=scripts/services/lib.sh
source scripts/services/lib.sh

BACKENDS="${1:?usage: load-tests/bench.sh embedded|embedded-redis|redis-cassandra [STEP...]}"
shift
STEPS=("$@")
((${#STEPS[@]})) || STEPS=(setup connect quiz-max quiz-half quiz-sweep http room-1k room-10k)

BIN="${QUESTPATH_BIN:-${CARGO_TARGET_DIR:-$ROOT/target}/release/questpath}"
LOAD="${QUESTPATH_LOAD_BIN:-${CARGO_TARGET_DIR:-$ROOT/target}/release/questpath-load}"
OUT="${OUT:-$ROOT/load-tests/results}"
PLAYERS="${PLAYERS:-3000}"
CONNECTIONS="${CONNECTIONS:-19000}"
HTTP_RATES="${HTTP_RATES:-2000 5000 10000 20000}"
QUIZ_RATES="${QUIZ_RATES:-2000 4000 6000 8000}"
ROOM_QUESTIONS="${ROOM_QUESTIONS:-10}"
ROOM_MAX_PLAYERS="${ROOM_MAX_PLAYERS:-10000}"
ROOM_JOIN_RATE="${ROOM_JOIN_RATE:-1000}"
EXTRA_SERVER_ENV=()
[[ -z ${WS_OUTBOUND_QUEUE:-} ]] || EXTRA_SERVER_ENV+=("QUESTPATH_WS_OUTBOUND_QUEUE=$WS_OUTBOUND_QUEUE")
# ACCESS_LOG, when set, is the server's QUESTPATH_ACCESS_LOG (all, off or lines a second),
# with the log at info so access lines are written (to the work folder's server.log).
[[ -z ${ACCESS_LOG:-} ]] || EXTRA_SERVER_ENV+=("QUESTPATH_ACCESS_LOG=$ACCESS_LOG" QUESTPATH_LOG=info)
WORK="${BENCH_WORK:-$(mktemp -d -t questpath-bench.XXXXXX)}"
mkdir -p "$WORK"
ACCOUNTS="$WORK/accounts.json"
case $BACKENDS in
  embedded)
    QUIZ_MAX="${QUIZ_MAX:-20000}" QUIZ_HALF="${QUIZ_HALF:-10000}"
    BACKEND_ENV=(QUESTPATH_SCYLLA_NODES= QUESTPATH_REDIS_URL=)
    ;;
  embedded-redis)
    # The embedded store with Redis as cache, limiter, bus and leaderboards (what a room
    # across instances needs); a Redis prefix of the run's own.
    QUIZ_MAX="${QUIZ_MAX:-5000}" QUIZ_HALF="${QUIZ_HALF:-5000}"
    BACKEND_ENV=(QUESTPATH_SCYLLA_NODES= QUESTPATH_REDIS_URL=redis://127.0.0.1:6379
      "QUESTPATH_REDIS_PREFIX=load_$(date +%s)_$RANDOM:")
    ;;
  redis-cassandra)
    QUIZ_MAX="${QUIZ_MAX:-5000}" QUIZ_HALF="${QUIZ_HALF:-5000}"
    KEYSPACE="${BENCH_KEYSPACE:-load_$(date +%s)_$RANDOM}"
    BACKEND_ENV=(QUESTPATH_REDIS_URL=redis://127.0.0.1:6379 "QUESTPATH_REDIS_PREFIX=$KEYSPACE:"
      QUESTPATH_SCYLLA_NODES=127.0.0.1:9042 "QUESTPATH_SCYLLA_KEYSPACE=$KEYSPACE"
      QUESTPATH_SCYLLA_REPLICATION=simple:1)
    ;;
  *)
    qp_err "unknown backends $BACKENDS (embedded, embedded-redis or redis-cassandra)"
    exit 2
    ;;
esac
[[ -x $BIN && -x $LOAD ]] || {
  qp_err "build first: cargo build --release -p questpath -p questpath-load"
  exit 1
}

# BENCH_WORK and BENCH_PORT of an earlier run reuse its data and learners (the accounts
# file is keyed by the server's address).
PORT="${BENCH_PORT:-$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')}"
BASE="http://127.0.0.1:$PORT"
SERVER_PID=""

SERVER_VARS=(QUESTPATH_ENV=development "QUESTPATH_BIND=127.0.0.1:$PORT" "QUESTPATH_DATA_DIR=$WORK/data"
  QUESTPATH_LOG=warn QUESTPATH_LOG_FORMAT=json QUESTPATH_LLM_BASE_URL= QUESTPATH_METRICS_TOKEN=
  QUESTPATH_SHUTDOWN_TIMEOUT_SECS=5
  QUESTPATH_RATE_LIMIT_READS=1000000 QUESTPATH_RATE_LIMIT_WRITES=1000000
  QUESTPATH_RATE_LIMIT_ANONYMOUS=1000000 QUESTPATH_RATE_LIMIT_LOGIN=1000000
  QUESTPATH_RATE_LIMIT_REGISTER=1000000 "QUESTPATH_ROOM_MAX_PLAYERS=$ROOM_MAX_PLAYERS"
  "${BACKEND_ENV[@]}" ${EXTRA_SERVER_ENV[@]+"${EXTRA_SERVER_ENV[@]}"})

start_server() {
  qp_log "starting $BIN on $BASE ($BACKENDS)"
  (
    cd "$WORK"
    # The server needs a descriptor per socket, like the generator.
    ulimit -n "$(ulimit -Hn)"
    exec env "${SERVER_VARS[@]}" "$BIN" serve
  ) >>"$WORK/server.log" 2>&1 &
  SERVER_PID=$!
  for _ in $(seq 1 300); do
    qp_pid_alive "$SERVER_PID" || {
      qp_err "the server exited during start-up; see $WORK/server.log"
      exit 1
    }
    curl -fsS "$BASE/ready" >/dev/null 2>&1 && return 0
    sleep 0.2
  done
  qp_err "the server did not become ready"
  exit 1
}

stop_server() {
  if qp_pid_alive "$SERVER_PID"; then
    kill -TERM "$SERVER_PID" 2>/dev/null
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  SERVER_PID=""
}

# shellcheck disable=SC2317  # invoked by the EXIT trap
cleanup() {
  local rc=$?
  trap - EXIT
  set +e
  stop_server
  if [[ $BACKENDS == redis-cassandra && -n ${KEYSPACE:-} ]]; then
    if qp_cql_exec "DROP KEYSPACE IF EXISTS $KEYSPACE"; then
      qp_log "dropped keyspace $KEYSPACE"
    else
      qp_err "could not drop keyspace $KEYSPACE: drop it by hand"
    fi
  fi
  qp_log "work folder (server log, accounts): $WORK"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

if [[ $BACKENDS == redis-cassandra ]]; then
  qp_log "migrate: keyspace $KEYSPACE"
  (cd "$WORK" && env "${SERVER_VARS[@]}" "$BIN" migrate) >>"$WORK/server.log" 2>&1
fi

load() { # SCENARIO ARGS...
  qp_log "questpath-load $* (load average: $(cut -d' ' -f1-3 /proc/loadavg))"
  local setting settings=()
  for setting in ${EXTRA_SERVER_ENV[@]+"${EXTRA_SERVER_ENV[@]}"} "QUESTPATH_ROOM_MAX_PLAYERS=$ROOM_MAX_PLAYERS"; do
    settings+=(--server-setting "$setting")
  done
  # LOAD_ACCOUNTS and LOAD_OUT: the soak's concurrent loops keep files of their own.
  "$LOAD" "$@" --url "$BASE" --backends "$BACKENDS" --accounts "${LOAD_ACCOUNTS:-$ACCOUNTS}" \
    --out "${LOAD_OUT:-$OUT}" \
    --setup-concurrency 8 --server-pid "$SERVER_PID" ${BENCH_COMMIT:+--commit "$BENCH_COMMIT"} \
    "${settings[@]}" || qp_err "questpath-load $1 exited with $?"
}

# --- soak --------------------------------------------------------------------------------------
SOAK_MINUTES="${SOAK_MINUTES:-30}"
SOAK_SAMPLE="${SOAK_SAMPLE:-60}"
SOAK_PLAYERS="${SOAK_PLAYERS:-1000}"
SOAK_ROOM_PLAYERS="${SOAK_ROOM_PLAYERS:-200}"
# About half of the two cores in all, generator included: a quarter of the measured quiz
# ceiling (RESULTS.md) and REST at a tenth of it, beside the room games.
SOAK_QUIZ_RATE="${SOAK_QUIZ_RATE:-$((QUIZ_HALF / 4))}"
SOAK_HTTP_RATE="${SOAK_HTTP_RATE:-$((QUIZ_HALF / 10))}"
SOAK_SEGMENT=600 # the generator's longest run

# The sum of every series of a metric family in the exposition $METRICS.
metric_sum() { awk -v n="$1" '$1 == n || index($1, n "{") == 1 { s += $2 } END { print s + 0 }' <<<"$METRICS"; }

# One CSV line: the server process and its gauges now.
soak_sample() { # ELAPSED_S PHASE
  local status rss threads fds ticks
  status=$(cat "/proc/$SERVER_PID/status" 2>/dev/null) || return 0
  rss=$(awk '/^VmRSS:/ { print $2 }' <<<"$status")
  threads=$(awk '/^Threads:/ { print $2 }' <<<"$status")
  fds=$(find "/proc/$SERVER_PID/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l)
  # utime + stime: fields 14 and 15 after the command name (in parentheses).
  ticks=$(sed 's/^.*) //' "/proc/$SERVER_PID/stat" | awk '{ print $12 + $13 }')
  METRICS=$(curl -fsS --max-time 5 "$BASE/metrics" 2>/dev/null || true)
  printf '%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s\n' "$1" "$2" "$rss" "$fds" "$threads" \
    "$(awk -v t="$ticks" -v hz="$(getconf CLK_TCK)" 'BEGIN { printf "%.2f", t / hz }')" \
    "$(metric_sum questpath_ws_connections)" "$(metric_sum questpath_sessions)" \
    "$(metric_sum questpath_rooms)" "$(metric_sum questpath_quizzes_finished_total)" \
    "$(metric_sum http_requests_total)"
}

# Runs `load SCENARIO ARGS...` again and again until DEADLINE (epoch seconds), with the loop's
# own accounts and reports; DURATION=1 gives each run the time left, up to SOAK_SEGMENT.
soak_loop() { # NAME DEADLINE DURATION SCENARIO ARGS...
  local name=$1 deadline=$2 timed=$3 left args
  shift 3
  while :; do
    left=$((deadline - $(date +%s)))
    ((left >= 30)) || break
    args=("$@")
    ((timed)) && args+=(--duration "$((left < SOAK_SEGMENT ? left : SOAK_SEGMENT))")
    LOAD_ACCOUNTS="$WORK/accounts-$name.json" LOAD_OUT="$WORK/soak-$name" load "${args[@]}"
  done
}

soak() {
  local stamp csv deadline t0 i pids=()
  stamp=$(date -u +%Y%m%dT%H%M%S)
  csv="$OUT/soak-$BACKENDS-$stamp.csv"
  mkdir -p "$OUT" "$WORK"/soak-{quiz,http,room}
  qp_log "soak: preparing $SOAK_PLAYERS quiz players and 200 REST users"
  LOAD_ACCOUNTS="$WORK/accounts-quiz.json" LOAD_OUT="$WORK/soak-quiz" \
    load quiz --players "$SOAK_PLAYERS" --rate "$((SOAK_PLAYERS * 2))" --warmup 1 --duration 5
  LOAD_ACCOUNTS="$WORK/accounts-http.json" LOAD_OUT="$WORK/soak-http" \
    load http --rate 200 --users 200 --connections 16 --warmup 1 --duration 5
  echo "elapsed_s,phase,rss_kib,fds,threads,cpu_s,ws_connections,session_actors,room_actors,quizzes_finished,http_requests" >"$csv"
  t0=$(date +%s)
  deadline=$((t0 + SOAK_MINUTES * 60))
  qp_log "soak: $SOAK_MINUTES min of quiz at $SOAK_QUIZ_RATE/s, REST at $SOAK_HTTP_RATE/s, rooms of $SOAK_ROOM_PLAYERS; samples in $csv"
  soak_loop quiz "$deadline" 1 quiz --players "$SOAK_PLAYERS" --rate "$SOAK_QUIZ_RATE" --warmup 2 \
    >>"$WORK/soak-quiz.log" 2>&1 &
  pids+=($!)
  soak_loop http "$deadline" 1 http --rate "$SOAK_HTTP_RATE" --users 200 --connections 128 --warmup 2 \
    --routes v1-me,legacy-me,v1-stats,legacy-stats,v1-goals,legacy-goals,v1-leaderboard,legacy-leaderboard,v1-rename \
    >>"$WORK/soak-http.log" 2>&1 &
  pids+=($!)
  soak_loop room "$deadline" 0 room --players "$SOAK_ROOM_PLAYERS" --guests --questions 10 \
    --question-time 5 --answer-delay 3 --reveal 1 --join-rate 200 >>"$WORK/soak-room.log" 2>&1 &
  pids+=($!)
  for ((i = 0; i * SOAK_SAMPLE <= SOAK_MINUTES * 60; i++)); do
    sleep "$((t0 + i * SOAK_SAMPLE - $(date +%s) > 0 ? t0 + i * SOAK_SAMPLE - $(date +%s) : 0))"
    soak_sample "$((i * SOAK_SAMPLE))" load >>"$csv"
  done
  wait "${pids[@]}" || true
  # After the load: what stays once every socket has closed and the grace periods ran out.
  sleep 90
  soak_sample "$(($(date +%s) - t0))" idle >>"$csv"
  python3 load-tests/soak_plot.py "$csv" --reports "$WORK" --backends "$BACKENDS" \
    --note "quiz $SOAK_QUIZ_RATE answers/s by $SOAK_PLAYERS players, REST $SOAK_HTTP_RATE/s, rooms of $SOAK_ROOM_PLAYERS guests"
}

# --- quick: the regression guard ----------------------------------------------------------------
QUICK_PLAYERS="${QUICK_PLAYERS:-800}"
# Below what each backend holds (RESULTS.md set A), so the figures are not a saturated
# machine's: at 10,000 reads/s Redis + Cassandra completed half and its p99 was 14 s.
if [[ $BACKENDS == embedded ]]; then
  QUICK_QUIZ_RATE="${QUICK_QUIZ_RATE:-5000}" QUICK_HTTP_RATE="${QUICK_HTTP_RATE:-10000}"
else
  QUICK_QUIZ_RATE="${QUICK_QUIZ_RATE:-3000}" QUICK_HTTP_RATE="${QUICK_HTTP_RATE:-3000}"
fi

quick() {
  local stamp name report reports=() rc=0
  stamp=$(date -u +%Y%m%dT%H%M%S)
  mkdir -p "$OUT"
  report() { echo "$OUT/quick-$1-$BACKENDS-$stamp.json"; }
  load quiz --players "$QUICK_PLAYERS" --rate "$((QUICK_PLAYERS * 2))" --warmup 1 --duration 3 \
    --json "$WORK/quick-setup.json"
  stop_server
  start_server
  load connect --connections 4000 --users 160 --rate 20000 --concurrency 512 --hold 10 --sources 4 \
    --json "$(report connect)"
  load quiz --players "$QUICK_PLAYERS" --rate "$QUICK_QUIZ_RATE" --warmup 3 --duration 10 \
    --json "$(report quiz)"
  load http --rate "$QUICK_HTTP_RATE" --users 200 --connections 128 --warmup 3 --duration 10 \
    --json "$(report http)"
  stop_server
  start_server
  load room --players 1000 --questions 3 --guests --question-time 5 --answer-delay 3 --reveal 1 \
    --join-rate "$ROOM_JOIN_RATE" --sources 4 --json "$(report room)"
  for name in connect quiz http room; do
    report=$(report "$name")
    if [[ -f $report ]]; then reports+=("$report"); else qp_err "no $name report: that step failed"; rc=1; fi
  done
  python3 load-tests/bench_compare.py --results "$OUT" "${reports[@]}" || rc=$?
  ((rc == 0)) || qp_err "the quick bench found a problem (exit $rc)"
  return "$rc"
}

# --- wrk: reads per route, closed loop -----------------------------------------------------------
wrk_routes() {
  command -v wrk >/dev/null 2>&1 || qp_apt_install wrk || {
    qp_err "wrk is missing and could not be installed"
    return 1
  }
  # A short run signs the learners in (or reuses them) and leaves fresh tokens in the file.
  load http --rate 200 --users 200 --connections 8 --warmup 1 --duration 2 --json "$WORK/wrk-setup.json"
  local tokens="$WORK/wrk-tokens.txt"
  python3 -c 'import json, sys; print("\n".join(l["access_token"] for l in json.load(open(sys.argv[1]))["targets"][sys.argv[2]][:int(sys.argv[3])]))' \
    "$ACCOUNTS" "$BASE" "${WRK_LEARNERS:-16}" >"$tokens" && [[ -s $tokens ]] || {
    qp_err "no learner in $ACCOUNTS for $BASE"
    return 1
  }
  python3 load-tests/wrk_routes.py --url "$BASE" --tokens "$tokens" --server-pid "$SERVER_PID" \
    --threads "${WRK_THREADS:-2}" --connections "${WRK_CONNECTIONS:-64}" --duration "${WRK_SECONDS:-20}" \
    --backends "$BACKENDS" --commit "${BENCH_COMMIT:-$(git rev-parse --short=12 HEAD)}" \
    ${WRK_ROUTES:+--routes "$WRK_ROUTES"} --out "$OUT/wrk-$BACKENDS-$(date -u +%Y%m%dT%H%M%S).json"
}

start_server
for step in "${STEPS[@]}"; do
  case $step in
    setup)
      # Registering and generating goals, measured as a (short) quiz run.
      load quiz --players "$PLAYERS" --rate "$((PLAYERS * 2))" --warmup 1 --duration 5 \
        --json "$WORK/setup.json"
      ;;
    connect)
      stop_server
      start_server
      load connect --connections "$CONNECTIONS" --users "$(((CONNECTIONS + 24) / 25))" \
        --rate 20000 --concurrency 512 --hold 30 --sources 8
      ;;
    quiz-max) load quiz --players "$PLAYERS" --rate "$QUIZ_MAX" --warmup 5 --duration 30 ;;
    quiz-half) load quiz --players "$PLAYERS" --rate "$QUIZ_HALF" --warmup 5 --duration 30 ;;
    quiz-sweep)
      for rate in $QUIZ_RATES; do
        load quiz --players "$PLAYERS" --rate "$rate" --warmup 5 --duration 20
      done
      ;;
    http)
      for rate in $HTTP_RATES; do
        load http --rate "$rate" --users 200 --connections 128 --warmup 5 --duration 20
      done
      ;;
    wrk) wrk_routes ;;
    room-1k | room-1k-accounts | room-10k)
      # A fresh server process for each room: nothing left over from earlier steps.
      # Each process (server, generator) holds one descriptor per socket; both raise
      # their soft limit to the hard limit (20,000 here), enough for 10,001 sockets each.
      stop_server
      start_server
      case $step in
        room-1k) load room --players 1000 --questions "$ROOM_QUESTIONS" --guests \
          --join-rate "$ROOM_JOIN_RATE" --sources 4 ;;
        room-1k-accounts) load room --players 1000 --questions "$ROOM_QUESTIONS" \
          --join-rate "$ROOM_JOIN_RATE" --sources 4 ;;
        room-10k) load room --players 10000 --questions "$ROOM_QUESTIONS" --guests \
          --join-rate "$ROOM_JOIN_RATE" --join-concurrency 512 --sources 8 ;;
      esac
      ;;
    quick) quick ;;
    soak) soak ;;
    *)
      qp_err "unknown step $step"
      exit 2
      ;;
  esac
done
