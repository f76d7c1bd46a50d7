#!/usr/bin/env bash
# Browser tests of the web app (issue 15): Debian's Chromium driven by playwright-core
# (npm) under node's own test runner. The tests live in web/tests/*.test.js; each starts
# target/debug/questpath on a free loopback port with a fresh data folder (see
# web/tests/harness.js) and stops it at its end.
#
#   scripts/checks.d/browser.sh              (scripts/test runs it after the test suite)
#   scripts/checks.d/browser.sh room         only the test files whose name contains "room"
#
# 1. installs what is missing: Debian's `chromium` (apt-get; no browser download from
#    anywhere else) and the npm packages of web/tests (`npm ci`, from its lockfile);
# 2. builds the server binary (cargo build: a no-op when it is up to date);
# 3. starts Redis if QUESTPATH_TEST_REDIS_URL is unset (the resume test keeps its quiz in
#    Redis so that it survives a server restart), and stops it again if it started it;
# 4. runs `node --test` over the test files, one file at a time;
# 5. prints a summary line and exits non-zero on any failure.
#
# Screenshots of the main screens at 360 and 1280 px: target/browser-screenshots/.
# BROWSER_TESTS_KEEP=1 keeps each test server's data folder and log.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
QP_LOG_TAG="browser"
# shellcheck source=scripts/services/lib.sh
source scripts/services/lib.sh

T0=$(qp_now_ms)
TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
BIN="$TARGET_DIR/debug/questpath"
CHROMIUM="${CHROMIUM_PATH:-/usr/bin/chromium}"
TESTS="$ROOT/web/tests"

# ---------------------------------------------------------------------------------------
# 1. What the tests need
if [[ ! -x $CHROMIUM ]]; then
  qp_log "$CHROMIUM is missing: installing Debian's chromium"
  if ! qp_apt_install chromium fonts-dejavu-core fonts-noto-color-emoji || [[ ! -x $CHROMIUM ]]; then
    qp_err "could not install Debian's chromium (apt-get install chromium): the browser tests cannot run"
    exit 1
  fi
fi
qp_log "$("$CHROMIUM" --version 2>/dev/null | head -n 1)"

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  qp_log "node or npm is missing: installing Debian's nodejs and npm"
  qp_apt_install nodejs npm || { qp_err "could not install node and npm"; exit 1; }
fi
node_major=$(node -p 'process.versions.node.split(".")[0]')
if ((node_major < 20)); then
  qp_err "node $(node --version) is too old: playwright-core needs node 20 or later"
  exit 1
fi

# npm ci only when node_modules does not hold exactly the lockfile's versions.
if ! (cd "$TESTS" && node -e '
  const fs = require("fs"), path = require("path");
  const lock = JSON.parse(fs.readFileSync("package-lock.json", "utf8"));
  for (const [where, p] of Object.entries(lock.packages)) {
    if (!where) continue;
    const pkg = JSON.parse(fs.readFileSync(path.join(where, "package.json"), "utf8"));
    if (pkg.version !== p.version) process.exit(1);
  }' 2>/dev/null); then
  qp_log "npm ci in web/tests"
  (cd "$TESTS" && npm ci --no-audit --no-fund --loglevel=error) || { qp_err "npm ci failed in web/tests"; exit 1; }
fi

# ---------------------------------------------------------------------------------------
# 2. The server binary (the debug build, which reads web/ from disk). cargo decides:
# a no-op after scripts/test's own build, a rebuild of a binary older than its source.
qp_log "cargo build --bin questpath"
cargo build --quiet --bin questpath
[[ -x $BIN ]] || { qp_err "no server binary at $BIN after cargo build"; exit 1; }

# ---------------------------------------------------------------------------------------
# 3. Redis, for the resume test
OWN_REDIS=0
# shellcheck disable=SC2317  # invoked by the EXIT trap
cleanup() {
  local rc=$?
  trap - EXIT
  set +e
  ((OWN_REDIS)) && bash scripts/services/redis.sh stop >/dev/null
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

if [[ -z ${QUESTPATH_TEST_REDIS_URL:-} ]]; then
  port="${QUESTPATH_TEST_REDIS_PORT:-6379}"
  bash scripts/services/redis.sh status >/dev/null 2>&1 || OWN_REDIS=1
  bash scripts/services/redis.sh start || { qp_err "Redis could not be started on 127.0.0.1:$port"; exit 1; }
  export QUESTPATH_TEST_REDIS_URL="redis://127.0.0.1:$port"
fi

# ---------------------------------------------------------------------------------------
# 4. The tests
shopt -s nullglob
files=()
for f in "$TESTS"/*.test.js; do
  if [[ $# -eq 0 ]] || [[ $(basename "$f") == *"$1"* ]]; then files+=("$f"); fi
done
shopt -u nullglob
if ((${#files[@]} == 0)); then
  qp_err "no test file in web/tests matches ${1:-*.test.js}"
  exit 1
fi

# A full run starts from an empty screenshot folder, so every PNG in it is from this run.
(($# == 0)) && rm -rf "$TARGET_DIR/browser-screenshots"
qp_log "node --test: ${files[*]##*/}"
out="$(mktemp -t questpath-browser-tests.XXXXXX)"
# One file at a time: each runs its own server and browser, and 2 cores are enough for
# one. A file that hangs is ended by its own test timeout.
set +e
(cd "$TESTS" && node --test --test-concurrency=1 --test-reporter=spec "${files[@]}" </dev/null) 2>&1 | tee "$out"
rc=${PIPESTATUS[0]}
set -e

# ---------------------------------------------------------------------------------------
# 5. Summary
pass=$(sed -n 's/^ℹ pass \([0-9]*\)$/\1/p' "$out" | tail -n 1)
fail=$(sed -n 's/^ℹ fail \([0-9]*\)$/\1/p' "$out" | tail -n 1)
skip=$(sed -n 's/^ℹ skipped \([0-9]*\)$/\1/p' "$out" | tail -n 1)
# A test ended by its timeout is "cancelled" to node: a failure here.
cancelled=$(sed -n 's/^ℹ cancelled \([0-9]*\)$/\1/p' "$out" | tail -n 1)
fail=$((${fail:-0} + ${cancelled:-0}))
rm -f "$out"
shots=$(find "$TARGET_DIR/browser-screenshots" -name '*.png' 2>/dev/null | wc -l)
qp_log "screenshots: $shots in $TARGET_DIR/browser-screenshots"
qp_log "browser tests took $(qp_since "$T0") s"
printf 'browser: %s passed, %s failed, %s skipped\n' "${pass:-0}" "${fail:-0}" "${skip:-0}"
if ((rc != 0)) || [[ ${fail:-0} != 0 ]] || [[ -z $pass ]]; then
  qp_err "browser tests failed (node --test exit $rc)"
  exit 1
fi
