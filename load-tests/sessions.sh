#!/usr/bin/env bash
# 100,000 authenticated websocket sessions over several instances on this machine.
#
#   load-tests/sessions.sh                 # 6 instances, 100,000 sessions, held 60 s
#   INSTANCES=3 SESSIONS=30000 HOLD=30 load-tests/sessions.sh
#   STORE=cassandra PUSH=1 load-tests/sessions.sh   # one shared store, and the rank push
#
# One process here holds at most ~19,900 descriptors, so the sessions are spread over
# INSTANCES release servers, each with a `questpath-load connect` process of its own.
# Redis on 127.0.0.1:6379 is their cache, limiter, bus, leaderboards and job queue
# (under a prefix of the run's own); the store is the embedded one in each instance
# (STORE=embedded, the default: each generator's learners live on its instance) or one
# keyspace of the run's own on the Cassandra at 127.0.0.1:9042 (STORE=cassandra, the
# deployment's shape; dropped at the end). Every connection does what a client does
# (ticket, upgrade, hello) and sends an application ping every 15 s.
#
# PUSH=1 (needs STORE=cassandra: leagues are one store's): the learners get a goal at
# setup, and once all are open every learner passes its first level (one XP grant
# each), and every connection must receive a `league.standings` (`connect --push`).
#
# Steps: start the instances; make the learners (25 connections per learner, as in
# bench.sh), which hashes their passwords; restart the instances, so no argon2 buffers
# stay in their allocators; then all generators ramp at once and hold. While they hold,
# the open connections of all instances are summed from each instance's
# `questpath_ws_connections` every 2 s: the report's `held_all_seconds` is how long all
# SESSIONS were open at once, and the run fails when that is under HOLD, or when any
# connection failed or was dropped. Each generator's own report gives the failures, the
# connections dropped while held and the instance's memory per connection.
#
# Needs: the release build (cargo build --release -p questpath -p questpath-load) and
# Redis (bash scripts/services/redis.sh start). Writes results/sessions-N-TIME.json and
# the generators' reports beside it. Stops by itself: HOLD is at most 600 s.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
QP_LOG_TAG="sessions"
# shellcheck source=scripts/services/lib.sh
source scripts/services/lib.sh

INSTANCES="${INSTANCES:-6}"
SESSIONS="${SESSIONS:-100000}"
HOLD="${HOLD:-60}"
# Connects per second per generator while they ramp together.
RATE="${RATE:-600}"
PER_LEARNER=25
STORE="${STORE:-embedded}"
PUSH="${PUSH:-0}"
[[ $STORE == embedded || $STORE == cassandra ]] || { qp_err "STORE is embedded or cassandra"; exit 2; }
[[ $PUSH == 0 || $STORE == cassandra ]] || { qp_err "PUSH=1 needs STORE=cassandra (one store for all instances)"; exit 2; }
OUT="${OUT:-$ROOT/load-tests/results}"
BIN="${QUESTPATH_BIN:-${CARGO_TARGET_DIR:-$ROOT/target}/release/questpath}"
LOAD="${QUESTPATH_LOAD_BIN:-${CARGO_TARGET_DIR:-$ROOT/target}/release/questpath-load}"
[[ -x $BIN && -x $LOAD ]] || {
  qp_err "build first: cargo build --release -p questpath -p questpath-load"
  exit 1
}
((HOLD <= 600)) || { qp_err "HOLD is at most 600 s"; exit 2; }
[[ $STORE == embedded ]] || qp_cql_exec "SELECT release_version FROM system.local" || {
  qp_err "Cassandra must answer on 127.0.0.1:9042 (bash scripts/services/cassandra.sh start)"
  exit 1
}
redis-cli -p 6379 ping >/dev/null 2>&1 || {
  qp_err "Redis must answer on 127.0.0.1:6379 (bash scripts/services/redis.sh start)"
  exit 1
}

PER_INSTANCE=$(((SESSIONS + INSTANCES - 1) / INSTANCES))
LEARNERS=$(((PER_INSTANCE + PER_LEARNER - 1) / PER_LEARNER))
((PER_INSTANCE <= 19000)) || { qp_err "$PER_INSTANCE connections per process is over this machine's descriptor limit: more INSTANCES"; exit 2; }
STAMP=$(date -u +%Y%m%dT%H%M%S)
WORK=$(mktemp -d /tmp/questpath-sessions.XXXXXX)
# Lower case: CQL folds unquoted names, and the server looks its keyspace up as given.
KEYSPACE="sessions_$(date +%s)_$RANDOM"
PREFIX="$KEYSPACE:"
if [[ $STORE == cassandra ]]; then
  STORE_ENV=(QUESTPATH_SCYLLA_NODES=127.0.0.1:9042 "QUESTPATH_SCYLLA_KEYSPACE=$KEYSPACE"
    QUESTPATH_SCYLLA_REPLICATION=simple:1)
  BACKENDS=redis-cassandra
else
  STORE_ENV=(QUESTPATH_SCYLLA_NODES=)
  BACKENDS=embedded-redis
fi
PUSH_FLAG=() SETUP_FLAG=()
if ((PUSH)); then PUSH_FLAG=(--push) SETUP_FLAG=(--with-goals); fi
mkdir -p "$OUT"
declare -a PORTS PIDS
for ((i = 0; i < INSTANCES; i++)); do
  PORTS[i]=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
done

start_instance() { # INDEX
  local i=$1
  mkdir -p "$WORK/$i"
  (
    cd "$WORK/$i"
    ulimit -n "$(ulimit -Hn)"
    exec env QUESTPATH_ENV=development "QUESTPATH_BIND=127.0.0.1:${PORTS[i]}" \
      "QUESTPATH_DATA_DIR=$WORK/$i/data" QUESTPATH_LOG=warn QUESTPATH_LOG_FORMAT=json \
      QUESTPATH_LLM_BASE_URL= QUESTPATH_METRICS_TOKEN= QUESTPATH_SHUTDOWN_TIMEOUT_SECS=5 \
      "${STORE_ENV[@]}" QUESTPATH_REDIS_URL=redis://127.0.0.1:6379 "QUESTPATH_REDIS_PREFIX=$PREFIX" \
      QUESTPATH_RATE_LIMIT_READS=1000000 QUESTPATH_RATE_LIMIT_WRITES=1000000 \
      QUESTPATH_RATE_LIMIT_ANONYMOUS=1000000 QUESTPATH_RATE_LIMIT_LOGIN=1000000 \
      QUESTPATH_RATE_LIMIT_REGISTER=1000000 \
      "$BIN" serve
  ) >>"$WORK/$i/server.log" 2>&1 &
  PIDS[i]=$!
}

wait_ready() { # INDEX
  qp_wait_serving "${PIDS[$1]}" "http://127.0.0.1:${PORTS[$1]}/ready" "instance $1 (log: $WORK/$1/server.log)" || exit 1
}

stop_all() {
  local i
  for ((i = 0; i < INSTANCES; i++)); do
    [[ -n ${PIDS[i]:-} ]] && kill -TERM "${PIDS[i]}" 2>/dev/null || true
  done
  for ((i = 0; i < INSTANCES; i++)); do
    [[ -n ${PIDS[i]:-} ]] && wait "${PIDS[i]}" 2>/dev/null || true
    PIDS[i]=""
  done
}

cleanup() {
  stop_all
  [[ $STORE == embedded ]] || qp_cql_exec "DROP KEYSPACE IF EXISTS $KEYSPACE" ||
    qp_err "could not drop keyspace $KEYSPACE: drop it by hand"
  redis-cli -p 6379 --scan --pattern "${PREFIX}*" | xargs -r -n 500 redis-cli -p 6379 del >/dev/null 2>&1 || true
}
trap cleanup EXIT

start_all() {
  local i
  for ((i = 0; i < INSTANCES; i++)); do start_instance "$i"; done
  for ((i = 0; i < INSTANCES; i++)); do wait_ready "$i"; done
}

connect() { # INDEX CONNECTIONS HOLD JSON [FLAG...]
  local i=$1 n=$2 hold=$3 json=$4
  shift 4
  ulimit -n "$(ulimit -Hn)"
  "$LOAD" connect --connections "$n" --users "$LEARNERS" --rate "$RATE" --concurrency 128 \
    --hold "$hold" --sources 8 --url "http://127.0.0.1:${PORTS[i]}" --backends "$BACKENDS" \
    --accounts "$WORK/accounts-$i.json" --out "$WORK" --setup-concurrency 4 \
    --server-pid "${PIDS[i]}" --json "$json" "$@"
}

qp_log "$INSTANCES instances ($STORE store), $PER_INSTANCE connections each ($LEARNERS learners each), held $HOLD s; work folder $WORK"
if [[ $STORE == cassandra ]]; then
  qp_log "migrate: keyspace $KEYSPACE"
  (cd "$WORK" && env QUESTPATH_ENV=development "QUESTPATH_DATA_DIR=$WORK/migrate" "${STORE_ENV[@]}" \
    QUESTPATH_REDIS_URL=redis://127.0.0.1:6379 "QUESTPATH_REDIS_PREFIX=$PREFIX" "$BIN" migrate) >>"$WORK/migrate.log" 2>&1
fi
start_all
qp_log "making $((LEARNERS * INSTANCES)) learners"
SETUP_PIDS=()
for ((i = 0; i < INSTANCES; i++)); do
  connect "$i" "$LEARNERS" 1 "$WORK/setup-$i.json" "${SETUP_FLAG[@]}" >"$WORK/setup-$i.log" 2>&1 &
  SETUP_PIDS+=($!)
done
for pid in "${SETUP_PIDS[@]}"; do wait "$pid" || { qp_err "making learners failed; see $WORK/setup-*.log"; exit 1; }; done
stop_all
start_all

# Each generator holds from the end of its own ramp, and the ramps sharing two cores end
# apart: each holds longer by its ramp's scheduled length plus 10 s, so that all
# connections are open together for HOLD seconds.
GEN_HOLD=$((HOLD + PER_INSTANCE / RATE + 10))
qp_log "ramping all generators at once ($RATE connects/s each), each holding $GEN_HOLD s"
GEN_PIDS=()
for ((i = 0; i < INSTANCES; i++)); do
  connect "$i" "$PER_INSTANCE" "$GEN_HOLD" "$WORK/connect-$i.json" "${PUSH_FLAG[@]}" >"$WORK/connect-$i.log" 2>&1 &
  GEN_PIDS+=($!)
done

# Sum the instances' open connections until every generator is done.
: >"$WORK/timeline.tsv"
while :; do
  alive=0
  for pid in "${GEN_PIDS[@]}"; do qp_pid_alive "$pid" && alive=1; done
  ((alive)) || break
  total=0
  for ((i = 0; i < INSTANCES; i++)); do
    n=$(curl -fsS "http://127.0.0.1:${PORTS[i]}/metrics" 2>/dev/null | awk '$1 == "questpath_ws_connections" {print int($2)}')
    total=$((total + ${n:-0}))
  done
  printf '%s\t%s\n' "$(date +%s.%N)" "$total" >>"$WORK/timeline.tsv"
  sleep 2
done
rc=0
for pid in "${GEN_PIDS[@]}"; do wait "$pid" || rc=1; done
((rc == 0)) || qp_err "a generator failed; see $WORK/connect-*.log"

REPORT="$OUT/sessions-$SESSIONS-$STAMP.json"
if python3 - "$WORK" "$INSTANCES" "$SESSIONS" "$HOLD" "$REPORT" "$(git rev-parse --short=12 HEAD)" <<'EOF'
import json, sys, shutil, os
work, instances, sessions, hold, report, commit = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5], sys.argv[6]
gens = []
for i in range(instances):
    with open(f"{work}/connect-{i}.json") as f:
        gens.append(json.load(f))
timeline = [tuple(map(float, line.split())) for line in open(f"{work}/timeline.tsv") if line.strip()]
full = [t for t, n in timeline if n >= sessions]
held_all = (full[-1] - full[0]) if full else 0.0
per = []
for i, g in enumerate(gens):
    f = g["figures"]
    per.append({
        "instance": i,
        "connected": f["connected"],
        "failed": f["failed"],
        "dropped_while_held": f["dropped_while_held"],
        "open_after_hold": f["open_after_hold"],
        "pongs": f["pongs"],
        "ramp_seconds": round(f["ramp_seconds"], 2),
        "server_rss_before": f["server_before"]["rss_bytes"],
        "server_rss_at_n": f["server_at_n"]["rss_bytes"],
        "server_bytes_per_connection": round(f["server_rss_bytes_per_connection"]),
        "generator_bytes_per_connection": round(f["generator_rss_bytes_per_connection"]),
        "push": f.get("push"),
    })
connected = sum(p["connected"] for p in per)
growth = sum(p["server_rss_at_n"] - p["server_rss_before"] for p in per)
summary = {
    "scenario": "sessions",
    "commit": commit,
    "instances": instances,
    "sessions": sessions,
    "hold_seconds": hold,
    "connected": connected,
    "failed": sum(p["failed"] for p in per),
    "dropped_while_held": sum(p["dropped_while_held"] for p in per),
    "open_after_hold": sum(p["open_after_hold"] for p in per),
    "held_all_seconds": round(held_all, 1),
    "peak_open": max((n for _, n in timeline), default=0),
    "server_rss_total_at_n": sum(p["server_rss_at_n"] for p in per),
    "server_bytes_per_connection": round(growth / connected) if connected else None,
    "push": None if per[0]["push"] is None else {
        "granted": sum(p["push"]["granted"] for p in per),
        "grant_failures": sum(p["push"]["grant_failures"] for p in per),
        "connections": sum(p["push"]["connections"] for p in per),
        "pushed": sum(p["push"]["pushed"] for p in per),
        # None when some generator's connections did not all hear it.
        "all_pushed_seconds_max": None
        if any(p["push"]["all_pushed_seconds"] is None for p in per)
        else max(p["push"]["all_pushed_seconds"] for p in per),
    },
    "per_instance": per,
    "timeline": [[round(t - timeline[0][0], 1), int(n)] for t, n in timeline],
}
with open(report, "w") as f:
    json.dump(summary, f, indent=2)
for i in range(instances):
    shutil.copy(f"{work}/connect-{i}.json", report.replace(".json", f"-instance{i}.json"))
print(f"report: {report}")
ok = summary["held_all_seconds"] >= hold and summary["failed"] == 0 and summary["dropped_while_held"] == 0
push = summary["push"]
if push is not None:
    print(f"rank push: {push['granted']} learners granted ({push['grant_failures']} failed); "
          f"{push['pushed']} of {push['connections']} connections got a league.standings, "
          f"the last within {push['all_pushed_seconds_max']} s of its generator's first grant")
    ok = ok and push["grant_failures"] == 0 and push["pushed"] == push["connections"]
print(f"all {sessions} open at once for {held_all:.0f} s (peak {summary['peak_open']}); "
      f"failed {summary['failed']}, dropped while held {summary['dropped_while_held']}; "
      f"server memory {summary['server_bytes_per_connection']} bytes per connection, "
      f"{summary['server_rss_total_at_n'] / 2**20:.0f} MiB in all")
if not ok:
    print(f"NOT met: all {sessions} open together for {hold} s, none failed or dropped")
sys.exit(0 if ok else 1)
EOF
then :; else rc=1; fi
for ((i = 0; i < INSTANCES; i++)); do
  grep -E "connections:|server memory|generator memory" "$WORK/connect-$i.log" | sed "s/^/[instance $i] /"
done
exit "$rc"
