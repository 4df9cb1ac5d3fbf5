#!/usr/bin/env bash
# Jaeger for development and tests, built from its Go module (there is no other
# way to get it here): `go get -tool` in a small tool module in the tools cache,
# then `go build` (about 3 minutes once; `go install …@version` refuses because
# Jaeger's go.mod has replace directives). Runs with deploy/local/jaeger.yaml:
# in-memory store, everything on 127.0.0.1.
#
#   deploy/local/jaeger.sh path            # builds it when missing, prints the binary's path
#   deploy/local/jaeger.sh start|stop      # the demo's instance (state under AUTOCAL_STATE_DIR)
#
# Environment: AUTOCAL_TOOLS (default ~/.cache/autocal/tools), AUTOCAL_STATE_DIR,
# JAEGER_OTLP_HTTP_PORT (4318), JAEGER_QUERY_PORT (16686), JAEGER_QUERY_GRPC_PORT (16685), JAEGER_HEALTH_PORT (13133).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
JAEGER_VERSION=1.76.0
TOOLS="${AUTOCAL_TOOLS:-$HOME/.cache/autocal/tools}"
STATE="${AUTOCAL_STATE_DIR:-$repo/.autocal}"
BIN="$TOOLS/jaeger-$JAEGER_VERSION/jaeger"

log() { echo "jaeger: $*" >&2; }

build() {
  if [ -x "$BIN" ]; then return; fi
  command -v go >/dev/null || { log "Go is needed to build Jaeger"; exit 1; }
  local mod="$TOOLS/jaeger-$JAEGER_VERSION/module"
  log "building Jaeger $JAEGER_VERSION from its Go module into $BIN (about 3 minutes once)"
  rm -rf "$mod"; mkdir -p "$mod"
  (cd "$mod" && go mod init autocal-tools/jaeger >/dev/null 2>&1 \
    && go get -tool "github.com/jaegertracing/jaeger/cmd/jaeger@v$JAEGER_VERSION" >&2 \
    && go build -o "$BIN.tmp" github.com/jaegertracing/jaeger/cmd/jaeger >&2)
  mv "$BIN.tmp" "$BIN"
}

ready() { curl -fsS "http://127.0.0.1:${JAEGER_HEALTH_PORT:-13133}/status" >/dev/null 2>&1; }

case "${1:-}" in
  path) build; echo "$BIN" ;;
  start)
    build
    mkdir -p "$STATE/jaeger"
    pidf="$STATE/jaeger/jaeger.pid"
    if [ -f "$pidf" ] && kill -0 "$(cat "$pidf")" 2>/dev/null; then log "already running (pid $(cat "$pidf"))"; exit 0; fi
    nohup "$BIN" --config "$here/jaeger.yaml" >"$STATE/jaeger/jaeger.log" 2>&1 &
    echo $! > "$pidf"
    for _ in $(seq 1 150); do ready && break; sleep 0.2; done
    ready || { tail -20 "$STATE/jaeger/jaeger.log" >&2; log "not ready after 30 s"; exit 1; }
    log "ready: OTLP/HTTP on 127.0.0.1:${JAEGER_OTLP_HTTP_PORT:-4318}, UI on http://127.0.0.1:${JAEGER_QUERY_PORT:-16686}/"
    ;;
  stop)
    pidf="$STATE/jaeger/jaeger.pid"
    if [ -f "$pidf" ] && kill -0 "$(cat "$pidf")" 2>/dev/null; then kill "$(cat "$pidf")"; log "stopped"; fi
    rm -f "$pidf"
    ;;
  *) echo "usage: $0 path|start|stop" >&2; exit 2 ;;
esac
