#!/usr/bin/env bash
# Redis for the integration tests, on 127.0.0.1 only.
#
#   scripts/services/redis.sh start|stop|status
#
# Port: $QUESTPATH_TEST_REDIS_PORT (default 6379). Files: .services/redis/ (.services/redis-N/
# for another port N).
# start  - installs redis-server from Debian if missing; reuses anything that already
#          answers PING on the port; otherwise starts our own (no persistence).
# stop   - stops only a redis-server this script started (pid file).
# status - exit 0 if something answers PING on the port.
set -euo pipefail
QP_LOG_TAG=redis
# shellcheck source=scripts/services/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

PORT="${QUESTPATH_TEST_REDIS_PORT:-6379}"
DIR="$QP_SERVICES_DIR/redis"
[[ $PORT == 6379 ]] || DIR="$QP_SERVICES_DIR/redis-$PORT"   # one directory per port
PIDFILE="$DIR/redis.pid"
LOG="$DIR/redis.log"
START_TIMEOUT="${QUESTPATH_TEST_REDIS_START_TIMEOUT:-30}"

ping_ok() {
  local out
  if command -v redis-cli >/dev/null 2>&1; then
    out=$(timeout 5 redis-cli -h 127.0.0.1 -p "$PORT" ping 2>/dev/null) || return 1
  else
    # no client yet: speak RESP by hand
    # shellcheck disable=SC2016  # $1 is for the inner bash
    out=$(timeout 5 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1" && printf "PING\r\n" >&3 && head -c 7 <&3' _ "$PORT" 2>/dev/null) || return 1
  fi
  [[ $out == *PONG* ]]
}

our_pid() {
  local pid
  [[ -f $PIDFILE ]] || return 1
  pid=$(cat "$PIDFILE" 2>/dev/null) || return 1
  qp_pid_alive "$pid" || return 1
  # make sure the pid was not recycled by something else
  grep -qa redis "/proc/$pid/cmdline" 2>/dev/null || return 1
  echo "$pid"
}

ensure_installed() {
  command -v redis-server >/dev/null 2>&1 && command -v redis-cli >/dev/null 2>&1 && return 0
  local t0
  t0=$(qp_now_ms)
  qp_log "redis-server not found: installing it from Debian"
  qp_apt_install redis-server || { qp_err "could not install redis-server with apt-get"; return 1; }
  command -v redis-server >/dev/null 2>&1 || { qp_err "redis-server still missing after apt-get install"; return 1; }
  qp_log "redis-server installed in $(qp_since "$t0") s"
}

cmd_start() {
  local t0
  t0=$(qp_now_ms)
  mkdir -p "$DIR"
  if ping_ok; then
    echo reused >"$DIR/last-start"
    qp_log "reusing the Redis that already answers PING on 127.0.0.1:$PORT"
    return 0
  fi
  ensure_installed
  if ping_ok; then   # apt may have started the system service on this port
    echo reused >"$DIR/last-start"
    qp_log "reusing the Redis that already answers PING on 127.0.0.1:$PORT (started by the package)"
    return 0
  fi
  if qp_port_open "$PORT"; then
    qp_err "port 127.0.0.1:$PORT is taken by something that does not answer Redis PING; set QUESTPATH_TEST_REDIS_PORT"
    return 1
  fi
  rm -f "$PIDFILE"
  : >"$LOG"
  qp_log "starting redis-server on 127.0.0.1:$PORT (log: $LOG)"
  if ! redis-server --port "$PORT" --bind 127.0.0.1 --protected-mode yes \
      --save '' --appendonly no --daemonize yes \
      --pidfile "$PIDFILE" --logfile "$LOG" --dir "$DIR"; then
    qp_err "service redis failed to start; log: $LOG"
    tail -n 50 "$LOG" >&2 || true
    return 1
  fi
  local deadline=$((SECONDS + START_TIMEOUT))
  until ping_ok; do
    if ((SECONDS >= deadline)); then
      qp_err "service redis did not answer PING on 127.0.0.1:$PORT within ${START_TIMEOUT} s; log: $LOG"
      tail -n 50 "$LOG" >&2 || true
      return 1
    fi
    sleep 0.2
  done
  echo started >"$DIR/last-start"
  qp_log "redis ready on 127.0.0.1:$PORT in $(qp_since "$t0") s (pid $(cat "$PIDFILE" 2>/dev/null || echo '?'))"
}

cmd_stop() {
  local pid
  if ! pid=$(our_pid); then
    rm -f "$PIDFILE"
    qp_log "no redis started by this script is running (nothing to stop)"
    return 0
  fi
  qp_log "stopping redis (pid $pid)"
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 100); do qp_pid_alive "$pid" || break; sleep 0.1; done
  if qp_pid_alive "$pid"; then
    qp_log "redis did not stop after 10 s: SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$PIDFILE"
  qp_log "redis stopped"
}

cmd_status() {
  local pid
  if ping_ok; then
    if pid=$(our_pid); then
      qp_log "up on 127.0.0.1:$PORT (started by this script, pid $pid)"
    else
      qp_log "up on 127.0.0.1:$PORT (not started by this script)"
    fi
    return 0
  fi
  qp_log "down (nothing answers PING on 127.0.0.1:$PORT)"
  return 1
}

case "${1:-}" in
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
