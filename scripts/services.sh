#!/usr/bin/env bash
# Real services for Driftline's integration tests and local use, on loopback only:
#   - Apache Kafka, single node in KRaft mode (broker + controller in one JVM), jars from
#     Maven Central cached in .cache/kafka-libs/ of the repo;
#   - ClickHouse server from Debian's clickhouse-server package (18.16), with its own config;
#   - Debian's kcat, the non-Python producer of the Kafka codec tests (installed if missing).
# Kafka listens on PLAINTEXT and, for the security tests, on SASL_SSL (PLAIN, SCRAM-SHA-256
# and SCRAM-SHA-512; server certificate only) and on SSL with client certificates required.
# The certificates (a private CA, the broker's and a client's) are made by openssl into
# $SERVICES_DIR/kafka/tls at every start; the SASL user's password is random per start.
#
# Usage: scripts/services.sh start|stop|status|env|clickhouse-stop|clickhouse-start
#        |kafka-stop|kafka-start|start-cluster|stop-cluster|shard-stop N|shard-start N
# DRIFTLINE_CLUSTER=1 makes start also start a two-shard ClickHouse cluster (two more
# 18.16 servers; start-cluster adds it to a running instance) and write its name and
# shard addresses into the env file (DRIFTLINE_TEST_CLICKHOUSE_CLUSTER / _SHARDS).
#
# SERVICES_DIR (default: <repo>/.services) holds config, data, logs, pid files and the
# `env` file; give each independent instance its own SERVICES_DIR.
# Other knobs: SERVICES_START_TIMEOUT (seconds per service, default 90),
# SERVICES_STOP_TIMEOUT (seconds before SIGKILL, default 20), KAFKA_HEAP (default 512m).
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SERVICES_DIR="${SERVICES_DIR:-$REPO/.services}"
KAFKA_POM="$REPO/scripts/kafka/pom.xml"
KAFKA_LIBS="${KAFKA_LIBS:-$REPO/.cache/kafka-libs}"
START_TIMEOUT="${SERVICES_START_TIMEOUT:-90}"
STOP_TIMEOUT="${SERVICES_STOP_TIMEOUT:-20}"
KAFKA_HEAP="${KAFKA_HEAP:-512m}"

LOG_DIR="$SERVICES_DIR/logs"
RUN_DIR="$SERVICES_DIR/run"
ENV_FILE="$SERVICES_DIR/env"

say() { echo "services: $*" >&2; }
die() {
  say "ERROR: $*"
  exit 1
}

# The venv's python has kafka-python (used for the Kafka health check); fall back to python3.
if [[ -x "$REPO/.venv/bin/python" ]]; then
  PYTHON="$REPO/.venv/bin/python"
else
  PYTHON="$(command -v python3 || true)"
fi
[[ -n "$PYTHON" ]] || die "python3 is required"

as_root() {
  if [[ "$(id -u)" == 0 ]]; then
    "$@"
  elif command -v sudo >/dev/null; then
    sudo "$@"
  else
    die "need root (or sudo) to run: $*"
  fi
}

# ---------------------------------------------------------------------------------------
# Process helpers
# ---------------------------------------------------------------------------------------

# A pid file only counts when its process is still ours: the command line must name this
# service's folder in our services dir, so a recycled pid (or a process of another
# instance whose SERVICES_DIR merely starts with ours) is never signalled.
pid_of() {
  local name="$1" pid
  [[ -f "$RUN_DIR/$name.pid" ]] || return 1
  pid="$(cat "$RUN_DIR/$name.pid")"
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  [[ -r "/proc/$pid/cmdline" ]] || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF "$SERVICES_DIR/$name/" || return 1
  echo "$pid"
}

log_tail() {
  local file="$1"
  if [[ -s "$file" ]]; then
    echo "----- last lines of $file -----" >&2
    tail -n 40 "$file" >&2
    echo "-----" >&2
  fi
}

# Start "$@" in its own session (so stopping kills its whole process group and a test
# runner's Ctrl-C does not reach it), stdout/stderr to a log, pid to a pid file.
spawn() {
  local name="$1"
  shift
  local log="$LOG_DIR/$name.out"
  # shellcheck disable=SC2016  # $$ must expand in the inner shell
  setsid bash -c 'echo $$ >"$0"; exec "$@"' "$RUN_DIR/$name.pid" "$@" >"$log" 2>&1 </dev/null &
  local i
  for i in $(seq 50); do
    [[ -s "$RUN_DIR/$name.pid" ]] && return 0
    sleep 0.1
  done
  die "$name: no pid file after spawning"
}

stop_one() {
  local name="$1" pid i
  if ! pid="$(pid_of "$name")"; then
    rm -f "$RUN_DIR/$name.pid"
    return 0
  fi
  say "stopping $name (pid $pid)"
  kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
  for i in $(seq $((STOP_TIMEOUT * 10))); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then
    say "$name did not stop within ${STOP_TIMEOUT}s: SIGKILL"
    kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
    for i in $(seq 50); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
  fi
  rm -f "$RUN_DIR/$name.pid"
}

# Poll "$check" (a command) until it succeeds, the process dies or the deadline passes.
wait_healthy() {
  local name="$1" log="$2"
  shift 2
  local deadline=$((SECONDS + START_TIMEOUT)) pid
  while true; do
    if ! pid="$(pid_of "$name")"; then
      say "$name exited during start-up"
      log_tail "$log"
      log_tail "$LOG_DIR/$name.out"
      return 1
    fi
    if "$@" >"$RUN_DIR/$name.health" 2>&1; then
      return 0
    fi
    if ((SECONDS >= deadline)); then
      say "$name not healthy after ${START_TIMEOUT}s; last health check said:"
      tail -n 5 "$RUN_DIR/$name.health" >&2 || true
      log_tail "$log"
      log_tail "$LOG_DIR/$name.out"
      return 1
    fi
    sleep 0.5
  done
}

free_ports() {
  # Hold all sockets open together so the ports are distinct.
  "$PYTHON" - "$1" <<'EOF'
import socket, sys
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    socks.append(s)
print(" ".join(str(s.getsockname()[1]) for s in socks))
EOF
}

# ---------------------------------------------------------------------------------------
# Kafka
# ---------------------------------------------------------------------------------------

# The cache is complete when its marker names the pom it was fetched for.
ensure_kafka_libs() {
  local want
  want="$(sha256sum "$KAFKA_POM" | cut -d' ' -f1)"
  if [[ "$(cat "$KAFKA_LIBS/.complete" 2>/dev/null)" == "$want" ]]; then
    return 0
  fi
  mkdir -p "$(dirname "$KAFKA_LIBS")"
  # Several instances may start at once: one fetches, the others wait for it.
  exec 9>"$KAFKA_LIBS.lock"
  flock 9
  if [[ "$(cat "$KAFKA_LIBS/.complete" 2>/dev/null)" != "$want" ]]; then
    command -v mvn >/dev/null || die "mvn is required to fetch the Kafka jars (not cached yet)"
    say "fetching Kafka jars with mvn into $KAFKA_LIBS"
    local tmp="$KAFKA_LIBS.tmp.$$"
    rm -rf "$tmp"
    if ! mvn -B -q -f "$KAFKA_POM" dependency:copy-dependencies \
      -DincludeScope=runtime -DoutputDirectory="$tmp" >"$tmp.log" 2>&1; then
      tail -n 40 "$tmp.log" >&2
      rm -rf "$tmp" "$tmp.log"
      die "mvn could not fetch the Kafka jars"
    fi
    rm -f "$tmp.log"
    echo "$want" >"$tmp/.complete"
    rm -rf "$KAFKA_LIBS"
    mv "$tmp" "$KAFKA_LIBS"
  fi
  flock -u 9
  exec 9>&-
}

# A private CA, the broker's certificate (for 127.0.0.1 and localhost) and a client
# certificate, all PEM; the broker's PEM keystore is its key followed by its chain.
make_kafka_tls() {
  local tls="$1"
  command -v openssl >/dev/null || die "openssl is required to make the test certificates"
  rm -rf "$tls"
  mkdir -p "$tls"
  (
    cd "$tls"
    openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj "/CN=driftline-test-ca" \
      -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign" \
      -keyout ca.key -out ca.pem
    printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n' >broker.ext
    printf 'basicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth\n' >client.ext
    local who
    for who in broker client; do
      openssl req -newkey rsa:2048 -nodes -subj "/CN=driftline-test-$who" \
        -keyout "$who.key" -out "$who.csr"
      openssl x509 -req -in "$who.csr" -CA ca.pem -CAkey ca.key -CAcreateserial -days 30 \
        -extfile "$who.ext" -out "$who.pem"
    done
    cat broker.key broker.pem ca.pem >broker-keystore.pem
    rm -f ./*.csr ./*.ext ca.key
  ) >"$LOG_DIR/kafka-tls.out" 2>&1 || {
    log_tail "$LOG_DIR/kafka-tls.out"
    die "kafka: making the test certificates failed"
  }
}

write_kafka_config() {
  local port="$1" controller_port="$2" sasl_port="$3" ssl_port="$4" password="$5"
  local dir="$SERVICES_DIR/kafka"
  mkdir -p "$dir/data"
  cat >"$dir/server.properties" <<EOF
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$controller_port
listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$controller_port,SASL_SSL://127.0.0.1:$sasl_port,SSL://127.0.0.1:$ssl_port
advertised.listeners=PLAINTEXT://127.0.0.1:$port,SASL_SSL://127.0.0.1:$sasl_port,SSL://127.0.0.1:$ssl_port
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT,SASL_SSL:SASL_SSL,SSL:SSL
ssl.keystore.type=PEM
ssl.keystore.location=$dir/tls/broker-keystore.pem
ssl.truststore.type=PEM
ssl.truststore.location=$dir/tls/ca.pem
listener.name.ssl.ssl.client.auth=required
sasl.enabled.mechanisms=PLAIN,SCRAM-SHA-256,SCRAM-SHA-512
listener.name.sasl_ssl.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required user_driftline="$password";
listener.name.sasl_ssl.scram-sha-256.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
log.dirs=$dir/data
num.partitions=3
auto.create.topics.enable=true
delete.topic.enable=true
default.replication.factor=1
min.insync.replicas=1
offsets.topic.replication.factor=1
# Fewer than the default 50 partitions: the offsets topic is created on first group use.
offsets.topic.num.partitions=5
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
group.initial.rebalance.delay.ms=0
log.retention.hours=24
log.segment.bytes=67108864
EOF
  cat >"$dir/log4j.properties" <<EOF
log4j.rootLogger=INFO, file
log4j.appender.file=org.apache.log4j.FileAppender
log4j.appender.file.File=$LOG_DIR/kafka.log
log4j.appender.file.layout=org.apache.log4j.PatternLayout
log4j.appender.file.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.kafka.request.logger=WARN
log4j.logger.state.change.logger=WARN
EOF
}

kafka_healthy() {
  "$PYTHON" - "$1" <<'EOF'
import sys
from kafka import KafkaAdminClient

admin = KafkaAdminClient(bootstrap_servers=sys.argv[1], request_timeout_ms=3000,
                         client_id="driftline-services-health")
try:
    admin.list_topics()
    if not admin.describe_cluster().get("brokers"):
        raise SystemExit("no broker in metadata")
finally:
    admin.close()
EOF
}

start_kafka() {
  local port="$1" controller_port="$2" sasl_port="$3" ssl_port="$4" password="$5"
  local dir="$SERVICES_DIR/kafka"
  command -v java >/dev/null || die "java (17) is required for Kafka"
  "$PYTHON" -c 'import kafka' 2>/dev/null ||
    die "$PYTHON lacks kafka-python (needed for the health check); run: pip install -e ."
  ensure_kafka_libs
  make_kafka_tls "$dir/tls"
  write_kafka_config "$port" "$controller_port" "$sasl_port" "$ssl_port" "$password"
  local cp="$KAFKA_LIBS/*"
  local jvm=(java "-Xms128m" "-Xmx$KAFKA_HEAP" -XX:+UseG1GC -Djava.awt.headless=true
    "-Dlog4j.configuration=file:$dir/log4j.properties" "-Dkafka.logs.dir=$LOG_DIR" -cp "$cp")
  local cluster_id
  # An id starting with "-" would be read as an option by the storage tool (Kafka's own
  # Uuid.randomUuid() avoids those too).
  cluster_id="$("$PYTHON" -c '
import base64, uuid
while True:
    cid = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
    if not cid.startswith("-"):
        print(cid)
        break
')"
  # SCRAM credentials live in the cluster metadata: created when the storage is formatted.
  if ! "${jvm[@]}" kafka.tools.StorageTool format -t "$cluster_id" \
    -c "$dir/server.properties" \
    --add-scram "SCRAM-SHA-256=[name=driftline,password=$password]" \
    --add-scram "SCRAM-SHA-512=[name=driftline,password=$password]" \
    >"$LOG_DIR/kafka-format.out" 2>&1; then
    log_tail "$LOG_DIR/kafka-format.out"
    die "kafka: formatting the storage failed"
  fi
  spawn kafka "${jvm[@]}" kafka.Kafka "$dir/server.properties"
  say "kafka starting on 127.0.0.1:$port (pid $(cat "$RUN_DIR/kafka.pid"))"
  wait_healthy kafka "$LOG_DIR/kafka.log" kafka_healthy "127.0.0.1:$port"
}

# ---------------------------------------------------------------------------------------
# ClickHouse
# ---------------------------------------------------------------------------------------

clickhouse_binary() {
  local b
  for b in clickhouse-server /usr/sbin/clickhouse-server /usr/bin/clickhouse-server; do
    if command -v "$b" >/dev/null; then
      command -v "$b"
      return 0
    fi
  done
  return 1
}

ensure_clickhouse() {
  if clickhouse_binary >/dev/null && command -v clickhouse-client >/dev/null; then
    return 0
  fi
  say "installing Debian's clickhouse-server and clickhouse-client"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q >&2
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
    clickhouse-server clickhouse-client >&2
  clickhouse_binary >/dev/null || die "clickhouse-server binary still missing after install"
}

# kcat (librdkafka) is the non-Python producer of the codec tests: what JVM and C clients
# write must decode too.
ensure_kcat() {
  command -v kcat >/dev/null && return 0
  say "installing Debian's kcat"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q >&2
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q kcat >&2
  command -v kcat >/dev/null || die "kcat still missing after install"
}

# write_clickhouse_config TCP HTTP [NAME [EXTRA_XML]]: NAME (default clickhouse) names
# the folder, pid and logs, so the cluster's shard servers sit next to the main one;
# EXTRA_XML goes into the server config as is (the shards' remote_servers).
write_clickhouse_config() {
  local tcp_port="$1" http_port="$2" name="${3:-clickhouse}" extra="${4:-}"
  local dir="$SERVICES_DIR/$name"
  mkdir -p "$dir/data" "$dir/tmp" "$dir/user_files" "$dir/format_schemas"
  # No interserver_http_port: it is only for replication, and leaving it out keeps this
  # instance from colliding with another one on the default 9009.
  cat >"$dir/config.xml" <<EOF
<?xml version="1.0"?>
<yandex>
    <logger>
        <level>information</level>
        <log>$LOG_DIR/$name.log</log>
        <errorlog>$LOG_DIR/$name.err.log</errorlog>
        <size>100M</size>
        <count>2</count>
    </logger>
    <listen_host>127.0.0.1</listen_host>
    <tcp_port>$tcp_port</tcp_port>
    <http_port>$http_port</http_port>
    <path>$dir/data/</path>
    <tmp_path>$dir/tmp/</tmp_path>
    <user_files_path>$dir/user_files/</user_files_path>
    <format_schema_path>$dir/format_schemas/</format_schema_path>
    <users_config>$dir/users.xml</users_config>
    <default_profile>default</default_profile>
    <default_database>default</default_database>
    <timezone>UTC</timezone>
    <max_connections>1024</max_connections>
    <keep_alive_timeout>3</keep_alive_timeout>
    <max_concurrent_queries>100</max_concurrent_queries>
    <uncompressed_cache_size>268435456</uncompressed_cache_size>
    <mark_cache_size>268435456</mark_cache_size>
    <mlock_executable>false</mlock_executable>
    <builtin_dictionaries_reload_interval>3600</builtin_dictionaries_reload_interval>
    <max_session_timeout>3600</max_session_timeout>
    <default_session_timeout>60</default_session_timeout>
$extra
</yandex>
EOF
  cat >"$dir/users.xml" <<EOF
<?xml version="1.0"?>
<yandex>
    <profiles>
        <default>
            <max_memory_usage>2000000000</max_memory_usage>
            <load_balancing>random</load_balancing>
        </default>
    </profiles>
    <users>
        <default>
            <password></password>
            <networks>
                <ip>127.0.0.1</ip>
                <ip>::1</ip>
            </networks>
            <profile>default</profile>
            <quota>default</quota>
        </default>
    </users>
    <quotas>
        <default>
            <interval>
                <duration>3600</duration>
                <queries>0</queries>
                <errors>0</errors>
                <result_rows>0</result_rows>
                <read_rows>0</read_rows>
                <execution_time>0</execution_time>
            </interval>
        </default>
    </quotas>
</yandex>
EOF
}

clickhouse_healthy() {
  clickhouse-client --host 127.0.0.1 --port "$1" --query 'SELECT 1'
}

start_clickhouse() {
  local tcp_port="$1" http_port="$2" name="${3:-clickhouse}" extra="${4:-}"
  local dir="$SERVICES_DIR/$name" bin
  ensure_clickhouse
  bin="$(clickhouse_binary)"
  write_clickhouse_config "$tcp_port" "$http_port" "$name" "$extra"
  spawn "$name" "$bin" --config-file="$dir/config.xml"
  say "$name starting on 127.0.0.1:$tcp_port (pid $(cat "$RUN_DIR/$name.pid"))"
  wait_healthy "$name" "$LOG_DIR/$name.err.log" clickhouse_healthy "$tcp_port"
}

# ---------------------------------------------------------------------------------------
# A two-shard ClickHouse cluster (DRIFTLINE_CLUSTER=1 start, or start-cluster later)
# ---------------------------------------------------------------------------------------

# Two more 18.16 servers on loopback, each with the same remote_servers section naming
# both as the shards of one cluster (one replica each). Distributed tables reach the
# shards over their native ports, so no interserver port and no ZooKeeper are needed;
# the store runs its DDL on each shard itself (no ON CLUSTER).
CLUSTER_NAME=driftline_test
CLUSTER_SHARDS=(clickhouse-shard1 clickhouse-shard2)

cluster_remote_servers() {
  local port
  echo "    <remote_servers><$CLUSTER_NAME>"
  for port in "$@"; do
    echo "        <shard><replica><host>127.0.0.1</host><port>$port</port></replica></shard>"
  done
  echo "    </$CLUSTER_NAME></remote_servers>"
}

cluster_running() {
  local name
  for name in "${CLUSTER_SHARDS[@]}"; do
    pid_of "$name" >/dev/null || return 1
  done
  grep -q '^DRIFTLINE_TEST_CLICKHOUSE_CLUSTER=' "$ENV_FILE" 2>/dev/null
}

# Start the shard servers (fresh data) and print the env lines that describe them.
start_cluster() {
  local ports http_ports=() tcp_ports=() xml i name bin
  read -r -a ports <<<"$(free_ports $((2 * ${#CLUSTER_SHARDS[@]})))"
  for i in "${!CLUSTER_SHARDS[@]}"; do
    tcp_ports+=("${ports[$((2 * i))]}")
    http_ports+=("${ports[$((2 * i + 1))]}")
  done
  xml="$(cluster_remote_servers "${tcp_ports[@]}")"
  ensure_clickhouse
  bin="$(clickhouse_binary)"
  # Spawn all, then wait for each: the servers start side by side.
  for i in "${!CLUSTER_SHARDS[@]}"; do
    name="${CLUSTER_SHARDS[$i]}"
    rm -rf "${SERVICES_DIR:?}/$name"
    write_clickhouse_config "${tcp_ports[$i]}" "${http_ports[$i]}" "$name" "$xml"
    spawn "$name" "$bin" --config-file="$SERVICES_DIR/$name/config.xml"
    say "$name starting on 127.0.0.1:${tcp_ports[$i]} (pid $(cat "$RUN_DIR/$name.pid"))"
  done
  for i in "${!CLUSTER_SHARDS[@]}"; do
    name="${CLUSTER_SHARDS[$i]}"
    wait_healthy "$name" "$LOG_DIR/$name.err.log" clickhouse_healthy "${tcp_ports[$i]}" ||
      return 1
  done
  # The cluster must be what the servers themselves see, not only what we wrote.
  local shards
  shards="$(clickhouse-client --host 127.0.0.1 --port "${tcp_ports[0]}" --query \
    "SELECT count() FROM system.clusters WHERE cluster = '$CLUSTER_NAME'")"
  if [[ "$shards" != "${#CLUSTER_SHARDS[@]}" ]]; then
    say "cluster $CLUSTER_NAME: system.clusters lists ${shards:-nothing}, not ${#CLUSTER_SHARDS[@]}"
    log_tail "$LOG_DIR/${CLUSTER_SHARDS[0]}.err.log"
    return 1
  fi
  local addresses
  addresses="$(printf '127.0.0.1:%s,' "${tcp_ports[@]}")"
  echo "DRIFTLINE_TEST_CLICKHOUSE_CLUSTER=$CLUSTER_NAME"
  echo "DRIFTLINE_TEST_CLICKHOUSE_SHARDS=${addresses%,}"
}

stop_cluster() {
  local name
  for name in "${CLUSTER_SHARDS[@]}"; do
    stop_one "$name"
  done
}

# ---------------------------------------------------------------------------------------
# Commands
# ---------------------------------------------------------------------------------------

cmd_stop() {
  stop_one kafka
  stop_one clickhouse
  stop_cluster
  rm -f "$ENV_FILE"
}

cmd_start() {
  mkdir -p "$SERVICES_DIR"
  if pid_of kafka >/dev/null && pid_of clickhouse >/dev/null && [[ -s "$ENV_FILE" ]]; then
    if [[ "${DRIFTLINE_CLUSTER:-0}" == 1 ]] && ! cluster_running; then
      cmd_start_cluster
      return 0
    fi
    say "already running in $SERVICES_DIR"
    cat "$ENV_FILE"
    return 0
  fi
  cmd_stop
  # Fresh data every start: tests expect an empty broker and server.
  rm -rf "$SERVICES_DIR/kafka" "$SERVICES_DIR/clickhouse" "$SERVICES_DIR"/clickhouse-shard* \
    "$LOG_DIR" "$RUN_DIR"
  mkdir -p "$LOG_DIR" "$RUN_DIR"

  # Whatever fails from here on (a die inside a helper included), leave nothing running.
  trap 'rc=$?; if ((rc != 0)); then cmd_stop; fi' EXIT

  local kafka_port controller_port ch_tcp ch_http sasl_port ssl_port password
  read -r kafka_port controller_port ch_tcp ch_http sasl_port ssl_port <<<"$(free_ports 6)"
  password="$("$PYTHON" -c 'import secrets; print(secrets.token_hex(16))')"

  ensure_kcat
  # ClickHouse first: it is quick, so a broken install is reported before the JVM starts.
  start_clickhouse "$ch_tcp" "$ch_http" || die "clickhouse could not start (logs in $LOG_DIR)"
  start_kafka "$kafka_port" "$controller_port" "$sasl_port" "$ssl_port" "$password" ||
    die "kafka could not start (logs in $LOG_DIR)"
  local cluster_env=""
  if [[ "${DRIFTLINE_CLUSTER:-0}" == 1 ]]; then
    cluster_env="$(start_cluster)" || die "the two-shard ClickHouse cluster could not start"
  fi

  cat >"$ENV_FILE.tmp" <<EOF
DRIFTLINE_TEST_KAFKA=127.0.0.1:$kafka_port
DRIFTLINE_TEST_KAFKA_SASL_SSL=127.0.0.1:$sasl_port
DRIFTLINE_TEST_KAFKA_SSL=127.0.0.1:$ssl_port
DRIFTLINE_TEST_KAFKA_SASL_USER=driftline
DRIFTLINE_TEST_KAFKA_SASL_PASSWORD=$password
DRIFTLINE_TEST_KAFKA_TLS_DIR=$SERVICES_DIR/kafka/tls
DRIFTLINE_TEST_CLICKHOUSE=127.0.0.1:$ch_tcp
DRIFTLINE_TEST_CLICKHOUSE_HTTP=127.0.0.1:$ch_http
EOF
  [[ -z "$cluster_env" ]] || echo "$cluster_env" >>"$ENV_FILE.tmp"
  mv "$ENV_FILE.tmp" "$ENV_FILE"
  say "ready (env in $ENV_FILE)"
  cat "$ENV_FILE"
}

# Stop or start only the ClickHouse server of a running instance, keeping its data and
# port: outage tests take the store away and bring it back.
cmd_clickhouse_stop() {
  stop_one clickhouse
}

cmd_clickhouse_start() {
  [[ -s "$ENV_FILE" ]] || die "no running instance in $SERVICES_DIR (start it first)"
  local tcp http
  tcp="$(sed -n 's/^DRIFTLINE_TEST_CLICKHOUSE=.*://p' "$ENV_FILE")"
  http="$(sed -n 's/^DRIFTLINE_TEST_CLICKHOUSE_HTTP=.*://p' "$ENV_FILE")"
  pid_of clickhouse >/dev/null && return 0
  start_clickhouse "$tcp" "$http" || die "clickhouse could not start (logs in $LOG_DIR)"
}

# The same for Kafka: outage tests stop the broker and start it again on the same port,
# data and cluster id (its storage is formatted only by "start").
cmd_kafka_stop() {
  stop_one kafka
}

cmd_kafka_start() {
  [[ -s "$ENV_FILE" ]] || die "no running instance in $SERVICES_DIR (start it first)"
  local port dir="$SERVICES_DIR/kafka"
  port="$(sed -n 's/^DRIFTLINE_TEST_KAFKA=.*://p' "$ENV_FILE")"
  pid_of kafka >/dev/null && return 0
  [[ -s "$dir/server.properties" ]] || die "kafka: no configuration in $dir (start it first)"
  local cp="$KAFKA_LIBS/*"
  local jvm=(java "-Xms128m" "-Xmx$KAFKA_HEAP" -XX:+UseG1GC -Djava.awt.headless=true
    "-Dlog4j.configuration=file:$dir/log4j.properties" "-Dkafka.logs.dir=$LOG_DIR" -cp "$cp")
  spawn kafka "${jvm[@]}" kafka.Kafka "$dir/server.properties"
  say "kafka restarting on 127.0.0.1:$port (pid $(cat "$RUN_DIR/kafka.pid"))"
  wait_healthy kafka "$LOG_DIR/kafka.log" kafka_healthy "127.0.0.1:$port" ||
    die "kafka could not start again (logs in $LOG_DIR)"
}

# Add the two-shard cluster to a running instance, or start it alone (an env file with
# only its lines); a running cluster is restarted with fresh data.
cmd_start_cluster() {
  mkdir -p "$LOG_DIR" "$RUN_DIR"
  touch "$ENV_FILE"
  stop_cluster
  local lines
  lines="$(start_cluster)" || {
    stop_cluster
    die "the two-shard ClickHouse cluster could not start (logs in $LOG_DIR)"
  }
  grep -v '^DRIFTLINE_TEST_CLICKHOUSE_\(CLUSTER\|SHARDS\)=' "$ENV_FILE" >"$ENV_FILE.tmp" || true
  echo "$lines" >>"$ENV_FILE.tmp"
  mv "$ENV_FILE.tmp" "$ENV_FILE"
  say "cluster ready (env in $ENV_FILE)"
  cat "$ENV_FILE"
}

cmd_stop_cluster() {
  stop_cluster
  if [[ -s "$ENV_FILE" ]]; then
    grep -v '^DRIFTLINE_TEST_CLICKHOUSE_\(CLUSTER\|SHARDS\)=' "$ENV_FILE" >"$ENV_FILE.tmp" || true
    mv "$ENV_FILE.tmp" "$ENV_FILE"
  fi
}

# Stop or start one shard server of a running cluster (N = 1 or 2), keeping its data and
# port: outage tests take a shard away and bring it back.
shard_name() {
  [[ "${1:-}" =~ ^[0-9]+$ ]] && ((${1} >= 1 && ${1} <= ${#CLUSTER_SHARDS[@]})) ||
    die "name a shard: 1..${#CLUSTER_SHARDS[@]}"
  echo "${CLUSTER_SHARDS[$(($1 - 1))]}"
}

cmd_shard_stop() {
  local name
  name="$(shard_name "${1:-}")"
  stop_one "$name"
}

cmd_shard_start() {
  local name dir port bin
  name="$(shard_name "${1:-}")"
  dir="$SERVICES_DIR/$name"
  [[ -s "$dir/config.xml" ]] || die "$name: no configuration in $dir (start-cluster first)"
  pid_of "$name" >/dev/null && return 0
  port="$(sed -n 's:.*<tcp_port>\([0-9]*\)</tcp_port>.*:\1:p' "$dir/config.xml")"
  bin="$(clickhouse_binary)"
  spawn "$name" "$bin" --config-file="$dir/config.xml"
  say "$name restarting on 127.0.0.1:$port (pid $(cat "$RUN_DIR/$name.pid"))"
  wait_healthy "$name" "$LOG_DIR/$name.err.log" clickhouse_healthy "$port" ||
    die "$name could not start again (logs in $LOG_DIR)"
}

cmd_status() {
  local rc=0 name pid
  for name in "${CLUSTER_SHARDS[@]}"; do
    if pid="$(pid_of "$name")"; then
      echo "$name: running (pid $pid)"
    fi
  done
  for name in kafka clickhouse; do
    if pid="$(pid_of "$name")"; then
      echo "$name: running (pid $pid)"
    else
      echo "$name: stopped"
      rc=1
    fi
  done
  [[ -s "$ENV_FILE" ]] && cat "$ENV_FILE"
  return "$rc"
}

cmd_env() {
  [[ -s "$ENV_FILE" ]] || die "no env file: services not started in $SERVICES_DIR"
  cat "$ENV_FILE"
}

case "${1:-}" in
start) cmd_start ;;
stop) cmd_stop ;;
status) cmd_status ;;
env) cmd_env ;;
clickhouse-stop) cmd_clickhouse_stop ;;
clickhouse-start) cmd_clickhouse_start ;;
kafka-stop) cmd_kafka_stop ;;
kafka-start) cmd_kafka_start ;;
start-cluster) cmd_start_cluster ;;
stop-cluster) cmd_stop_cluster ;;
shard-stop) cmd_shard_stop "${2:-}" ;;
shard-start) cmd_shard_start "${2:-}" ;;
*)
  echo "usage: $0 start|stop|status|env|clickhouse-stop|clickhouse-start|kafka-stop|kafka-start" \
    "|start-cluster|stop-cluster|shard-stop N|shard-start N (SERVICES_DIR=${SERVICES_DIR})" >&2
  exit 2
  ;;
esac
