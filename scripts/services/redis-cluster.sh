#!/usr/bin/env bash
# A three-master Redis Cluster (no replicas) for the integration tests, on 127.0.0.1 only.
#
#   scripts/services/redis-cluster.sh start|stop|status|url|restart-node PORT
#
# Ports: $QUESTPATH_TEST_REDIS_CLUSTER_PORTS (default "7379 7380 7381", clear of Cassandra's
# storage port 7000); each node also uses its port + 10000 for the cluster bus.
# Files: .services/redis-cluster/<port>/.
# start  - installs redis-server from Debian if missing; reuses a cluster that already answers
#          with cluster_state:ok on every port; otherwise starts our own nodes
#          (cluster-enabled, maxmemory-policy noeviction, no persistence), joins them with
#          `redis-cli --cluster create --cluster-replicas 0` and waits for cluster_state:ok.
# stop   - stops only the nodes this script started (pid files).
# status - exit 0 if every port answers PING and reports cluster_state:ok.
# url    - prints the URL the server and the tests use (redis-cluster://first?node=...).
# restart-node PORT - SHUTDOWN NOSAVE of that master, started again on its nodes.conf (it
#          rejoins with its slots, their keys gone); waits for cluster_state:ok.
set -euo pipefail
QP_LOG_TAG=redis-cluster
# shellcheck source=scripts/services/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

read -r -a PORTS <<<"${QUESTPATH_TEST_REDIS_CLUSTER_PORTS:-7379 7380 7381}"
DIR="$QP_SERVICES_DIR/redis-cluster"
START_TIMEOUT="${QUESTPATH_TEST_REDIS_START_TIMEOUT:-30}"

if ((${#PORTS[@]} < 3)); then
  qp_err "QUESTPATH_TEST_REDIS_CLUSTER_PORTS must name at least three ports (a cluster needs three masters)"
  exit 2
fi

node_dir() { echo "$DIR/$1"; }
cli() { local port=$1; shift; timeout 5 redis-cli -h 127.0.0.1 -p "$port" "$@" 2>/dev/null; }

ping_ok() { [[ $(cli "$1" ping) == *PONG* ]]; }

# cluster_state:ok as this node sees it.
state_ok() { cli "$1" cluster info | tr -d '\r' | grep -qx 'cluster_state:ok'; }

cluster_ok() {
  local port
  for port in "${PORTS[@]}"; do
    ping_ok "$port" && state_ok "$port" || return 1
  done
}

our_pid() {
  local pidfile pid
  pidfile="$(node_dir "$1")/redis.pid"
  [[ -f $pidfile ]] || return 1
  pid=$(cat "$pidfile" 2>/dev/null) || return 1
  qp_pid_alive "$pid" || return 1
  grep -qa redis "/proc/$pid/cmdline" 2>/dev/null || return 1
  echo "$pid"
}

ensure_installed() {
  command -v redis-server >/dev/null 2>&1 && command -v redis-cli >/dev/null 2>&1 && return 0
  qp_log "redis-server not found: installing it from Debian"
  qp_apt_install redis-server || { qp_err "could not install redis-server with apt-get"; return 1; }
  command -v redis-cli >/dev/null 2>&1 || { qp_err "redis-cli still missing after apt-get install"; return 1; }
}

stop_node() {
  local port=$1 pid
  if ! pid=$(our_pid "$port"); then
    rm -f "$(node_dir "$port")/redis.pid"
    return 0
  fi
  qp_log "stopping the node on 127.0.0.1:$port (pid $pid)"
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 100); do qp_pid_alive "$pid" || break; sleep 0.1; done
  if qp_pid_alive "$pid"; then
    qp_log "node $port did not stop after 10 s: SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$(node_dir "$port")/redis.pid"
}

start_node() {
  local port=$1 dir
  dir=$(node_dir "$port")
  mkdir -p "$dir"
  if qp_port_open "$port" || qp_port_open $((port + 10000)); then
    qp_err "port 127.0.0.1:$port or its cluster bus port $((port + 10000)) is taken; set QUESTPATH_TEST_REDIS_CLUSTER_PORTS"
    return 1
  fi
  # A fresh node: an old nodes.conf would make it rejoin a cluster that no longer exists.
  rm -f "$dir/nodes.conf" "$dir/redis.pid"
  : >"$dir/redis.log"
  launch_node "$port"
}

# Runs redis-server for PORT in its folder, on whatever nodes.conf is there.
launch_node() {
  local port=$1 dir
  dir=$(node_dir "$port")
  if ! redis-server --port "$port" --bind 127.0.0.1 --protected-mode yes \
      --cluster-enabled yes --cluster-config-file nodes.conf --cluster-node-timeout 5000 \
      --maxmemory-policy noeviction \
      --save '' --appendonly no --daemonize yes \
      --pidfile "$dir/redis.pid" --logfile "$dir/redis.log" --dir "$dir"; then
    qp_err "the node on 127.0.0.1:$port failed to start; log: $dir/redis.log"
    tail -n 50 "$dir/redis.log" >&2 || true
    return 1
  fi
}

wait_until() {
  local what=$1; shift
  local deadline=$((SECONDS + START_TIMEOUT))
  until "$@"; do
    if ((SECONDS >= deadline)); then
      qp_err "$what within ${START_TIMEOUT} s; logs: $DIR/<port>/redis.log"
      local port
      for port in "${PORTS[@]}"; do
        qp_err "node $port: $(cli "$port" cluster info | tr -d '\r' | grep cluster_state || echo 'no answer')"
      done
      return 1
    fi
    sleep 0.2
  done
}

all_ping() {
  local port
  for port in "${PORTS[@]}"; do ping_ok "$port" || return 1; done
}

cmd_start() {
  local t0 port
  t0=$(qp_now_ms)
  mkdir -p "$DIR"
  if cluster_ok; then
    echo reused >"$DIR/last-start"
    qp_log "reusing the cluster that already answers with cluster_state:ok on 127.0.0.1 ports ${PORTS[*]}"
    return 0
  fi
  ensure_installed
  # Nodes of ours left from a broken run go first; anything else on the ports is an error.
  for port in "${PORTS[@]}"; do stop_node "$port"; done
  for port in "${PORTS[@]}"; do
    start_node "$port" || { cmd_stop; return 1; }
  done
  wait_until "the nodes did not answer PING" all_ping || { cmd_stop; return 1; }
  local addresses=()
  for port in "${PORTS[@]}"; do addresses+=("127.0.0.1:$port"); done
  qp_log "creating the cluster: ${addresses[*]} (three masters, no replicas)"
  if ! timeout 60 redis-cli --cluster create "${addresses[@]}" --cluster-replicas 0 --cluster-yes \
      >"$DIR/create.log" 2>&1; then
    qp_err "redis-cli --cluster create failed; output: $DIR/create.log"
    tail -n 30 "$DIR/create.log" >&2 || true
    cmd_stop
    return 1
  fi
  wait_until "the cluster did not reach cluster_state:ok" cluster_ok || { cmd_stop; return 1; }
  echo started >"$DIR/last-start"
  qp_log "cluster ready on 127.0.0.1 ports ${PORTS[*]} in $(qp_since "$t0") s"
}

cmd_stop() {
  local port any=0
  for port in "${PORTS[@]}"; do
    our_pid "$port" >/dev/null && any=1
    stop_node "$port"
  done
  if ((any)); then qp_log "cluster stopped"; else qp_log "no node started by this script is running (nothing to stop)"; fi
}

cmd_status() {
  if cluster_ok; then
    qp_log "up on 127.0.0.1 ports ${PORTS[*]} (cluster_state:ok)"
    return 0
  fi
  qp_log "down or unhealthy (not every port ${PORTS[*]} answers with cluster_state:ok)"
  return 1
}

# A master lost and back (the chaos run's fault): SHUTDOWN NOSAVE, then the same node
# started again on its nodes.conf, so it rejoins with its slots and none of its keys.
cmd_restart_node() {
  local port=${1:-}
  [[ -n $port && " ${PORTS[*]} " == *" $port "* ]] || {
    qp_err "restart-node needs one of the cluster's ports (${PORTS[*]})"
    return 2
  }
  qp_log "restarting the node on 127.0.0.1:$port without its data"
  cli "$port" shutdown nosave >/dev/null || true
  for _ in $(seq 1 50); do qp_port_open "$port" || break; sleep 0.1; done
  launch_node "$port" || return 1
  wait_until "the cluster did not reach cluster_state:ok after the restart" cluster_ok
}

cmd_url() {
  local url="redis-cluster://127.0.0.1:${PORTS[0]}" sep="?" port
  for port in "${PORTS[@]:1}"; do
    url+="${sep}node=127.0.0.1:$port"
    sep="&"
  done
  echo "$url"
}

case "${1:-}" in
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  url) cmd_url ;;
  restart-node) cmd_restart_node "${2:-}" ;;
  *) echo "usage: $0 start|stop|status|url|restart-node PORT" >&2; exit 2 ;;
esac
