#!/usr/bin/env bash
# The run command: from a fresh clone, installs what is missing (Node 24, pnpm,
# the workspace's packages, Kafka's jars, redis-server), starts the local
# Kafka and Redis, then the five autocal services with the example workflows.
# Ctrl-C stops the services, then the servers this script started.
#
# Environment: AUTOCAL_REPLAY_SCALE (time scale of the real run list replay,
# default 8640), AUTOCAL_GENERATOR_RUNS (runs of the built-in generator when
# ../shared/realdata is absent), AUTOCAL_REALDATA_DIR, AUTOCAL_LOG_LEVEL,
# AUTOCAL_SECURE=1 (servers with SASL_SSL/ACLs and Redis TLS/AUTH; each
# service connects as its own principal).
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
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
trap ':' INT TERM   # the system below handles Ctrl-C itself; this shell waits for it

node deploy/local/system.ts &
wait $! || wait $!
