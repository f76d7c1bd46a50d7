#!/usr/bin/env bash
# A loopback SMTP server for the integration tests (Python's aiosmtpd from PyPI).
#
#   scripts/services/smtp.sh start|stop|status
#
# Port: $QUESTPATH_TEST_SMTP_PORT (default 2525). Files: .services/smtp/ (.services/smtp-N/
# for another port N); accepted mail goes to the Maildir .services/smtp/maildir/
# (scripts/services/smtpd.py: recipients @tempfail.invalid get 451, @reject.invalid 550).
# start  - installs aiosmtpd from PyPI if it cannot be imported; reuses our own server
#          if it already answers on the port; otherwise starts it.
# stop   - stops only a server this script started (pid file).
# status - exit 0 if our server answers on the port.
set -euo pipefail
QP_LOG_TAG=smtp
# shellcheck source=scripts/services/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

AIOSMTPD_VERSION="1.4.6"
PORT="${QUESTPATH_TEST_SMTP_PORT:-2525}"
DIR="$QP_SERVICES_DIR/smtp"
[[ $PORT == 2525 ]] || DIR="$QP_SERVICES_DIR/smtp-$PORT"
PIDFILE="$DIR/smtpd.pid"
LOG="$DIR/smtpd.log"
MAILDIR="$DIR/maildir"
START_TIMEOUT="${QUESTPATH_TEST_SMTP_START_TIMEOUT:-20}"

# Something on the port greets with an SMTP 220 banner.
greets() {
  local out
  # shellcheck disable=SC2016  # $1 is for the inner bash
  out=$(timeout 5 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1" && head -c 3 <&3; printf "QUIT\r\n" >&3' _ "$PORT" 2>/dev/null) || return 1
  [[ $out == 220 ]]
}

our_pid() {
  local pid
  [[ -f $PIDFILE ]] || return 1
  pid=$(cat "$PIDFILE" 2>/dev/null) || return 1
  qp_pid_alive "$pid" || return 1
  grep -qa smtpd.py "/proc/$pid/cmdline" 2>/dev/null || return 1
  echo "$pid"
}

ensure_installed() {
  python3 -c 'import aiosmtpd' 2>/dev/null && return 0
  qp_log "aiosmtpd not found: installing aiosmtpd==$AIOSMTPD_VERSION from PyPI"
  python3 -m pip install --quiet --disable-pip-version-check "aiosmtpd==$AIOSMTPD_VERSION" ||
    { qp_err "could not install aiosmtpd with pip"; return 1; }
  python3 -c 'import aiosmtpd' 2>/dev/null || { qp_err "aiosmtpd still cannot be imported after pip install"; return 1; }
}

cmd_start() {
  local t0 pid
  t0=$(qp_now_ms)
  mkdir -p "$MAILDIR"
  if our_pid >/dev/null && greets; then
    qp_log "reusing our SMTP server on 127.0.0.1:$PORT (maildir: $MAILDIR)"
    return 0
  fi
  ensure_installed
  if qp_port_open "$PORT"; then
    qp_err "port 127.0.0.1:$PORT is taken by something this script did not start; set QUESTPATH_TEST_SMTP_PORT"
    return 1
  fi
  : >"$LOG"
  qp_log "starting aiosmtpd on 127.0.0.1:$PORT (log: $LOG, maildir: $MAILDIR)"
  nohup python3 "$QP_ROOT/scripts/services/smtpd.py" "$PORT" "$MAILDIR" >>"$LOG" 2>&1 </dev/null &
  pid=$!
  echo "$pid" >"$PIDFILE"
  local deadline=$((SECONDS + START_TIMEOUT))
  until greets; do
    if ! qp_pid_alive "$pid" || ((SECONDS >= deadline)); then
      qp_err "service smtp did not greet on 127.0.0.1:$PORT within ${START_TIMEOUT} s; log: $LOG"
      tail -n 50 "$LOG" >&2 || true
      kill -TERM "$pid" 2>/dev/null || true
      rm -f "$PIDFILE"
      return 1
    fi
    sleep 0.2
  done
  qp_log "smtp ready on 127.0.0.1:$PORT in $(qp_since "$t0") s (pid $pid)"
}

cmd_stop() {
  local pid
  if ! pid=$(our_pid); then
    rm -f "$PIDFILE"
    qp_log "no smtp server started by this script is running (nothing to stop)"
    return 0
  fi
  qp_log "stopping smtp (pid $pid)"
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 50); do qp_pid_alive "$pid" || break; sleep 0.1; done
  if qp_pid_alive "$pid"; then kill -KILL "$pid" 2>/dev/null || true; fi
  rm -f "$PIDFILE"
  qp_log "smtp stopped"
}

cmd_status() {
  local pid
  if pid=$(our_pid) && greets; then
    qp_log "up on 127.0.0.1:$PORT (pid $pid, maildir $MAILDIR)"
    return 0
  fi
  qp_log "down (no server of ours greets on 127.0.0.1:$PORT)"
  return 1
}

case "${1:-}" in
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
