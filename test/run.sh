#!/usr/bin/env bash
# The test command: from a fresh clone, installs what is missing (Node 24,
# pnpm, the workspace's packages, Kafka's jars, redis-server), starts the local
# Kafka and Redis (unless they already run), runs `pnpm test` (typecheck, lint,
# buf lint + breaking, unit, integration and end-to-end tests) and stops the
# servers it started.
#
#   bash test/run.sh            # everything
#   bash test/run.sh unit       # only `pnpm test:unit` (no servers needed)
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
. deploy/local/toolchain.sh
echo "test: node $(node --version), pnpm $(pnpm --version)" >&2
pnpm install --frozen-lockfile >&2

what="${1:-all}"
if [ "$what" = unit ]; then exec pnpm run test:unit; fi

# helm, for the chart tests: built from its Go module when missing (about 3 minutes once)
export PATH="$(go env GOPATH 2>/dev/null || echo "$HOME/go")/bin:$PATH"
if ! command -v helm >/dev/null 2>&1; then
  echo "test: installing helm v3.22.0 with go install" >&2
  go install helm.sh/helm/v3/cmd/helm@v3.22.0 >&2
fi

# Jaeger, for the trace tests (the e2e test reads a run's trace back through Jaeger's query API):
# built from its Go module into the tools cache when missing (about 3 minutes once)
export AUTOCAL_JAEGER_BIN="$(bash deploy/local/jaeger.sh path)"

# Kafka and Redis: started unless they run; on exit only those started here are stopped
started="$(deploy/local/servers.sh ensure)"   # the names of the servers it started, one a line
stop_started() {
  for server in $started; do deploy/local/servers.sh stop "$server" || true; done
}
trap stop_started EXIT

pnpm test
