#!/usr/bin/env bash
# Observability check: the alert rules, the server's /metrics, and every Grafana panel
# query, against a real Prometheus (Debian's `prometheus` package: prometheus + promtool).
#
#   scripts/checks.d/observability.sh        (scripts/test runs it after the test suite)
#
# 1. installs Debian's prometheus if promtool is missing (its service is not started);
# 2. dashboards: grafana/dashboards/*.json are what grafana/build_dashboards.py writes;
# 3. promtool check rules and promtool test rules on grafana/alerts/;
# 4. builds and starts target/debug/questpath on a free loopback port (embedded store,
#    shared state on the test Redis under a throw-away key prefix, JSON logs);
# 5. starts `questpath worker` with its metrics listener on another free loopback port
#    (in-process backends and its own data folder: it cannot share the server's embedded
#    store, and must not take the server's jobs); promtool check metrics on both /metrics;
# 6. starts Prometheus on another free loopback port, scraping both every second (one job,
#    `questpath`, as grafana/README.md says to) and loading the alert rules, and waits
#    for the first scrape of each;
# 7. runs scripts/observability/load.py (a bounded load: accounts, goals, a websocket quiz
#    played until it passes, a multiplayer room with a host, a learner and a guest, a 429),
#    waits for two more scrapes;
# 8. scripts/observability/check_panels.py: every panel query of every dashboard parses and
#    returns data, every metric it names exists; the rules evaluate without error;
# 9. the server's log lines are JSON and name the user of authenticated requests;
# 10. stops what it started (the worker with SIGTERM, which it must exit 0 on) and deletes
#     its Redis keys.
#
# Needs Redis: QUESTPATH_TEST_REDIS_URL (scripts/test exports it), else
# redis://127.0.0.1:6379. OBSERVABILITY_KEEP=1 keeps the temp folder (server, worker and
# Prometheus logs, prom.yml). OBSERVABILITY_LOAD_SECS (default 12) sets the load's length.
# OBSERVABILITY_BIN=path checks that binary instead of building target/debug/questpath.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
QP_LOG_TAG="observability"
# shellcheck source=scripts/services/lib.sh
source scripts/services/lib.sh
T0=$(qp_now_ms)
step() { qp_log "$* [+$(qp_since "$T0") s]"; }

# Where `cargo build` below puts it (CARGO_TARGET_DIR moves the target folder), unless
# OBSERVABILITY_BIN names a binary already built (then nothing is built).
BIN="${OBSERVABILITY_BIN:-${CARGO_TARGET_DIR:-$ROOT/target}/debug/questpath}"
LOAD_SECS="${OBSERVABILITY_LOAD_SECS:-12}"
REDIS_URL="${QUESTPATH_TEST_REDIS_URL:-redis://127.0.0.1:6379}"
PREFIX="qp-obs-$$-$(date +%s)-"

# ---- 1. promtool and prometheus ---------------------------------------------------------
if ! command -v promtool >/dev/null 2>&1 || ! command -v prometheus >/dev/null 2>&1; then
  step "installing Debian's prometheus (for prometheus and promtool)"
  qp_apt_install prometheus
  # policy-rc.d keeps the package's service from starting; if this machine let it start
  # anyway, stop it: this check runs its own on a free port.
  if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet prometheus 2>/dev/null; then
    systemctl stop prometheus || true
  fi
fi
promtool --version 2>&1 | head -n 1

# ---- 2. dashboards as generated ---------------------------------------------------------
step "dashboards: grafana/dashboards match grafana/build_dashboards.py"
python3 grafana/build_dashboards.py --check

# ---- 3. rules ---------------------------------------------------------------------------
step "promtool check rules / test rules"
rules=()
for f in grafana/alerts/*.yml; do
  [[ $f == *.test.yml ]] || rules+=("$f")
done
promtool check rules "${rules[@]}"
promtool test rules grafana/alerts/*.test.yml

# ---- 4. the server ----------------------------------------------------------------------
WORK="$(mktemp -d -t questpath-observability.XXXXXX)"
SERVER_PID=""
WORKER_PID=""
PROM_PID=""
redis_cli() { redis-cli -u "$REDIS_URL" "$@"; }
# shellcheck disable=SC2317  # invoked by the EXIT trap
cleanup() {
  local rc=$?
  trap - EXIT
  set +e
  for pid in "$PROM_PID" "$WORKER_PID" "$SERVER_PID"; do
    if qp_pid_alive "$pid"; then
      kill -TERM "$pid" 2>/dev/null
      wait "$pid" 2>/dev/null
    fi
  done
  if command -v redis-cli >/dev/null 2>&1; then
    redis_cli --scan --pattern "${PREFIX}*" 2>/dev/null | xargs -r -n 100 redis-cli -u "$REDIS_URL" del >/dev/null 2>&1
  fi
  if ((rc != 0)); then
    qp_err "failed (exit $rc); last lines of the server's and Prometheus's logs:"
    tail -n 20 "$WORK/server.log" >&2 2>/dev/null
    tail -n 10 "$WORK/worker.log" >&2 2>/dev/null
    tail -n 20 "$WORK/prometheus.log" >&2 2>/dev/null
  fi
  if [[ ${OBSERVABILITY_KEEP:-0} == 1 ]]; then
    qp_log "kept $WORK"
  else
    rm -rf "$WORK"
  fi
  step "finished (exit $rc)"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

if command -v redis-cli >/dev/null 2>&1; then
  if [[ $(redis_cli ping 2>/dev/null) != PONG ]]; then
    qp_err "no Redis at $REDIS_URL: run through scripts/test, or scripts/services/redis.sh start"
    exit 1
  fi
fi

if [[ -z ${OBSERVABILITY_BIN:-} ]]; then
  step "building the server (a no-op after the test suite)"
  cargo build --quiet --bin questpath
fi

PORT="$(free_port)"
BASE="http://127.0.0.1:$PORT"
step "starting $BIN on $BASE (Redis key prefix $PREFIX)"
# From $WORK, so no .env of the checkout is read; every setting is given here.
(
  cd "$WORK"
  exec env \
    QUESTPATH_ENV=development \
    QUESTPATH_BIND="127.0.0.1:$PORT" \
    QUESTPATH_DATA_DIR="$WORK/data" \
    QUESTPATH_WORKERS=2 \
    QUESTPATH_SHUTDOWN_TIMEOUT_SECS=2 \
    QUESTPATH_LOG=info \
    QUESTPATH_LOG_FORMAT=json \
    QUESTPATH_SCYLLA_NODES= \
    QUESTPATH_REDIS_URL="$REDIS_URL" \
    QUESTPATH_REDIS_PREFIX="$PREFIX" \
    QUESTPATH_LLM_BASE_URL= \
    QUESTPATH_SENTRY_DSN= \
    QUESTPATH_METRICS_TOKEN= \
    QUESTPATH_RATE_LIMIT_READS=100000 \
    QUESTPATH_RATE_LIMIT_WRITES=100000 \
    QUESTPATH_RATE_LIMIT_ANONYMOUS=100000 \
    QUESTPATH_RATE_LIMIT_LOGIN=100000 \
    QUESTPATH_RATE_LIMIT_REGISTER=5 \
    "$BIN" serve
) >"$WORK/server.log" 2>&1 &
SERVER_PID=$!
qp_wait_serving "$SERVER_PID" "$BASE/health" server || exit 1

# ---- 5. a worker, and promtool check metrics ---------------------------------------------
WORKER_PORT="$(free_port)"
WORKER_METRICS="http://127.0.0.1:$WORKER_PORT/metrics"
step "starting $BIN worker, metrics on $WORKER_METRICS"
(
  cd "$WORK"
  exec env \
    QUESTPATH_ENV=development \
    QUESTPATH_DATA_DIR="$WORK/worker-data" \
    QUESTPATH_LOG=info \
    QUESTPATH_LOG_FORMAT=json \
    QUESTPATH_SCYLLA_NODES= \
    QUESTPATH_REDIS_URL= \
    QUESTPATH_LLM_BASE_URL= \
    QUESTPATH_SENTRY_DSN= \
    QUESTPATH_METRICS_TOKEN= \
    QUESTPATH_GENERATION_WORKERS=1 \
    QUESTPATH_WORKER_METRICS_BIND="127.0.0.1:$WORKER_PORT" \
    "$BIN" worker
) >"$WORK/worker.log" 2>&1 &
WORKER_PID=$!
qp_wait_serving "$WORKER_PID" "$WORKER_METRICS" worker || exit 1

for endpoint in "$BASE/metrics" "$WORKER_METRICS"; do
  step "promtool check metrics on $endpoint"
  curl -fsS "$endpoint" >"$WORK/metrics.txt"
  if ! promtool check metrics <"$WORK/metrics.txt"; then
    qp_err "promtool check metrics found problems in $endpoint (above)"
    exit 1
  fi
  qp_log "$(grep -c '^# TYPE' "$WORK/metrics.txt") metric families, no problems"
done

# ---- 6. Prometheus ------------------------------------------------------------------------
PROM_PORT="$(free_port)"
PROM="http://127.0.0.1:$PROM_PORT"
cat >"$WORK/prom.yml" <<YAML
global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
rule_files:
$(for f in "${rules[@]}"; do echo "  - $ROOT/$f"; done)
scrape_configs:
  - job_name: questpath
    static_configs:
      - targets: ['127.0.0.1:$PORT', '127.0.0.1:$WORKER_PORT']
YAML
promtool check config "$WORK/prom.yml" >/dev/null
step "starting Prometheus on $PROM"
prometheus --config.file="$WORK/prom.yml" --storage.tsdb.path="$WORK/tsdb" \
  --web.listen-address="127.0.0.1:$PROM_PORT" >"$WORK/prometheus.log" 2>&1 &
PROM_PID=$!
query() { curl -fsS --get "$PROM/api/v1/query" --data-urlencode "query=$1"; }
scraped=0
for _ in $(seq 1 60); do
  qp_pid_alive "$PROM_PID" || { qp_err "Prometheus exited"; exit 1; }
  if [[ $(query 'count(up{job="questpath"} == 1)' 2>/dev/null) == *'"value":['*',"2"]'* ]]; then
    scraped=1
    break
  fi
  sleep 0.5
done
((scraped)) || { qp_err "Prometheus never scraped both the server and the worker"; exit 1; }
step "first scrapes done"

# ---- 7. load ------------------------------------------------------------------------------
step "load for ${LOAD_SECS} s"
timeout --signal=TERM 120 python3 scripts/observability/load.py "$BASE" --seconds "$LOAD_SECS"
sleep 3 # two more scrapes, so the last of the load is in Prometheus

# ---- 8. every panel query -----------------------------------------------------------------
step "every panel query of every dashboard, against Prometheus"
python3 scripts/observability/check_panels.py "$PROM" grafana/dashboards/*.json
python3 - "$PROM" <<'PY'
import json, sys, urllib.request
with urllib.request.urlopen(sys.argv[1] + "/api/v1/rules", timeout=10) as response:
    groups = json.load(response)["data"]["groups"]
rules = [rule for group in groups for rule in group["rules"]]
bad = [(rule["name"], rule.get("lastError")) for rule in rules if rule.get("health") != "ok"]
if bad or not rules:
    sys.exit(f"[observability] rules failing in Prometheus: {bad or 'none loaded'}")
print(f"[observability] {len(rules)} rules loaded by Prometheus evaluate without error")
PY

# ---- 9. logs ------------------------------------------------------------------------------
step "server log: JSON lines with request id, route, status, latency and user id"
python3 - "$WORK/server.log" <<'PY'
import json, sys
lines = [l for l in open(sys.argv[1], encoding="utf-8") if l.strip()]
records = []
for n, line in enumerate(lines, 1):
    try:
        records.append(json.loads(line))
    except ValueError:
        sys.exit(f"line {n} of the server log is not JSON: {line[:200]}")
done = [r for r in records if r.get("message") == "request completed"]
with_user = [r for r in done if r.get("span", {}).get("user_id")]
missing = [r for r in done if not all(k in r.get("span", {}) for k in ("request_id", "route")) or "status" not in r or "latency_ms" not in r]
if not done or not with_user or missing:
    sys.exit(f"access lines: {len(done)}, with user_id: {len(with_user)}, incomplete: {missing[:2]}")
print(f"[observability] {len(records)} JSON lines; {len(done)} access lines, {len(with_user)} with user_id")
PY

# ---- 10. the worker stops cleanly -------------------------------------------------------
step "worker: SIGTERM"
kill -TERM "$WORKER_PID"
worker_rc=0
wait "$WORKER_PID" || worker_rc=$?
WORKER_PID=""
((worker_rc == 0)) || { qp_err "the worker exited $worker_rc on SIGTERM"; exit 1; }
qp_log "all observability checks passed"
