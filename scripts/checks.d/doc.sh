#!/usr/bin/env bash
# The API documentation builds without a warning: every intra-doc link resolves and none
# points at a private item from public docs.
#
#   scripts/checks.d/doc.sh        (scripts/test runs it after the test suite)
#
# Runs `cargo doc --workspace --no-deps` with RUSTDOCFLAGS=-D warnings (about 35 s on the
# 2-core machine, the dependencies' metadata being built already by clippy and the tests).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
QP_LOG_TAG="doc"
# shellcheck source=scripts/services/lib.sh
source scripts/services/lib.sh

T0=$(qp_now_ms)
if RUSTDOCFLAGS="${RUSTDOCFLAGS:-} -D warnings" cargo doc --quiet --workspace --no-deps; then
  qp_log "cargo doc: no warning ($(qp_since "$T0") s)"
else
  qp_err "cargo doc has warnings (broken or private intra-doc links): see above"
  exit 1
fi
