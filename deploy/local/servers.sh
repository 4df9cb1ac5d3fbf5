#!/usr/bin/env bash
# Local infrastructure for development and tests: Apache Kafka (KRaft, single
# node, jars resolved from Maven Central by pom.xml) and Redis (Debian's
# redis-server, installed when missing). Everything lives under one state
# directory. Idempotent: starting a running server or stopping a stopped one is
# not an error. Readiness is waited for, never slept for.
#
#   deploy/local/servers.sh start|stop|status|reset [kafka|redis]
#   deploy/local/servers.sh ensure
#
# `ensure` starts Redis and Kafka where they are not running and prints the
# names of those it started, one a line, so that a script can stop just those
# on exit and leave running the servers someone else started.
#
# Secure mode (AUTOCAL_SECURE=1, or --secure after the command): Kafka's only
# client listener is SASL_SSL with SCRAM-SHA-512 and ACLs (StandardAuthorizer,
# deny unless allowed), Redis needs TLS and an ACL user. On the first start it
# makes, under <state>/secure: a CA and a certificate for 127.0.0.1/localhost
# (openssl), a random password per principal (autocal-admin, the super user of
# tests and tools, and one per service: run-watcher, task-dispatcher,
# job-executor, condition-uploader, metrics), the SCRAM users (at storage
# format time), the Redis ACL file; after Kafka is up it applies the
# services' topic ACLs (packages/runtime/scripts/kafka-acls.ts). It writes
# <state>/client.env: the AUTOCAL_KAFKA_*/AUTOCAL_REDIS_* keys of the admin
# principal, which test/run.sh and deploy/run.sh source. A state directory
# keeps the mode it was first started in (`reset` to change it).
#
#   AUTOCAL_SECURE=1 deploy/local/servers.sh start      # or: servers.sh start --secure
#
# Environment: AUTOCAL_STATE_DIR (default <repo>/.autocal), AUTOCAL_KAFKA_PORT
# (9092), AUTOCAL_KAFKA_CONTROLLER_PORT (9093), AUTOCAL_REDIS_PORT (6390),
# AUTOCAL_SECURE (0), AUTOCAL_TOOLS (cache of downloaded tools, default
# ~/.cache/autocal/tools).
set -euo pipefail
args=()
SECURE="${AUTOCAL_SECURE:-0}"
for a in "$@"; do if [ "$a" = --secure ]; then SECURE=1; else args+=("$a"); fi; done
set -- "${args[@]+"${args[@]}"}"
case "$SECURE" in 1|true|yes) SECURE=1 ;; *) SECURE=0 ;; esac
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
STATE="${AUTOCAL_STATE_DIR:-$repo/.autocal}"
TOOLS="${AUTOCAL_TOOLS:-$HOME/.cache/autocal/tools}"
KAFKA_PORT="${AUTOCAL_KAFKA_PORT:-9092}"
CONTROLLER_PORT="${AUTOCAL_KAFKA_CONTROLLER_PORT:-9093}"
REDIS_PORT="${AUTOCAL_REDIS_PORT:-6390}"
KAFKA_VERSION="$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$here/pom.xml")"
KAFKA_LIBS="$TOOLS/kafka-$KAFKA_VERSION/libs"
SEC="$STATE/secure"
MODE="$([ "$SECURE" = 1 ] && echo secure || echo plain)"
# the principals of secure mode: the admin (super user: tests, tools) and one per service
PRINCIPALS=(autocal-admin run-watcher task-dispatcher job-executor condition-uploader metrics)

log() { echo "servers: $*" >&2; }
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

wait_for() { # wait_for <what> <seconds> <command...>
  local what="$1" limit="$2"; shift 2
  local deadline=$((SECONDS + limit))
  until "$@"; do
    if [ "$SECONDS" -ge "$deadline" ]; then log "$what not ready after ${limit}s"; return 1; fi
    sleep 0.2
  done
}

kafka_jars() {
  if [ -f "$KAFKA_LIBS/.complete" ]; then return; fi
  command -v mvn >/dev/null || { log "Maven (mvn) is needed to fetch the Kafka jars"; exit 1; }
  command -v java >/dev/null || { log "Java 17+ is needed to run Kafka"; exit 1; }
  log "resolving Kafka $KAFKA_VERSION jars with Maven into $KAFKA_LIBS"
  rm -rf "$KAFKA_LIBS"; mkdir -p "$KAFKA_LIBS"
  mvn -q -B -f "$here/pom.xml" dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$KAFKA_LIBS" >&2
  touch "$KAFKA_LIBS/.complete"
}

# --- secure mode: certificates, passwords, client environment ---------------

secure_init() {
  if [ -f "$SEC/.complete" ]; then write_client_env; return; fi
  if ! command -v openssl >/dev/null; then
    log "installing openssl (Debian package) for the certificates of secure mode"
    if [ "$(id -u)" = 0 ]; then apt-get install -y openssl >&2 || { apt-get update >&2 && apt-get install -y openssl >&2; }
    else sudo apt-get install -y openssl >&2; fi
  fi
  log "secure mode: making a CA, a server certificate and principals' passwords under $SEC"
  rm -rf "$SEC"; mkdir -p "$SEC/tls" "$SEC/secrets"; chmod 700 "$SEC" "$SEC/secrets"
  local tls="$SEC/tls"
  openssl req -x509 -newkey rsa:2048 -nodes -days 825 -subj /CN=autocal-local-ca \
    -keyout "$tls/ca.key" -out "$tls/ca.crt" 2>/dev/null
  openssl req -newkey rsa:2048 -nodes -subj /CN=autocal-broker -keyout "$tls/server.key" -out "$tls/server.csr" 2>/dev/null
  printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\nkeyUsage=digitalSignature,keyEncipherment\n' > "$tls/server.ext"
  openssl x509 -req -in "$tls/server.csr" -CA "$tls/ca.crt" -CAkey "$tls/ca.key" -CAcreateserial -days 825 \
    -extfile "$tls/server.ext" -out "$tls/server.crt" 2>/dev/null
  # Kafka's PEM keystore: the PKCS#8 key followed by the certificate
  cat "$tls/server.key" "$tls/server.crt" > "$tls/broker.pem"
  chmod 600 "$tls"/*.key "$tls/broker.pem"
  rm -f "$tls/server.csr" "$tls/server.ext"
  local p
  for p in "${PRINCIPALS[@]}"; do
    openssl rand -hex 24 > "$SEC/secrets/kafka-$p"
    openssl rand -hex 24 > "$SEC/secrets/redis-$p"
  done
  chmod 600 "$SEC"/secrets/*
  # Redis ACL users (passwords as SHA-256, as ACL SETUSER #<hash> takes them):
  # no default user; the admin may do anything; a service only non-dangerous
  # commands on the deployment's keys (autocal:*)
  {
    echo "user default off"
    echo "user autocal-admin on #$(tr -d '\n' < "$SEC/secrets/redis-autocal-admin" | sha256sum | cut -d' ' -f1) ~* &* +@all"
    for p in "${PRINCIPALS[@]:1}"; do
      echo "user $p on #$(tr -d '\n' < "$SEC/secrets/redis-$p" | sha256sum | cut -d' ' -f1) ~autocal:* &autocal:* +@all -@dangerous +info"
    done
  } > "$SEC/redis-users.acl"
  chmod 600 "$SEC/redis-users.acl"
  touch "$SEC/.complete"
  write_client_env
}

# <state>/client.env: the admin principal's connection keys (source it with set -a)
write_client_env() {
  cat > "$STATE/client.env" <<ENV
# written by deploy/local/servers.sh (secure mode): the admin principal's connection to these servers.
# Per-service credentials: $SEC/secrets/{kafka,redis}-<service>
AUTOCAL_KAFKA_BROKERS='127.0.0.1:$KAFKA_PORT'
AUTOCAL_KAFKA_SASL_MECHANISM='scram-sha-512'
AUTOCAL_KAFKA_USERNAME='autocal-admin'
AUTOCAL_KAFKA_PASSWORD_FILE='$SEC/secrets/kafka-autocal-admin'
AUTOCAL_KAFKA_TLS_CA_FILE='$SEC/tls/ca.crt'
AUTOCAL_REDIS_URL='rediss://127.0.0.1:$REDIS_PORT'
AUTOCAL_REDIS_USERNAME='autocal-admin'
AUTOCAL_REDIS_PASSWORD_FILE='$SEC/secrets/redis-autocal-admin'
AUTOCAL_REDIS_TLS_CA_FILE='$SEC/tls/ca.crt'
ENV
}

# the mode a server's state was made in must be the one asked for
check_mode() { # check_mode <server>
  local f="$STATE/$1/mode" current=''
  if [ -f "$f" ]; then current="$(cat "$f")"
  # state from before secure mode existed is plain
  elif [ "$1" = kafka ] && [ -f "$STATE/kafka/data/meta.properties" ]; then current=plain
  elif [ "$1" = redis ] && alive "$STATE/redis/redis.pid"; then current=plain
  fi
  if [ -n "$current" ] && [ "$current" != "$MODE" ]; then
    log "$1 under $STATE runs or was formatted in $current mode, not $MODE: use another AUTOCAL_STATE_DIR or 'reset' it"
    exit 1
  fi
}

node_on_path() {
  if ! node -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 24 ? 0 : 1)' 2>/dev/null; then
    . "$here/toolchain.sh" >&2
  fi
}

kafka_acls() {
  node_on_path
  (set -a; . "$STATE/client.env"; set +a; node "$repo/packages/runtime/scripts/kafka-acls.ts") >&2
}

kafka_ready() { grep -q 'Kafka Server started' "$STATE/kafka/logs/kafka.log" 2>/dev/null && port_open "$KAFKA_PORT"; }

kafka_start() {
  local pidf="$STATE/kafka/kafka.pid"
  if alive "$pidf"; then log "kafka already running (pid $(cat "$pidf"))"; return; fi
  if port_open "$KAFKA_PORT"; then log "port $KAFKA_PORT is taken by another process"; exit 1; fi
  kafka_jars
  check_mode kafka
  mkdir -p "$STATE/kafka/data" "$STATE/kafka/logs"
  local templates=("$here/kafka.properties") admin_password=''
  if [ "$SECURE" = 1 ]; then
    secure_init
    templates+=("$here/kafka-secure.properties")
    admin_password="$(cat "$SEC/secrets/kafka-autocal-admin")"
  fi
  (umask 077; cat "${templates[@]}" | sed -e "s#@STATE@#$STATE#g" -e "s#@KAFKA_PORT@#$KAFKA_PORT#g" \
    -e "s#@CONTROLLER_PORT@#$CONTROLLER_PORT#g" -e "s#@SECURE@#$SEC#g" -e "s#@ADMIN_PASSWORD@#$admin_password#g" \
    > "$STATE/kafka/server.properties")
  local java=(java -cp "$KAFKA_LIBS/*" -Dkafka.logs.dir="$STATE/kafka/logs"
    -Dlog4j2.configurationFile="$here/log4j2.properties")
  if [ ! -f "$STATE/kafka/data/meta.properties" ]; then
    log "formatting KRaft storage ($MODE)"
    local scram=() p
    if [ "$SECURE" = 1 ]; then
      for p in "${PRINCIPALS[@]}"; do scram+=(--add-scram "SCRAM-SHA-512=[name=$p,password=$(cat "$SEC/secrets/kafka-$p")]"); done
    fi
    "${java[@]}" kafka.tools.StorageTool format -t "$(cat /proc/sys/kernel/random/uuid | tr -d - | head -c 22)" \
      -c "$STATE/kafka/server.properties" "${scram[@]+"${scram[@]}"}" >"$STATE/kafka/logs/format.log" 2>&1 \
      || { cat "$STATE/kafka/logs/format.log" >&2; exit 1; }
    echo "$MODE" > "$STATE/kafka/mode"
  fi
  : > "$STATE/kafka/logs/kafka.log"
  local t0=$SECONDS
  # a broker keeps several files open per partition (log, index, time index): every test makes its own topics,
  # so a long-lived development broker passes 20,000 open files ("Too many open files" takes its log directory
  # offline and stops it). Raise the limit for the broker alone, as far as this user may.
  ulimit -n 1048576 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
  nohup "${java[@]}" ${AUTOCAL_KAFKA_HEAP:--Xms256m -Xmx1g} kafka.Kafka "$STATE/kafka/server.properties" \
    >"$STATE/kafka/logs/stdout.log" 2>&1 &
  echo $! > "$pidf"
  if ! wait_for kafka 120 kafka_ready; then tail -30 "$STATE/kafka/logs/stdout.log" "$STATE/kafka/logs/kafka.log" >&2; exit 1; fi
  [ -f "$STATE/kafka/mode" ] || echo "$MODE" > "$STATE/kafka/mode"
  if [ "$SECURE" = 1 ]; then kafka_acls; fi
  log "kafka $KAFKA_VERSION ready on 127.0.0.1:$KAFKA_PORT ($([ "$SECURE" = 1 ] && echo SASL_SSL || echo PLAINTEXT)) in $((SECONDS - t0))s (pid $(cat "$pidf"))"
}

redis_ready() {
  if [ "$SECURE" = 1 ]; then
    REDISCLI_AUTH="$(cat "$SEC/secrets/redis-autocal-admin")" redis-cli --tls --cacert "$SEC/tls/ca.crt" \
      --user autocal-admin -p "$REDIS_PORT" ping 2>/dev/null | grep -q PONG
  else
    redis-cli -p "$REDIS_PORT" ping 2>/dev/null | grep -q PONG
  fi
}

redis_start() {
  local pidf="$STATE/redis/redis.pid"
  if alive "$pidf"; then log "redis already running (pid $(cat "$pidf"))"; return; fi
  if ! command -v redis-server >/dev/null; then
    log "installing redis-server (Debian package)"
    if [ "$(id -u)" = 0 ]; then
      (apt-get install -y redis-server >&2 || { apt-get update >&2 && apt-get install -y redis-server >&2; })
    else
      sudo apt-get update >&2 && sudo apt-get install -y redis-server >&2
    fi
  fi
  if port_open "$REDIS_PORT"; then log "port $REDIS_PORT is taken by another process"; exit 1; fi
  mkdir -p "$STATE/redis"
  local listen=(--port "$REDIS_PORT")
  if [ "$SECURE" = 1 ]; then
    secure_init
    # TLS only (no plaintext port), ACL users from the file, no default user
    listen=(--port 0 --tls-port "$REDIS_PORT" --tls-cert-file "$SEC/tls/server.crt" --tls-key-file "$SEC/tls/server.key"
      --tls-ca-cert-file "$SEC/tls/ca.crt" --tls-auth-clients no --aclfile "$SEC/redis-users.acl")
  fi
  # Redis holds only what can be rebuilt from Kafka: no snapshots, no AOF.
  redis-server --bind 127.0.0.1 "${listen[@]}" --dir "$STATE/redis" --daemonize yes \
    --pidfile "$pidf" --logfile "$STATE/redis/redis.log" --save '' --appendonly no
  echo "$MODE" > "$STATE/redis/mode"
  wait_for redis 30 redis_ready
  log "redis ready on 127.0.0.1:$REDIS_PORT (pid $(cat "$pidf"))"
}

stop_pid() { # stop_pid <name> <pidfile>
  local pidf="$2"
  if ! alive "$pidf"; then log "$1 not running"; rm -f "$pidf"; return; fi
  local pid; pid="$(cat "$pidf")"
  kill "$pid"
  local deadline=$((SECONDS + 60))
  while kill -0 "$pid" 2>/dev/null; do
    if [ "$SECONDS" -ge "$deadline" ]; then log "$1 did not stop in 60s, killing"; kill -9 "$pid"; fi
    sleep 0.2
  done
  rm -f "$pidf"; log "$1 stopped"
}

status_of() { # status_of <name> <pidfile> <port>
  local mode; mode="$(cat "$STATE/$1/mode" 2>/dev/null || echo plain)"
  if alive "$2"; then echo "$1: running (pid $(cat "$2")) on 127.0.0.1:$3, $mode"; else echo "$1: stopped"; fi
}

cmd="${1:-status}"; which="${2:-all}"
case "$cmd" in
  start)
    case "$which" in kafka) kafka_start ;; redis) redis_start ;; all) redis_start; kafka_start ;; *) log "unknown server '$which' (kafka|redis)"; exit 2 ;; esac ;;
  stop)
    case "$which" in kafka) stop_pid kafka "$STATE/kafka/kafka.pid" ;; redis) stop_pid redis "$STATE/redis/redis.pid" ;;
      all) stop_pid kafka "$STATE/kafka/kafka.pid"; stop_pid redis "$STATE/redis/redis.pid" ;; *) log "unknown server '$which'"; exit 2 ;; esac ;;
  ensure)
    # start output goes to stderr: stdout carries only the names of the servers started
    for server in redis kafka; do
      if ! alive "$STATE/$server/$server.pid"; then "${server}_start" >&2; echo "$server"; else check_mode "$server"; fi
    done
    if [ "$SECURE" = 1 ]; then write_client_env; fi ;;
  status)
    status_of kafka "$STATE/kafka/kafka.pid" "$KAFKA_PORT"; status_of redis "$STATE/redis/redis.pid" "$REDIS_PORT" ;;
  reset)
    "$0" stop all; rm -rf "$STATE/kafka" "$STATE/redis" "$SEC" "$STATE/client.env"; log "state under $STATE removed" ;;
  *) echo "usage: $0 start|stop|status|reset [kafka|redis] | ensure   [--secure]" >&2; exit 2 ;;
esac
