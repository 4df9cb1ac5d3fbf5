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
# Environment: AUTOCAL_STATE_DIR (default <repo>/.autocal), AUTOCAL_KAFKA_PORT
# (9092), AUTOCAL_KAFKA_CONTROLLER_PORT (9093), AUTOCAL_REDIS_PORT (6390),
# AUTOCAL_TOOLS (cache of downloaded tools, default ~/.cache/autocal/tools).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
STATE="${AUTOCAL_STATE_DIR:-$repo/.autocal}"
TOOLS="${AUTOCAL_TOOLS:-$HOME/.cache/autocal/tools}"
KAFKA_PORT="${AUTOCAL_KAFKA_PORT:-9092}"
CONTROLLER_PORT="${AUTOCAL_KAFKA_CONTROLLER_PORT:-9093}"
REDIS_PORT="${AUTOCAL_REDIS_PORT:-6390}"
KAFKA_VERSION="$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$here/pom.xml")"
KAFKA_LIBS="$TOOLS/kafka-$KAFKA_VERSION/libs"

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

kafka_ready() { grep -q 'Kafka Server started' "$STATE/kafka/logs/kafka.log" 2>/dev/null && port_open "$KAFKA_PORT"; }

kafka_start() {
  local pidf="$STATE/kafka/kafka.pid"
  if alive "$pidf"; then log "kafka already running (pid $(cat "$pidf"))"; return; fi
  if port_open "$KAFKA_PORT"; then log "port $KAFKA_PORT is taken by another process"; exit 1; fi
  kafka_jars
  mkdir -p "$STATE/kafka/data" "$STATE/kafka/logs"
  sed -e "s#@STATE@#$STATE#g" -e "s#@KAFKA_PORT@#$KAFKA_PORT#g" -e "s#@CONTROLLER_PORT@#$CONTROLLER_PORT#g" \
    "$here/kafka.properties" > "$STATE/kafka/server.properties"
  local java=(java -cp "$KAFKA_LIBS/*" -Dkafka.logs.dir="$STATE/kafka/logs"
    -Dlog4j2.configurationFile="$here/log4j2.properties")
  if [ ! -f "$STATE/kafka/data/meta.properties" ]; then
    log "formatting KRaft storage"
    "${java[@]}" kafka.tools.StorageTool format -t "$(cat /proc/sys/kernel/random/uuid | tr -d - | head -c 22)" \
      -c "$STATE/kafka/server.properties" >"$STATE/kafka/logs/format.log" 2>&1 \
      || { cat "$STATE/kafka/logs/format.log" >&2; exit 1; }
  fi
  : > "$STATE/kafka/logs/kafka.log"
  local t0=$SECONDS
  nohup "${java[@]}" ${AUTOCAL_KAFKA_HEAP:--Xms256m -Xmx1g} kafka.Kafka "$STATE/kafka/server.properties" \
    >"$STATE/kafka/logs/stdout.log" 2>&1 &
  echo $! > "$pidf"
  if ! wait_for kafka 120 kafka_ready; then tail -30 "$STATE/kafka/logs/stdout.log" "$STATE/kafka/logs/kafka.log" >&2; exit 1; fi
  log "kafka $KAFKA_VERSION ready on 127.0.0.1:$KAFKA_PORT in $((SECONDS - t0))s (pid $(cat "$pidf"))"
}

redis_ready() { redis-cli -p "$REDIS_PORT" ping 2>/dev/null | grep -q PONG; }

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
  # Redis holds only what can be rebuilt from Kafka: no snapshots, no AOF.
  redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --dir "$STATE/redis" --daemonize yes \
    --pidfile "$pidf" --logfile "$STATE/redis/redis.log" --save '' --appendonly no
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
  if alive "$2"; then echo "$1: running (pid $(cat "$2")) on 127.0.0.1:$3"; else echo "$1: stopped"; fi
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
      if ! alive "$STATE/$server/$server.pid"; then "${server}_start" >&2; echo "$server"; fi
    done ;;
  status)
    status_of kafka "$STATE/kafka/kafka.pid" "$KAFKA_PORT"; status_of redis "$STATE/redis/redis.pid" "$REDIS_PORT" ;;
  reset)
    "$0" stop all; rm -rf "$STATE/kafka" "$STATE/redis"; log "state under $STATE removed" ;;
  *) echo "usage: $0 start|stop|status|reset [kafka|redis] | ensure" >&2; exit 2 ;;
esac
