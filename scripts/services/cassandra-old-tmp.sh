#!/usr/bin/env bash
# Apache Cassandra 5.0 (from Maven Central, run from a classpath) as the CQL server for the
# integration tests. Production uses ScyllaDB; the `scylla` driver speaks the same CQL
# native protocol (v4) to both. Loopback only.
#
#   scripts/services/cassandra.sh start|stop|status
#
# Port: $QUESTPATH_TEST_CQL_PORT (default 9042); storage port $QUESTPATH_TEST_CASSANDRA_STORAGE_PORT
# (default 7000). Files: .services/cassandra/ (cp.txt, cassandra.yaml, logback.xml, logs/...);
# an instance on another port N lives in .services/cassandra-N/ (cp.txt stays shared).
# start  - reuses anything that already answers a CQL query on the port; otherwise resolves
#          the classpath with Maven (cached in cp.txt), wipes the old data and starts a fresh
#          node, waiting until `SELECT release_version FROM system.local` works.
# stop   - stops only a Cassandra this script started (pid file): SIGTERM, SIGKILL after 60 s.
# status - exit 0 if a CQL query works on the port.
set -euo pipefail
QP_LOG_TAG=cassandra
# shellcheck source=scripts/services/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

PORT="${QUESTPATH_TEST_CQL_PORT:-9042}"
STORAGE_PORT="${QUESTPATH_TEST_CASSANDRA_STORAGE_PORT:-7000}"
START_TIMEOUT="${QUESTPATH_TEST_CASSANDRA_START_TIMEOUT:-180}"
# 2 GiB: every test keyspace holds a dozen tables, and a run creates dozens of them.
HEAP="${QUESTPATH_TEST_CASSANDRA_HEAP:-2g}"
POM="$QP_ROOT/tools/cassandra/pom.xml"
# One directory per port, so a second instance never wipes a running one's data.
DIR="$QP_SERVICES_DIR/cassandra"
[[ $PORT == 9042 ]] || DIR="$QP_SERVICES_DIR/cassandra-$PORT"
CP_FILE="$QP_SERVICES_DIR/cassandra/cp.txt"      # shared by all instances
MAVEN_LOG="$QP_SERVICES_DIR/cassandra/maven.log"
PIDFILE="$DIR/cassandra.pid"
LOGDIR="$DIR/logs"
SYSLOG="$LOGDIR/system.log"
STDOUT_LOG="$LOGDIR/stdout.log"

# ---------------------------------------------------------------------------------------------
# A real CQL round trip in pure bash (protocol v4): STARTUP, then
# QUERY "SELECT release_version FROM system.local". Prints the release_version; exit 0 on success.

hex_of() { printf '%s' "$1" | od -An -tx1 -v | tr -d ' \n'; }
cql_string() { printf '%04x%s' "${#1}" "$(hex_of "$1")"; }          # [string]
cql_long_string() { printf '%08x%s' "${#1}" "$(hex_of "$1")"; }     # [long string]

# send_frame STREAM(4 hex) OPCODE(2 hex) BODY(hex) -> fd 3
send_frame() {
  local hex
  hex="0400$1$2$(printf '%08x' $((${#3} / 2)))$3"
  # shellcheck disable=SC2059,SC2001  # the format is made only of \xHH escapes
  printf "$(sed 's/../\\x&/g' <<<"$hex")" >&3
}

# read_frame <- fd 3; sets FRAME_OPCODE and FRAME_TEXT (printable runs of the body, one per line)
read_frame() {
  local hdr len
  hdr=$(timeout 5 head -c 9 <&3 | od -An -tx1 -v | tr -d ' \n')
  [[ ${#hdr} -eq 18 ]] || return 1
  FRAME_OPCODE=${hdr:8:2}
  len=$((16#${hdr:10:8}))
  FRAME_TEXT=$(timeout 5 head -c "$len" <&3 | tr -c '[:print:]' '\n' | sed '/^$/d')
}

cql_query() {
  (
    exec 3<>"/dev/tcp/127.0.0.1/$PORT" || exit 1
    send_frame 0001 01 "0001$(cql_string CQL_VERSION)$(cql_string 3.0.0)"       # STARTUP
    read_frame || exit 1
    [[ $FRAME_OPCODE == 02 ]] || exit 1                                        # READY
    send_frame 0002 07 "$(cql_long_string 'SELECT release_version FROM system.local')000100"  # QUERY, ONE, no flags
    read_frame || exit 1
    [[ $FRAME_OPCODE == 08 ]] || exit 1                                        # RESULT
    tail -n 1 <<<"$FRAME_TEXT"
  ) 2>/dev/null
}

# ---------------------------------------------------------------------------------------------

our_pid() {
  local pid
  [[ -f $PIDFILE ]] || return 1
  pid=$(cat "$PIDFILE" 2>/dev/null) || return 1
  qp_pid_alive "$pid" || return 1
  # guard against a recycled pid: it must be our CassandraDaemon
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q "CassandraDaemon" || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF "$DIR/" || return 1
  echo "$pid"
}

java_major() {
  "$1" -version 2>&1 | sed -nE '1s/.*version "(1\.)?([0-9]+).*/\2/p'
}

# A Java 17 (Cassandra 5.0 also runs on 11). Installs openjdk-17 from Debian if none is found.
find_java() {
  local c want
  for want in 17 11; do
    for c in /usr/lib/jvm/java-17-openjdk-amd64 "${JAVA_HOME:-}" /usr/lib/jvm/*; do
      [[ -n $c && -x $c/bin/java ]] || continue
      [[ $(java_major "$c/bin/java") == "$want" ]] && { echo "$c"; return 0; }
    done
    if c=$(command -v java 2>/dev/null) && [[ $(java_major "$c") == "$want" ]]; then
      c=$(readlink -f "$c"); echo "${c%/bin/java}"; return 0
    fi
  done
  return 1
}

ensure_java() {
  if ! JAVA_HOME=$(find_java); then
    qp_log "no Java 17 found: installing openjdk-17-jre-headless"
    qp_apt_install openjdk-17-jre-headless || { qp_err "could not install Java 17"; return 1; }
    JAVA_HOME=$(find_java) || { qp_err "no Java 17 or 11 found after install"; return 1; }
  fi
  export JAVA_HOME
}

cp_is_cached() {
  [[ -s $CP_FILE && -f $CP_FILE.pom-sha ]] || return 1
  [[ $(cat "$CP_FILE.pom-sha") == "$(sha256sum "$POM" | cut -d' ' -f1)" ]] || return 1
  local jar
  while IFS= read -r jar; do
    [[ -z $jar || -f $jar ]] || return 1
  done < <(tr ':' '\n' <"$CP_FILE")
}

resolve_classpath() {
  if cp_is_cached; then
    qp_log "classpath cached in $CP_FILE ($(tr ':' '\n' <"$CP_FILE" | wc -l) jars): skipping Maven"
    return 0
  fi
  if ! command -v mvn >/dev/null 2>&1; then
    qp_log "mvn not found: installing maven"
    qp_apt_install maven || { qp_err "could not install maven"; return 1; }
  fi
  local t0
  t0=$(qp_now_ms)
  qp_log "resolving the Cassandra classpath with Maven (first run downloads ~95 MB; log: $MAVEN_LOG)"
  rm -f "$CP_FILE" "$CP_FILE.pom-sha"
  if ! mvn -B -q -f "$POM" dependency:build-classpath \
      -Dmdep.includeScope=runtime -Dmdep.outputFile="$CP_FILE" >"$MAVEN_LOG" 2>&1 \
      || [[ ! -s $CP_FILE ]]; then
    qp_err "service cassandra: Maven could not resolve $POM; log: $MAVEN_LOG"
    tail -n 40 "$MAVEN_LOG" >&2 || true
    rm -f "$CP_FILE"
    return 1
  fi
  sha256sum "$POM" | cut -d' ' -f1 >"$CP_FILE.pom-sha"
  qp_log "Maven resolve took $(qp_since "$t0") s ($(tr ':' '\n' <"$CP_FILE" | wc -l) jars)"
}

write_config() {
  cat >"$DIR/cassandra.yaml" <<YAML
# Generated by scripts/services/cassandra.sh: a throw-away single node for the tests.
# 5.0 key names; unknown keys make Cassandra refuse to start.
cluster_name: 'questpath-test'
num_tokens: 1
partitioner: org.apache.cassandra.dht.Murmur3Partitioner
endpoint_snitch: SimpleSnitch
seed_provider:
  - class_name: org.apache.cassandra.locator.SimpleSeedProvider
    parameters:
      - seeds: "127.0.0.1:$STORAGE_PORT"
listen_address: 127.0.0.1
rpc_address: 127.0.0.1
storage_port: $STORAGE_PORT
native_transport_port: $PORT
start_native_transport: true

data_file_directories: [ $DIR/data ]
commitlog_directory: $DIR/commitlog
saved_caches_directory: $DIR/saved_caches
hints_directory: $DIR/hints
cdc_raw_directory: $DIR/cdc_raw

commitlog_sync: periodic
commitlog_sync_period: 10000ms
auto_snapshot: false
snapshot_before_compaction: false
incremental_backups: false
memtable_allocation_type: heap_buffers
memtable_heap_space: 128MiB

# a busy 2-core machine (cargo building next to it) must not turn into spurious timeouts
read_request_timeout: 10000ms
range_request_timeout: 20000ms
write_request_timeout: 10000ms
counter_write_request_timeout: 10000ms
cas_contention_timeout: 5000ms
truncate_request_timeout: 60000ms
request_timeout: 20000ms

# ScyllaDB's defaults (128 KiB warn / 1 MiB fail) instead of Cassandra's 5 / 50 KiB
batch_size_warn_threshold: 128KiB
batch_size_fail_threshold: 1024KiB

# ScyllaDB has materialized views on; Cassandra has them off by default
materialized_views_enabled: true
sasi_indexes_enabled: false
user_defined_functions_enabled: false
# 5.0 storage formats: TTLs past 2038 work (fresh node only)
storage_compatibility_mode: NONE
YAML
  cat >"$DIR/logback.xml" <<'XML'
<configuration>
  <appender name="FILE" class="ch.qos.logback.core.FileAppender">
    <file>${cassandra.logdir}/system.log</file>
    <encoder><pattern>%-5level [%thread] %date{ISO8601} %F:%L - %msg%n</pattern></encoder>
  </appender>
  <root level="INFO"><appender-ref ref="FILE"/></root>
</configuration>
XML
}

fail_with_logs() {
  qp_err "$1"
  qp_err "service cassandra failed; log: $SYSLOG (JVM stdout/stderr: $STDOUT_LOG)"
  local f
  for f in "$STDOUT_LOG" "$SYSLOG"; do
    [[ -s $f ]] || continue
    echo "----- last lines of $f -----" >&2
    tail -n 60 "$f" >&2 || true
  done
  exit 1
}

# Wait until pid $1 serves CQL queries; exits non-zero if it dies or times out.
wait_ready() {
  local pid=$1 t0=$2 deadline=$((SECONDS + START_TIMEOUT)) ver
  while :; do
    if ! qp_pid_alive "$pid"; then
      rm -f "$PIDFILE"
      fail_with_logs "Cassandra (pid $pid) exited during startup"
    fi
    # "Starting listening for CQL clients" is logged just before the socket is bound,
    # so only a working query counts.
    if qp_port_open "$PORT" && ver=$(cql_query) && [[ -n $ver ]]; then
      echo started >"$DIR/last-start"
      qp_log "Cassandra $ver answers CQL on 127.0.0.1:$PORT (pid $pid)"
      qp_log "cassandra ready in $(qp_since "$t0") s"
      return 0
    fi
    if ((SECONDS >= deadline)); then
      qp_err "Cassandra did not answer CQL within ${START_TIMEOUT} s: killing pid $pid"
      kill -KILL "$pid" 2>/dev/null || true
      rm -f "$PIDFILE"
      fail_with_logs "timeout waiting for Cassandra on 127.0.0.1:$PORT"
    fi
    sleep 1
  done
}

cmd_start() {
  local t0 ver pid
  t0=$(qp_now_ms)
  mkdir -p "$DIR" "$(dirname "$CP_FILE")"
  if ver=$(cql_query) && [[ -n $ver ]]; then
    echo reused >"$DIR/last-start"
    qp_log "reusing the CQL server (release_version $ver) that already answers on 127.0.0.1:$PORT"
    qp_log "cassandra ready in $(qp_since "$t0") s (reused)"
    return 0
  fi
  if pid=$(our_pid); then
    qp_log "a Cassandra started by this script is still booting (pid $pid): waiting for it"
    wait_ready "$pid" "$t0"
    return 0
  fi
  if qp_port_open "$PORT"; then
    qp_err "port 127.0.0.1:$PORT is taken by something that does not answer CQL; set QUESTPATH_TEST_CQL_PORT"
    exit 1
  fi
  if qp_port_open "$STORAGE_PORT"; then
    qp_err "storage port 127.0.0.1:$STORAGE_PORT is taken; set QUESTPATH_TEST_CASSANDRA_STORAGE_PORT"
    exit 1
  fi

  ensure_java
  resolve_classpath || exit 1
  write_config
  # P10: a stale system keyspace blocks startup; the data are throw-away anyway
  rm -rf "$DIR"/{data,commitlog,saved_caches,hints,cdc_raw,logs}
  mkdir -p "$DIR"/{data,commitlog,saved_caches,hints,cdc_raw,logs}
  rm -f "$PIDFILE" "$DIR/last-start"

  local jvm=(
    -Xms"$HEAP" -Xmx"$HEAP" -Xss256k -XX:+UseG1GC -XX:+ExitOnOutOfMemoryError
    -Djava.net.preferIPv4Stack=true -Dio.netty.tryReflectionSetAccessible=true
    -Djdk.attach.allowAttachSelf=true
    --add-exports java.base/jdk.internal.misc=ALL-UNNAMED
    --add-exports java.base/jdk.internal.ref=ALL-UNNAMED
    --add-exports java.base/sun.nio.ch=ALL-UNNAMED
    --add-exports java.base/java.lang.ref=ALL-UNNAMED
    --add-exports java.management.rmi/com.sun.jmx.remote.internal.rmi=ALL-UNNAMED
    --add-exports java.management/com.sun.jmx.remote.security=ALL-UNNAMED
    --add-exports java.rmi/sun.rmi.registry=ALL-UNNAMED
    --add-exports java.rmi/sun.rmi.server=ALL-UNNAMED
    --add-exports java.sql/java.sql=ALL-UNNAMED
    --add-exports jdk.unsupported/sun.misc=ALL-UNNAMED
    --add-exports jdk.attach/sun.tools.attach=ALL-UNNAMED
    --add-exports jdk.compiler/com.sun.tools.javac.file=ALL-UNNAMED
    --add-opens java.base/java.lang=ALL-UNNAMED
    --add-opens java.base/java.lang.module=ALL-UNNAMED
    --add-opens java.base/java.lang.reflect=ALL-UNNAMED
    --add-opens java.base/java.io=ALL-UNNAMED
    --add-opens java.base/java.nio=ALL-UNNAMED
    --add-opens java.base/java.util=ALL-UNNAMED
    --add-opens java.base/jdk.internal.loader=ALL-UNNAMED
    --add-opens java.base/jdk.internal.ref=ALL-UNNAMED
    --add-opens java.base/jdk.internal.reflect=ALL-UNNAMED
    --add-opens java.base/jdk.internal.math=ALL-UNNAMED
    --add-opens java.base/jdk.internal.module=ALL-UNNAMED
    --add-opens java.base/jdk.internal.util.jar=ALL-UNNAMED
    --add-opens java.base/sun.nio.ch=ALL-UNNAMED
    --add-opens jdk.compiler/com.sun.tools.javac=ALL-UNNAMED
    --add-opens jdk.management/com.sun.management.internal=ALL-UNNAMED
    -Dcassandra.config="file://$DIR/cassandra.yaml"
    -Dcassandra.storagedir="$DIR"
    -Dcassandra.logdir="$LOGDIR"
    -Dlogback.configurationFile="$DIR/logback.xml"
    -Dcassandra-foreground=yes
    # speed-ups for a throw-away single node
    -Dcassandra.skip_wait_for_gossip_to_settle=0
    -Dcassandra.ring_delay_ms=1000
    -Dcassandra.superuser_setup_delay_ms=0
    -Dcassandra.test.flush_local_schema_changes=false
    -Dcassandra.skip_sync=true
    -Dcassandra.system_distributed.default_rf=1
    -Dcassandra.system_traces.default_rf=1
    -Dcassandra.system_auth.default_rf=1
    -cp "$(cat "$CP_FILE")"
    org.apache.cassandra.service.CassandraDaemon
  )
  qp_log "starting Cassandra with $("$JAVA_HOME/bin/java" -version 2>&1 | head -n 1) (heap $HEAP; log: $SYSLOG)"
  # New session, so that a Ctrl-C or the caller's job control does not hit the JVM; the
  # wrapper writes its own pid and then execs java, so the pid file holds the JVM's pid.
  local launcher=()
  command -v setsid >/dev/null 2>&1 && launcher=(setsid)
  # shellcheck disable=SC2016  # $$, $1 and $@ are for the inner bash
  "${launcher[@]}" bash -c 'echo $$ >"$1"; shift; exec "$@"' _ "$PIDFILE" \
    "$JAVA_HOME/bin/java" "${jvm[@]}" </dev/null >"$STDOUT_LOG" 2>&1 &
  for _ in $(seq 1 50); do [[ -s $PIDFILE ]] && break; sleep 0.1; done
  pid=$(cat "$PIDFILE" 2>/dev/null) || fail_with_logs "the JVM did not start"
  wait_ready "$pid" "$t0"
}

cmd_stop() {
  local pid
  if ! pid=$(our_pid); then
    rm -f "$PIDFILE"
    qp_log "no Cassandra started by this script is running (nothing to stop)"
    return 0
  fi
  local t0
  t0=$(qp_now_ms)
  qp_log "stopping Cassandra (pid $pid): SIGTERM"
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 600); do qp_pid_alive "$pid" || break; sleep 0.1; done
  if qp_pid_alive "$pid"; then
    qp_log "Cassandra did not stop within 60 s: SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do qp_pid_alive "$pid" || break; sleep 0.1; done
  fi
  rm -f "$PIDFILE"
  qp_log "Cassandra stopped in $(qp_since "$t0") s"
}

cmd_status() {
  local ver pid
  if ver=$(cql_query) && [[ -n $ver ]]; then
    if pid=$(our_pid); then
      qp_log "up: Cassandra $ver on 127.0.0.1:$PORT (started by this script, pid $pid)"
    else
      qp_log "up: CQL server $ver on 127.0.0.1:$PORT (not started by this script)"
    fi
    return 0
  fi
  if pid=$(our_pid); then
    qp_log "starting: pid $pid does not answer CQL on 127.0.0.1:$PORT yet (log: $SYSLOG)"
    return 1
  fi
  qp_log "down (no CQL server on 127.0.0.1:$PORT)"
  return 1
}

case "${1:-}" in
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
