#!/usr/bin/env bash
# The test command: from a fresh clone, installs what is missing (Node 24,
# pnpm, the workspace's packages, Kafka's jars, redis-server), starts the local
# Kafka and Redis (unless they already run), runs `pnpm test` (typecheck, lint,
# buf lint + breaking, unit, integration and end-to-end tests) and stops the
# servers it started. The servers run in secure mode (SASL_SSL, Redis TLS and
# AUTH) unless AUTOCAL_SECURE=0.
#
#   bash test/run.sh            # everything
#   bash test/run.sh unit       # only `pnpm test:unit` (no servers needed)
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
. deploy/local/toolchain.sh
echo "test: node $(node --version), pnpm $(pnpm --version)" >&2
pnpm install --frozen-lockfile >&2

# the real CMS data beside the repository (../shared/realdata): the example workflows' golden JSON is read
# from there, and workflow loading accepts a golden file only inside the workflow directory or this one
if [ -z "${AUTOCAL_REALDATA_DIR:-}" ] && [ -d "$repo/../shared/realdata" ]; then
  export AUTOCAL_REALDATA_DIR="$(cd "$repo/../shared/realdata" && pwd)"
fi

# HTCondor's own Python bindings (htcondor2, classad2), for the job-executor's submit-description
# checks and its HTCondor stand-in: a virtual environment in the tools cache (about 20 s once)
export AUTOCAL_HTCONDOR_PYTHON="$(bash deploy/local/htcondor.sh path)"

what="${1:-all}"
if [ "$what" = unit ]; then exec pnpm run test:unit; fi

# helm, for the chart tests: built from its Go module when missing (about 3 minutes once)
export PATH="$(go env GOPATH 2>/dev/null || echo "$HOME/go")/bin:$PATH"
if ! command -v helm >/dev/null 2>&1; then
  echo "test: installing helm v3.22.0 with go install" >&2
  go install helm.sh/helm/v3/cmd/helm@v3.22.0 >&2
fi
# kubeconform and the Kubernetes API's OpenAPI document, for the chart's schema check
# (test/deploy/kubeconform.test.ts): both from Go modules, downloaded once into Go's
# module cache; nothing is fetched while the tests run
if ! command -v kubeconform >/dev/null 2>&1; then
  echo "test: installing kubeconform v0.7.0 with go install" >&2
  go install github.com/yannh/kubeconform/cmd/kubeconform@v0.7.0 >&2
fi
kube_dir="$(go mod download -json k8s.io/kubernetes@v1.34.1 | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const m=JSON.parse(s);if(m.Error)throw new Error(m.Error);console.log(m.Dir)})')"
export AUTOCAL_KUBE_OPENAPI="$kube_dir/api/openapi-spec/swagger.json"

# Chromium, for the metrics console's browser tests: Debian's package, driven by playwright-core (no downloaded browser build)
command -v chromium >/dev/null || (apt-get update && apt-get install -y chromium) >&2

# promtool, for the alert rules (check rules + rule unit tests): built from its Go module into the
# tools cache when missing (several minutes once)
export AUTOCAL_PROMTOOL="$(bash deploy/local/promtool.sh path)"

# Jaeger, for the trace tests (the e2e test reads a run's trace back through Jaeger's query API):
# built from its Go module into the tools cache when missing (about 3 minutes once)
export AUTOCAL_JAEGER_BIN="$(bash deploy/local/jaeger.sh path)"

# Kafka and Redis: started unless they run; on exit only those started here are stopped.
# Secure by default: Kafka's only client listener is SASL_SSL (SCRAM-SHA-512,
# ACLs) and Redis takes TLS + an ACL user; every test client, and every
# service a test spawns, connects with the admin principal's keys of
# <state>/client.env (AUTOCAL_SECURE=0 runs the suite on plaintext servers).
export AUTOCAL_SECURE="${AUTOCAL_SECURE:-1}"
started="$(deploy/local/servers.sh ensure)"   # the names of the servers it started, one a line
stop_started() {
  for server in $started; do deploy/local/servers.sh stop "$server" || true; done
}
trap stop_started EXIT
if [ "$AUTOCAL_SECURE" = 1 ]; then
  set -a; . "${AUTOCAL_STATE_DIR:-$repo/.autocal}/client.env"; set +a
  echo "test: Kafka over SASL_SSL at $AUTOCAL_KAFKA_BROKERS as $AUTOCAL_KAFKA_USERNAME, Redis at $AUTOCAL_REDIS_URL as $AUTOCAL_REDIS_USERNAME" >&2
fi

pnpm test
