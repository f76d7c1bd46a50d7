#!/usr/bin/env bash
# Debian's nginx for the load-balancer test (tests/ws/behind_nginx.rs). The test runs it
# itself, unprivileged, from a temp prefix on a free loopback port; this script only makes
# sure the binary is there. No system service is started (nor left running by apt).
#
#   scripts/services/nginx.sh path      prints the nginx binary, installing nginx-light if missing
#
# Fails (exit 1, with the reason) when nginx is missing and cannot be installed: the test
# must never be skipped for want of it.
set -euo pipefail
QP_LOG_TAG=nginx
# shellcheck source=scripts/services/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# The binary, if installed (/usr/sbin is not on every user's PATH).
find_nginx() {
  local found
  if found=$(command -v nginx 2>/dev/null); then echo "$found"; return 0; fi
  [[ -x /usr/sbin/nginx ]] && { echo /usr/sbin/nginx; return 0; }
  return 1
}

ensure_installed() {
  find_nginx >/dev/null && return 0
  local t0
  t0=$(qp_now_ms)
  qp_log "nginx not found: installing nginx-light from Debian" >&2
  # Newer Debian releases fold nginx-light into nginx; either has the modules the
  # deploy config needs (proxy, upstream least_conn and keepalive, map).
  if ! qp_apt_install nginx-light >&2 && ! qp_apt_install nginx >&2; then
    qp_err "could not install nginx-light (nor nginx) with apt-get"
    return 1
  fi
  find_nginx >/dev/null || { qp_err "nginx still missing after apt-get install"; return 1; }
  qp_log "nginx installed in $(qp_since "$t0") s" >&2
}

cmd_path() {
  ensure_installed
  local bin
  bin=$(find_nginx)
  if ! "$bin" -v >/dev/null 2>&1; then
    qp_err "$bin does not run (nginx -v failed)"
    return 1
  fi
  echo "$bin"
}

case "${1:-}" in
  path) cmd_path ;;
  *) echo "usage: $0 path" >&2; exit 2 ;;
esac
