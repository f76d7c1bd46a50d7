#!/usr/bin/env bash
# The chaos run (issue 16, point 5; not in CI): mixed load through nginx on three release
# instances over a three-master Redis Cluster and a three-node Cassandra ring (replication
# 3), with faults in turn while it runs, then the checks.
#
#   load-tests/chaos.sh
#
# 1. Starts (or reuses) the Redis Cluster on CHAOS_REDIS_PORTS (7100 7101 7102: not the
#    test cluster on 7000-7002, since the run flushes every master) and the Cassandra ring
#    (scripts/services/cassandra-cluster.sh, 127.0.1.1-3), migrates a keyspace of its own
#    with QUESTPATH_SCYLLA_REPLICATION=3, starts three release instances on CHAOS_PORTS
#    (18181 18182 18183) behind Debian's nginx on CHAOS_NGINX_PORT (18180) with
#    deploy/nginx/questpath.conf (only the listen address and the upstream ports replaced).
# 2. Runs `questpath-load mixed` through nginx for CHAOS_DURATION seconds (300); the
#    generator prepares its learners first and writes the moment the load starts.
# 3. Meanwhile, timed from that moment (fractions of the duration), one fault at a time,
#    each written with its start and end (Unix ms) to faults.json:
#      10 %  kill -9 instance 2, restart it CHAOS_KILL_DOWN (10) s later
#      30 %  restart a Redis master (SHUTDOWN NOSAVE, started again on its nodes.conf)
#      45 %  FLUSHALL on every master
#      60 %  stop Cassandra node 3 for CHAOS_CASSANDRA_DOWN (60) s, then start it again
#            (its SIGTERM drain and its start take 15-40 s more on a busy machine)
# 4. After the load and the generator's final check: `questpath audit xp` must exit 0, and
#    load-tests/chaos_report.py checks the generator's report (no quiz or room stuck, no
#    XP lost or unannounced, every failure inside a fault window plus CHAOS_GRACE (15) s)
#    and prints per fault the time until service was whole again, requests failed and
#    sessions moved.
#
# Load: RATE (0.04) of the single-instance capacity measured for Redis + Cassandra in
# RESULTS.md, set A: quiz 5,000 answers/s and REST 4,490 reads/s, so 200 answers/s (240
# messages/s over CHAOS_QUIZZERS, 500, players) and 180 REST requests/s, 10 % of them
# writes; plus CHAOS_ROOMS (4) rooms of CHAOS_ROOM_PLAYERS (10) players playing games back
# to back. This deployment (three instances, three JVMs at replication 3, Redis, nginx and
# the generator on two cores) was saturated at 0.08 (RESULTS.md, "Chaos"), so 0.04 is half
# of its capacity, as issue 16 asks. CHAOS_QUIZ_RATE (answers/s) and CHAOS_HTTP_RATE
# override the two rates.
#
# The capacity run (CHAOS_FAULTS=none, for docs/capacity.md): the same deployment and
# load without faults, measured by load-tests/backend_stats.py. Between 20 % and 90 % of
# the load it records the CPU of every instance, nginx, the generator, each Redis master
# and each Cassandra node, Redis's own time per command (INFO commandstats) and the CQL
# replica operations (system_views). After the load it probes what the mix cannot
# separate (backend_stats.py probe): with CHAOS_PROBE_LEARNERS (300) new learners, the REST
# mix's reads and write, session refreshes, and one level pass each (with its XP grant),
# each step measured the same way. All of it goes
# to results/mixed-capacity-<stamp>-backends.json. The CQL counters need the Python
# driver, installed once from PyPI into .services/cql-venv.
#
# Exit status: 0 every check passed, 1 a check failed, 2 the run could not be set up.
# Everything this script starts is stopped on exit (a trap), services it reused are left
# running; the work folder (logs, reports, faults.json) is printed at the end.
# shellcheck disable=SC2329  # cleanup runs from a trap, fault_* by name
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
QP_LOG_TAG=chaos
# shellcheck source=scripts/services/lib.sh
source scripts/services/lib.sh

BIN="${QUESTPATH_BIN:-${CARGO_TARGET_DIR:-$ROOT/target}/release/questpath}"
LOAD="${QUESTPATH_LOAD_BIN:-${CARGO_TARGET_DIR:-$ROOT/target}/release/questpath-load}"
OUT="${OUT:-$ROOT/load-tests/results}"
DURATION="${CHAOS_DURATION:-300}"
RATE="${RATE:-0.04}"
QUIZ_ANSWERS="${CHAOS_QUIZ_RATE:-$(python3 -c "print(round(5000 * $RATE))")}"
HTTP_RATE="${CHAOS_HTTP_RATE:-$(python3 -c "print(round(4490 * $RATE))")}"
QUIZZERS="${CHAOS_QUIZZERS:-500}"
ROOMS="${CHAOS_ROOMS:-4}"
ROOM_PLAYERS="${CHAOS_ROOM_PLAYERS:-10}"
GRACE="${CHAOS_GRACE:-15}"
KILL_DOWN="${CHAOS_KILL_DOWN:-10}"
CASSANDRA_DOWN="${CHAOS_CASSANDRA_DOWN:-60}"
FINAL_WAIT="${CHAOS_FINAL_WAIT:-90}"
read -r -a PORTS <<<"${CHAOS_PORTS:-18181 18182 18183}"
NGINX_PORT="${CHAOS_NGINX_PORT:-18180}"
read -r -a REDIS_PORTS <<<"${CHAOS_REDIS_PORTS:-7100 7101 7102}"
# The faults can be narrowed for a trial (CHAOS_FAULTS="kill flush"). CHAOS_FAULTS=none
# runs none and measures instead (the capacity run, below).
read -r -a FAULTS <<<"${CHAOS_FAULTS:-kill redis-restart flush cassandra-stop}"
MEASURE=0
if [[ ${FAULTS[*]} == none ]]; then FAULTS=() MEASURE=1; fi
PROBE_LEARNERS="${CHAOS_PROBE_LEARNERS:-300}"
CQL_DRIVER_VERSION=3.30.1
STAMP="$(date -u +%Y%m%dT%H%M%S)"
KEYSPACE="chaos_${STAMP,,}"
PREFIX="chaos_${STAMP}:"
WORK="${CHAOS_WORK:-$(mktemp -d -t questpath-chaos.XXXXXX)}"
mkdir -p "$WORK"
# nginx's workers run as nobody when this runs as root: they must reach their folders.
chmod 755 "$WORK"

# Messages a second: a quiz of five answers takes six (the start).
QUIZ_MESSAGES=$(python3 -c "print(round($QUIZ_ANSWERS * 6 / 5))")

[[ -x $BIN && -x $LOAD ]] || {
  qp_err "build first: cargo build --release -p questpath -p questpath-load (or set QUESTPATH_BIN, QUESTPATH_LOAD_BIN)"
  exit 2
}
"$BIN" audit --help >/dev/null 2>&1 || {
  qp_err "$BIN has no \`audit xp\` command (issue 16, point 4): build a commit that has it"
  exit 2
}

REDIS_ENV=(QUESTPATH_TEST_REDIS_CLUSTER_PORTS="${REDIS_PORTS[*]}")
OWN_REDIS=0 OWN_CASSANDRA=0
INSTANCE_PIDS=() NGINX_PID="" LOAD_PID=""
FAULTS_FILE="$WORK/faults.json"
REPORT="$OUT/mixed-chaos-$STAMP.json"
((MEASURE)) && REPORT="$OUT/mixed-capacity-$STAMP.json"
READY_FILE="$WORK/load-started"

instance_env() { # INDEX
  local i=$1
  echo QUESTPATH_ENV=development "QUESTPATH_BIND=127.0.0.1:${PORTS[$i]}" \
    "QUESTPATH_DATA_DIR=$WORK/instance-$i" QUESTPATH_LOG=warn QUESTPATH_LOG_FORMAT=json \
    QUESTPATH_LLM_BASE_URL= QUESTPATH_METRICS_TOKEN= QUESTPATH_SHUTDOWN_TIMEOUT_SECS=5 \
    QUESTPATH_RATE_LIMIT_READS=1000000 QUESTPATH_RATE_LIMIT_WRITES=1000000 \
    QUESTPATH_RATE_LIMIT_ANONYMOUS=1000000 QUESTPATH_RATE_LIMIT_LOGIN=1000000 \
    QUESTPATH_RATE_LIMIT_REGISTER=1000000 QUESTPATH_TRUSTED_PROXIES=127.0.0.1 \
    QUESTPATH_ACCESS_TOKEN_TTL_SECS=7200
}
# Shared by every instance, migrate and the audit (a file: the URL holds '&').
SHARED_ENV="$WORK/shared.env"

start_instance() { # INDEX
  local i=$1 pid
  mkdir -p "$WORK/instance-$i"
  (
    cd "$WORK/instance-$i"
    ulimit -n "$(ulimit -Hn)"
    set -a
    # shellcheck source=/dev/null
    source "$SHARED_ENV"
    set +a
    # shellcheck disable=SC2046  # one word per variable
    exec env $(instance_env "$i") "$BIN" serve
  ) >>"$WORK/instance-$i.log" 2>&1 &
  pid=$!
  INSTANCE_PIDS[i]=$pid
  for _ in $(seq 1 300); do
    qp_pid_alive "$pid" || { qp_err "instance $i exited during start-up; see $WORK/instance-$i.log"; return 1; }
    curl -fsS "http://127.0.0.1:${PORTS[$i]}/ready" >/dev/null 2>&1 && return 0
    sleep 0.2
  done
  qp_err "instance $i did not become ready"
  return 1
}

with_shared_env() { # COMMAND...
  (
    set -a
    # shellcheck source=/dev/null
    source "$SHARED_ENV"
    set +a
    cd "$WORK"
    exec env QUESTPATH_ENV=development "QUESTPATH_DATA_DIR=$WORK/cli" QUESTPATH_LOG=warn "$@"
  )
}

stop_pid() { # PID [SIGNAL]
  local pid=$1 sig=${2:-TERM}
  qp_pid_alive "$pid" || return 0
  kill "-$sig" "$pid" 2>/dev/null || true
  for _ in $(seq 1 100); do qp_pid_alive "$pid" || return 0; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null || true
}

# shellcheck disable=SC2317  # invoked by the EXIT trap
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  set +e
  [[ -n $LOAD_PID ]] && stop_pid "$LOAD_PID" INT
  [[ -n $NGINX_PID ]] && stop_pid "$NGINX_PID"
  local pid
  for pid in "${INSTANCE_PIDS[@]}"; do stop_pid "$pid"; done
  if ((OWN_CASSANDRA)); then
    bash scripts/services/cassandra-cluster.sh stop
  elif qp_cql_exec "DROP KEYSPACE IF EXISTS $KEYSPACE" 127.0.1.1; then
    qp_log "dropped keyspace $KEYSPACE"
  fi
  ((OWN_REDIS)) && env "${REDIS_ENV[@]}" bash scripts/services/redis-cluster.sh stop
  qp_log "work folder (instance and nginx logs, faults.json, audit output): $WORK"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- services -------------------------------------------------------------------------
env "${REDIS_ENV[@]}" bash scripts/services/redis-cluster.sh status >/dev/null 2>&1 || OWN_REDIS=1
env "${REDIS_ENV[@]}" bash scripts/services/redis-cluster.sh start || exit 2
REDIS_URL=$(env "${REDIS_ENV[@]}" bash scripts/services/redis-cluster.sh url)
bash scripts/services/cassandra-cluster.sh status >/dev/null 2>&1 || OWN_CASSANDRA=1
bash scripts/services/cassandra-cluster.sh start || exit 2
NODES=$(bash scripts/services/cassandra-cluster.sh nodes)
cat >"$SHARED_ENV" <<ENV
QUESTPATH_REDIS_URL='$REDIS_URL'
QUESTPATH_REDIS_PREFIX='$PREFIX'
QUESTPATH_SCYLLA_NODES='$NODES'
QUESTPATH_SCYLLA_KEYSPACE='$KEYSPACE'
QUESTPATH_SCYLLA_REPLICATION=3
QUESTPATH_JWT_SECRET='chaos-run-signing-key-$STAMP-0123456789'
ENV
qp_log "migrate: keyspace $KEYSPACE, replication 3, on $NODES"
with_shared_env "$BIN" migrate >>"$WORK/migrate.log" 2>&1 || { qp_err "migrate failed: $WORK/migrate.log"; exit 2; }

for i in "${!PORTS[@]}"; do start_instance "$i" || exit 2; done
qp_log "instances ready on ports ${PORTS[*]} (pids ${INSTANCE_PIDS[*]})"

NGINX_BIN=$(bash scripts/services/nginx.sh path) || exit 2
mkdir -p "$WORK/nginx"
python3 - "$ROOT/deploy/nginx/questpath.conf" "$NGINX_PORT" "${PORTS[@]}" >"$WORK/nginx/questpath.conf" <<'PY'
import re, sys
# Only the listen address and the upstream ports change (as tests/ws/behind_nginx.rs).
text, listen, ports = open(sys.argv[1]).read(), sys.argv[2], sys.argv[3:]
lines, listens, servers = [], 0, 0
for line in text.splitlines():
    stripped = line.strip()
    indent = line[: len(line) - len(line.lstrip())]
    if stripped == "listen 80;":
        listens += 1
        line = f"{indent}listen 127.0.0.1:{listen};"
    elif stripped.startswith("server 127.0.0.1:"):
        rest = re.sub(r"^server 127\.0\.0\.1:\d+", "", stripped)
        line = f"{indent}server 127.0.0.1:{ports[servers]}{rest}"
        servers += 1
    lines.append(line)
if listens != 1 or servers != len(ports):
    sys.exit(f"deploy config: expected one `listen 80;` and {len(ports)} upstream servers")
print("\n".join(lines))
PY
cat >"$WORK/nginx/nginx.conf" <<CONF
daemon off;
worker_processes 2;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/error.log warn;
events { worker_connections 8192; }
worker_rlimit_nofile 20000;
http {
    access_log off;
    client_body_temp_path $WORK/nginx/client_body;
    proxy_temp_path $WORK/nginx/proxy;
    fastcgi_temp_path $WORK/nginx/fastcgi;
    uwsgi_temp_path $WORK/nginx/uwsgi;
    scgi_temp_path $WORK/nginx/scgi;
    include $WORK/nginx/questpath.conf;
}
CONF
"$NGINX_BIN" -p "$WORK/nginx" -c "$WORK/nginx/nginx.conf" -e "$WORK/nginx/error.log" \
  </dev/null >"$WORK/nginx/stderr.log" 2>&1 &
NGINX_PID=$!
for _ in $(seq 1 100); do curl -fsS "http://127.0.0.1:$NGINX_PORT/health" >/dev/null 2>&1 && break; sleep 0.1; done
curl -fsS "http://127.0.0.1:$NGINX_PORT/health" >/dev/null || { qp_err "nginx does not answer: $WORK/nginx/error.log"; exit 2; }
qp_log "nginx on 127.0.0.1:$NGINX_PORT in front of ${PORTS[*]}"

# --- load -----------------------------------------------------------------------------
mkdir -p "$OUT"
qp_log "mixed load: $DURATION s, $QUIZZERS quizzers at $QUIZ_ANSWERS answers/s, $ROOMS rooms of $ROOM_PLAYERS, $HTTP_RATE REST requests/s"
"$LOAD" mixed --url "http://127.0.0.1:$NGINX_PORT" --backends chaos-3-instances-redis-cluster-cassandra-ring \
  --duration "$DURATION" --final-wait "$FINAL_WAIT" \
  --quizzers "$QUIZZERS" --quiz-rate "$QUIZ_MESSAGES" --rooms "$ROOMS" --room-players "$ROOM_PLAYERS" \
  --http-rate "$HTTP_RATE" --http-connections 64 --sources 8 --setup-concurrency 8 \
  --max-error-rate 1 --max-runtime $((DURATION + FINAL_WAIT + 1800)) \
  --accounts "$WORK/accounts.json" --json "$REPORT" --ready-file "$READY_FILE" \
  --server-setting QUESTPATH_SCYLLA_REPLICATION=3 --server-setting QUESTPATH_ACCESS_TOKEN_TTL_SECS=7200 \
  >"$WORK/load.log" 2>&1 &
LOAD_PID=$!

for _ in $(seq 1 1800); do
  [[ -s $READY_FILE ]] && break
  qp_pid_alive "$LOAD_PID" || { qp_err "the generator exited before the load started: $WORK/load.log"; tail -n 30 "$WORK/load.log" >&2; exit 2; }
  sleep 1
done
[[ -s $READY_FILE ]] || { qp_err "the learners were not ready within 30 minutes"; exit 2; }
LOAD_START_MS=$(cat "$READY_FILE")
qp_log "load started at $LOAD_START_MS (Unix ms)"

# --- faults ---------------------------------------------------------------------------
now_ms() { qp_now_ms; }
FAULT_ROWS=()
record() { # NAME START_MS END_MS DETAIL
  FAULT_ROWS+=("{\"name\": \"$1\", \"started_unix_ms\": $2, \"ended_unix_ms\": $3, \"detail\": \"$4\"}")
  printf '[%s]\n' "$(IFS=,; echo "${FAULT_ROWS[*]}")" >"$FAULTS_FILE"
}
# Sleeps until FRACTION of the load has passed (false when the generator is gone).
at_fraction() {
  local due=$((LOAD_START_MS + $(python3 -c "print(round($1 * $DURATION * 1000))")))
  while (($(now_ms) < due)); do
    qp_pid_alive "$LOAD_PID" || return 1
    sleep 0.2
  done
}
fault_kill() {
  local t0 t1 pid=${INSTANCE_PIDS[1]}
  qp_log "fault: kill -9 instance 1 (port ${PORTS[1]}, pid $pid)"
  t0=$(now_ms)
  kill -KILL "$pid" 2>/dev/null || true
  sleep "$KILL_DOWN"
  start_instance 1 || qp_err "instance 1 did not come back"
  t1=$(now_ms)
  record kill-instance "$t0" "$t1" "SIGKILL to 127.0.0.1:${PORTS[1]}, restarted after ${KILL_DOWN} s, ready again"
}

fault_redis_restart() {
  local t0 t1 port=${REDIS_PORTS[1]}
  qp_log "fault: restart the Redis master on $port"
  t0=$(now_ms)
  env "${REDIS_ENV[@]}" bash scripts/services/redis-cluster.sh restart-node "$port" \
    >>"$WORK/redis-fault.log" 2>&1 || qp_err "the Redis node on $port did not come back: $WORK/redis-fault.log"
  t1=$(now_ms)
  record redis-master-restart "$t0" "$t1" "SHUTDOWN NOSAVE of 127.0.0.1:$port, started again; cluster_state ok"
}

fault_flush() {
  local t0 t1 port
  qp_log "fault: FLUSHALL on every Redis master"
  t0=$(now_ms)
  for port in "${REDIS_PORTS[@]}"; do timeout 10 redis-cli -p "$port" flushall >/dev/null || qp_err "FLUSHALL on $port failed"; done
  t1=$(now_ms)
  record redis-flushall "$t0" "$t1" "FLUSHALL on ${REDIS_PORTS[*]}"
}

fault_cassandra_stop() {
  local t0 t1
  qp_log "fault: stop Cassandra node 3 for ${CASSANDRA_DOWN} s"
  t0=$(now_ms)
  bash scripts/services/cassandra-cluster.sh stop-node 3 >>"$WORK/cassandra-fault.log" 2>&1
  sleep "$CASSANDRA_DOWN"
  bash scripts/services/cassandra-cluster.sh start-node 3 >>"$WORK/cassandra-fault.log" 2>&1 ||
    qp_err "Cassandra node 3 did not come back: $WORK/cassandra-fault.log"
  t1=$(now_ms)
  record cassandra-node-stop "$t0" "$t1" "node 3 (127.0.1.3) stopped, started again after ${CASSANDRA_DOWN} s, answering CQL, the ring agreeing on the schema"
}

declare -A FAULT_AT=([kill]=0.10 [redis-restart]=0.30 [flush]=0.45 [cassandra-stop]=0.60)
echo '[]' >"$FAULTS_FILE"
for fault in "${FAULTS[@]}"; do
  [[ -n ${FAULT_AT[$fault]:-} ]] || { qp_err "unknown fault $fault"; continue; }
  at_fraction "${FAULT_AT[$fault]}" || { qp_err "the generator stopped early"; break; }
  "fault_${fault//-/_}"
done

# --- measurements (capacity run) --------------------------------------------------------
STATS_PY=python3
STATS_ARGS=()
stats() { # MODE [ARGS...]: backend_stats.py on this run's processes and nodes
  local i n pid
  STATS_ARGS=(--keyspace "$KEYSPACE")
  for i in "${!INSTANCE_PIDS[@]}"; do STATS_ARGS+=(--pid "server-$i=${INSTANCE_PIDS[$i]}"); done
  STATS_ARGS+=(--pid "nginx-0=$NGINX_PID")
  for pid in $(pgrep -P "$NGINX_PID"); do STATS_ARGS+=(--pid "nginx-$pid=$pid"); done
  [[ -n $LOAD_PID ]] && STATS_ARGS+=(--pid "generator=$LOAD_PID")
  for n in 1 2 3; do
    pid=$(cat "$QP_SERVICES_DIR/cassandra-127.0.1.$n/cassandra.pid" 2>/dev/null) || continue
    STATS_ARGS+=(--pid "cassandra-$n=$pid" --cql "127.0.1.$n")
  done
  for n in "${REDIS_PORTS[@]}"; do STATS_ARGS+=(--redis "127.0.0.1:$n"); done
  "$STATS_PY" load-tests/backend_stats.py "$1" "${STATS_ARGS[@]}" "${@:2}"
}
if ((MEASURE)); then
  VENV="$QP_SERVICES_DIR/cql-venv"
  if ! "$VENV/bin/python" -c "import cassandra" 2>/dev/null; then
    qp_log "installing cassandra-driver $CQL_DRIVER_VERSION (PyPI) into $VENV"
    if ! python3 -m venv "$VENV" ||
      ! "$VENV/bin/pip" install --quiet --disable-pip-version-check "cassandra-driver==$CQL_DRIVER_VERSION"; then
      qp_err "cannot install the CQL driver for the measurements"
      exit 2
    fi
  fi
  STATS_PY="$VENV/bin/python"
  at_fraction 0.2 || { qp_err "the generator stopped early"; exit 1; }
  stats snapshot >"$WORK/stats-start.json"
  at_fraction 0.9 || { qp_err "the generator stopped early"; exit 1; }
  stats snapshot >"$WORK/stats-end.json"
  qp_log "backend counters recorded between 20 % and 90 % of the load"
fi

qp_log "faults done; waiting for the load and the final check"
LOAD_RC=0
wait "$LOAD_PID" || LOAD_RC=$?
LOAD_PID=""
tail -n 40 "$WORK/load.log"
[[ $LOAD_RC -eq 0 ]] || qp_err "questpath-load exited with $LOAD_RC (see $WORK/load.log)"

if ((MEASURE)); then
  qp_log "probe: $PROBE_LEARNERS new learners read, write, refresh and pass a level, each step measured"
  stats probe --url "http://127.0.0.1:$NGINX_PORT" --learners "$PROBE_LEARNERS" \
    >"$WORK/probe.json" 2>"$WORK/probe.log" || { qp_err "the probe failed: $WORK/probe.log"; exit 1; }
  python3 load-tests/capacity_report.py --report "$REPORT" --start "$WORK/stats-start.json" \
    --end "$WORK/stats-end.json" --probe "$WORK/probe.json" --duration "$DURATION" \
    >"${REPORT%.json}-backends.json" || { qp_err "capacity_report.py failed"; exit 1; }
  qp_log "backends: ${REPORT%.json}-backends.json"
fi

# --- checks ---------------------------------------------------------------------------
AUDIT_RC=0
with_shared_env "$BIN" audit xp >"$WORK/audit.txt" 2>&1 || AUDIT_RC=$?
qp_log "questpath audit xp: exit $AUDIT_RC ($(wc -l <"$WORK/audit.txt") lines: $WORK/audit.txt)"
head -n 20 "$WORK/audit.txt"
cp "$FAULTS_FILE" "${REPORT%.json}-faults.json"
CHECK_RC=0
python3 load-tests/chaos_report.py --report "$REPORT" --faults "$FAULTS_FILE" --grace "$GRACE" \
  --audit-exit "$AUDIT_RC" --load-exit "$LOAD_RC" --markdown "${REPORT%.json}.md" || CHECK_RC=$?
qp_log "report: $REPORT, summary: ${REPORT%.json}.md"
exit $((CHECK_RC == 0 ? 0 : 1))
