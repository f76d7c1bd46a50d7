# shellcheck shell=bash
# Shared helpers for scripts/services/*.sh and scripts/test. Source it, don't run it.

QP_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
QP_SERVICES_DIR="$QP_ROOT/.services"

qp_log() { printf '[%s] %s\n' "${QP_LOG_TAG:-services}" "$*"; }
qp_err() { printf '[%s] ERROR: %s\n' "${QP_LOG_TAG:-services}" "$*" >&2; }

# Milliseconds since the epoch, and "N.N" seconds elapsed since a qp_now_ms value.
qp_now_ms() { local t; t=$(date +%s%N); echo $((t / 1000000)); }
qp_since() { local ms=$(($(qp_now_ms) - $1)); printf '%d.%d' $((ms / 1000)) $((ms % 1000 / 100)); }

# True if a TCP connect to 127.0.0.1:$1 succeeds.
qp_port_open() {
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# Is $1 a live process?
qp_pid_alive() {
  [[ -n "${1:-}" ]] && kill -0 "$1" 2>/dev/null
}

# Waits up to 30 s for process $1 to answer URL $2; says which ($3: server, worker)
# exited or never answered, and fails.
qp_wait_serving() {
  local pid=$1 url=$2 what=$3
  for _ in $(seq 1 150); do
    qp_pid_alive "$pid" || { qp_err "the $what exited during start-up"; return 1; }
    curl -fsS "$url" >/dev/null 2>&1 && return 0
    sleep 0.2
  done
  qp_err "the $what does not serve $url"
  return 1
}

# apt-get install, noninteractive, never starting the package's own service,
# with `apt-get update` run at most once per day (per checkout), serialised with flock.
qp_apt_install() {
  if ! command -v apt-get >/dev/null 2>&1; then
    qp_err "apt-get not found; install $* by hand"
    return 1
  fi
  local sudo=()
  if [[ $(id -u) -ne 0 ]]; then
    command -v sudo >/dev/null 2>&1 || { qp_err "need root (or sudo) to apt-get install $*"; return 1; }
    sudo=(sudo)
  fi
  mkdir -p "$QP_SERVICES_DIR"
  local marker="$QP_SERVICES_DIR/.apt-updated" lock="$QP_SERVICES_DIR/.apt.lock"
  (
    flock -w 600 9 || { qp_err "timed out waiting for $lock"; exit 1; }
    export DEBIAN_FRONTEND=noninteractive
    # Don't let the package start its own system service (Docker images already ship this file).
    local made_policy=0
    if [[ ! -e /usr/sbin/policy-rc.d && $(id -u) -eq 0 ]]; then
      printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d && made_policy=1
    fi
    local rc=0
    if [[ -z $(find "$marker" -mmin -1440 2>/dev/null) ]]; then
      qp_log "apt-get update"
      "${sudo[@]}" apt-get update -q -o Dpkg::Use-Pty=0 >/dev/null && touch "$marker" || rc=$?
    fi
    if [[ $rc -eq 0 ]]; then
      qp_log "apt-get install -y $*"
      if ! "${sudo[@]}" apt-get install -y -q -o Dpkg::Use-Pty=0 --no-install-recommends "$@" >/dev/null; then
        # maybe a stale package list: update once more and retry
        "${sudo[@]}" apt-get update -q -o Dpkg::Use-Pty=0 >/dev/null && touch "$marker"
        "${sudo[@]}" apt-get install -y -q -o Dpkg::Use-Pty=0 --no-install-recommends "$@" >/dev/null || rc=$?
      fi
    fi
    [[ $made_policy -eq 1 ]] && rm -f /usr/sbin/policy-rc.d
    exit "$rc"
  ) 9>"$lock"
}

# qp_cql_exec STATEMENT [HOST]: a CQL statement over the native protocol v4 in pure bash
# (no cqlsh here) to HOST:9042 (127.0.0.1); exit 0 when the server answers RESULT. Same
# technique as scripts/services/cassandra.sh; the load tests drop their keyspaces with it.
qp_cql_exec() {
  local q=$1 host=${2:-127.0.0.1}
  hex_of() { printf '%s' "$1" | od -An -tx1 -v | tr -d ' \n'; }
  frame() { # STREAM OPCODE BODY-HEX
    local hex
    hex="0400$1$2$(printf '%08x' $((${#3} / 2)))$3"
    # shellcheck disable=SC2059,SC2001
    printf "$(sed 's/../\\x&/g' <<<"$hex")" >&3
  }
  opcode() { timeout 30 head -c 9 <&3 | od -An -tx1 -v | tr -d ' \n' | cut -c9-10; }
  (
    exec 3<>/dev/tcp/$host/9042 || exit 1
    frame 0001 01 "0001$(printf '%04x' 11)$(hex_of CQL_VERSION)$(printf '%04x' 5)$(hex_of 3.0.0)"
    [[ $(opcode) == 02 ]] || exit 1
    frame 0002 07 "$(printf '%08x' "${#q}")$(hex_of "$q")000100"
    [[ $(opcode) == 08 ]] || exit 1
  ) 2>/dev/null
}
