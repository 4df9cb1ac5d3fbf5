#!/usr/bin/env bash
# The run command: from a fresh clone, installs what is missing (Node 24, pnpm,
# the workspace's packages, Kafka's jars, redis-server), starts the local
# Kafka and Redis, then the five autocal services with the example workflows.
# Ctrl-C stops the services, then the servers this script started.
#
# Environment: AUTOCAL_REPLAY_SCALE (time scale of the real run list replay,
# default 8640), AUTOCAL_GENERATOR_RUNS (runs of the built-in generator when
# ../shared/realdata is absent), AUTOCAL_REPLAY_FCSR_DELAY_HOURS (the replayed
# first condition-safe run trails run ends by this much, default 48; none = off),
# AUTOCAL_REALDATA_DIR, AUTOCAL_WORKFLOWS_DIR (the workflow files the
# dispatcher loads instead of deploy/workflows; relative to where this is run),
# AUTOCAL_LOG_LEVEL, AUTOCAL_SECURE=1 (servers with
# SASL_SSL/ACLs and Redis TLS/AUTH; each service connects as its own principal).
#
#   bash deploy/run.sh            # the system
#   bash deploy/run.sh --jaeger   # the same, traced into a local Jaeger (UI on http://127.0.0.1:16686/)
set -euo pipefail
jaeger=no
for arg in "$@"; do
  case "$arg" in
    --jaeger) jaeger=yes ;;
    *) echo "usage: bash deploy/run.sh [--jaeger]" >&2; exit 2 ;;
  esac
done
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# a relative workflow directory is the caller's, not the repository's (system.ts checks it at start)
if [ -n "${AUTOCAL_WORKFLOWS_DIR:-}" ]; then
  AUTOCAL_WORKFLOWS_DIR="$(realpath -m -- "$AUTOCAL_WORKFLOWS_DIR")"
  export AUTOCAL_WORKFLOWS_DIR
fi
cd "$repo"
. deploy/local/toolchain.sh
pnpm install --frozen-lockfile >&2

# Kafka and Redis: started unless they run; on exit only those started here are stopped
started="$(deploy/local/servers.sh ensure)"   # the names of the servers it started, one a line
stop_started() {
  for server in $started; do deploy/local/servers.sh stop "$server" || true; done
}
trap stop_started EXIT
# AUTOCAL_SECURE=1: SASL_SSL Kafka and TLS + ACL Redis; each service connects as its own principal
if [ "${AUTOCAL_SECURE:-0}" = 1 ]; then
  set -a; . "${AUTOCAL_STATE_DIR:-$repo/.autocal}/client.env"; set +a
fi

if [ "$jaeger" = yes ]; then
  # Jaeger built from its Go module when missing (about 3 minutes once), in-memory store, loopback only
  bash deploy/local/jaeger.sh start
  export AUTOCAL_OTLP_ENDPOINT="http://127.0.0.1:${JAEGER_OTLP_HTTP_PORT:-4318}/v1/traces"
  export AUTOCAL_TRACES_UI="http://127.0.0.1:${JAEGER_QUERY_PORT:-16686}/"
  trap 'bash deploy/local/jaeger.sh stop; stop_started' EXIT
fi
trap ':' INT TERM   # the system below handles Ctrl-C itself; this shell waits for it

node deploy/local/system.ts &
wait $! || wait $!
