#!/usr/bin/env bash
# A three-node Cassandra ring on loopback for the chaos run (load-tests/chaos.sh), beside the
# shared single test node (127.0.0.1:9042, which this script never touches). Each node is
# scripts/services/cassandra.sh on its own address: 127.0.1.1, 127.0.1.2, 127.0.1.3, each with
# CQL on 9042 and storage on 7000 of that address, seed 127.0.1.1, num_tokens 4 placed for
# three replicas, 1 GiB heap ($QUESTPATH_TEST_CASSANDRA_CLUSTER_HEAP). Files:
# .services/cassandra-127.0.1.N/ (the classpath is shared with the single node).
#
#   scripts/services/cassandra-cluster.sh start|stop|status|nodes|stop-node N|start-node N
#
# start        - starts the nodes one after another (a ring takes one joining node at a time)
#                and waits until each sees the two others in system.peers and all three hold
#                the same schema version. Nodes that already answer are reused. With no node up the ring starts fresh (data wiped); a node
#                missing from a running ring is restarted on its data.
# stop         - stops every node this script started (SIGTERM, SIGKILL after 60 s).
# status       - each node's state, peers and schema version; exit 0 if all three answer,
#                see two peers and agree on the schema.
# nodes        - prints QUESTPATH_SCYLLA_NODES for the ring (127.0.1.1:9042,...).
# stop-node N  - stops node N (1-3) only; start-node N brings it back on its data and waits
#                until the ring agrees on the schema again (exit 1 if it does not).
set -euo pipefail
QP_LOG_TAG=cassandra-cluster
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=scripts/services/lib.sh
source "$HERE/lib.sh"

NODES=(1 2 3)
HEAP="${QUESTPATH_TEST_CASSANDRA_CLUSTER_HEAP:-1g}"
RING_TIMEOUT="${QUESTPATH_TEST_CASSANDRA_RING_TIMEOUT:-120}"

addr() { echo "127.0.1.$1"; }

# node N COMMAND: cassandra.sh COMMAND for node N (extra variables from the caller's env).
node() {
  local n=$1
  shift
  QUESTPATH_TEST_CASSANDRA_HOST="$(addr "$n")" \
    QUESTPATH_TEST_CASSANDRA_SEEDS="$(addr 1):7000" \
    QUESTPATH_TEST_CASSANDRA_CLUSTER=1 \
    QUESTPATH_TEST_CASSANDRA_HEAP="$HEAP" \
    QUESTPATH_TEST_CQL_PORT=9042 \
    QUESTPATH_TEST_CASSANDRA_STORAGE_PORT=7000 \
    bash "$HERE/cassandra.sh" "$@"
}

node_up() { node "$1" status >/dev/null 2>&1; }
schema_of() { node "$1" schema-version 2>/dev/null || true; }
node_dir() { echo "$QP_SERVICES_DIR/cassandra-$(addr "$1")"; }
peers_of() { node "$1" peers 2>/dev/null || echo 0; }

check_n() {
  [[ ${1:-} =~ ^[123]$ ]] || { echo "usage: $0 stop-node|start-node 1|2|3" >&2; exit 2; }
}

# Waits until every node in "$@" answers and sees the other two.
wait_ring() {
  local deadline=$((SECONDS + RING_TIMEOUT)) n ok
  while :; do
    ok=1
    for n in "$@"; do
      node_up "$n" && [[ $(peers_of "$n") == 2 ]] || { ok=0; break; }
    done
    ((ok)) && return 0
    if ((SECONDS >= deadline)); then
      qp_err "the ring did not form within ${RING_TIMEOUT} s"
      cmd_status || true
      return 1
    fi
    sleep 1
  done
}

# True when every node answers with the same schema version.
schema_agreed() {
  local n v first=""
  for n in "${NODES[@]}"; do
    v=$(schema_of "$n")
    [[ -n $v ]] || return 1
    [[ -n $first ]] || first=$v
    [[ $v == "$first" ]] || return 1
  done
}

# Waits until the ring agrees on the schema (a node that missed a schema change while it
# was down pulls it when it comes back; migrate and the server need the agreement).
wait_schema() {
  local deadline=$((SECONDS + RING_TIMEOUT))
  until schema_agreed; do
    if ((SECONDS >= deadline)); then
      qp_err "the nodes do not agree on the schema after ${RING_TIMEOUT} s"
      cmd_status || true
      return 1
    fi
    sleep 1
  done
}

cmd_start() {
  local t0 n any_up=0
  t0=$(qp_now_ms)
  for n in "${NODES[@]}"; do node_up "$n" && any_up=1; done
  for n in "${NODES[@]}"; do
    if node_up "$n"; then
      qp_log "node $n ($(addr "$n")) already answers: reused"
      continue
    fi
    if ((any_up)) && [[ -d "$(node_dir "$n")/data" ]]; then
      QUESTPATH_TEST_CASSANDRA_KEEP_DATA=1 node "$n" start
    else
      QUESTPATH_TEST_CASSANDRA_KEEP_DATA=0 node "$n" start
    fi
    any_up=1
  done
  wait_ring "${NODES[@]}"
  wait_schema
  qp_log "ring of ${#NODES[@]} up in $(qp_since "$t0") s: $(cmd_nodes)"
}

cmd_stop() {
  local n
  for n in 3 2 1; do node "$n" stop; done
}

cmd_status() {
  local n whole=1 peers
  for n in "${NODES[@]}"; do
    if node_up "$n"; then
      peers=$(peers_of "$n")
      qp_log "node $n ($(addr "$n"):9042): up, $peers peers, schema $(schema_of "$n")"
      [[ $peers == 2 ]] || whole=0
    else
      qp_log "node $n ($(addr "$n"):9042): down"
      whole=0
    fi
  done
  ((whole)) && schema_agreed && return 0
  return 1
}

cmd_nodes() {
  local n out=()
  for n in "${NODES[@]}"; do out+=("$(addr "$n"):9042"); done
  (IFS=,; echo "${out[*]}")
}

case "${1:-}" in
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  nodes) cmd_nodes ;;
  stop-node) check_n "${2:-}"; node "$2" stop ;;
  start-node)
    check_n "${2:-}"
    t0=$(qp_now_ms)
    QUESTPATH_TEST_CASSANDRA_KEEP_DATA=1 node "$2" start
    wait_schema
    qp_log "node $2 back in $(qp_since "$t0") s, the ring agrees on the schema"
    ;;
  *) echo "usage: $0 start|stop|status|nodes|stop-node N|start-node N" >&2; exit 2 ;;
esac
