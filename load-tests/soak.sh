#!/usr/bin/env bash
# A soak run (issue 19), not in CI: SOAK_MINUTES (30) of mixed load on one release server, its
# memory, descriptors, threads, sockets and actors sampled every minute, judged flat or not
# over the last 20 minutes, drawn as a PNG. One backend per call:
#
#   load-tests/soak.sh embedded|redis-cassandra
#
# It is load-tests/bench.sh's `soak` step after `setup`-free preparation (see bench.sh for the
# variables: SOAK_MINUTES, SOAK_PLAYERS, SOAK_QUIZ_RATE, SOAK_HTTP_RATE, SOAK_ROOM_PLAYERS,
# SOAK_SAMPLE, OUT). Build first: cargo build --release -p questpath -p questpath-load.
# Writes OUT/soak-BACKENDS-TIME.{csv,png,md}; exits 1 when the server's memory, descriptors
# or threads grew by 5 % or more over the last 20 minutes of load.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
backends="${1:?usage: load-tests/soak.sh embedded|redis-cassandra}"
if ! python3 -c 'import matplotlib' 2>/dev/null; then
  echo "[soak] installing matplotlib from PyPI (for the plot)"
  python3 -m pip install --quiet --disable-pip-version-check matplotlib
fi
exec bash load-tests/bench.sh "$backends" soak
