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
# AUTOCAL_REALDATA_DIR, AUTOCAL_LOG_LEVEL.
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
trap ':' INT TERM   # the system below handles Ctrl-C itself; this shell waits for it

node deploy/local/system.ts &
wait $! || wait $!
