#!/usr/bin/env bash
# promtool, Prometheus's checker of rule files (`check rules`) and runner of
# rule unit tests (`test rules`), built from its Go module (there is no other
# way to get it here): `go get -tool` in a small tool module in the tools
# cache, then `go build` with Prometheus's own `remove_all_sd` build tag, which
# leaves out the cloud service-discovery plugins (Azure, AWS, GCE, …) that rule
# checks never use. Several minutes once (25 min were seen here on 2 cores
# shared with other builds); later runs reuse the binary and Go's caches.
#
#   deploy/local/promtool.sh path      # builds it when missing, prints the binary's path
#
# Environment: AUTOCAL_TOOLS (default ~/.cache/autocal/tools).
set -euo pipefail
# Prometheus v3.x is published as Go module versions v0.3xx.y
PROMETHEUS_MODULE_VERSION=0.316.0
TOOLS="${AUTOCAL_TOOLS:-$HOME/.cache/autocal/tools}"
BIN="$TOOLS/promtool-$PROMETHEUS_MODULE_VERSION/promtool"

log() { echo "promtool: $*" >&2; }

build() {
  if [ -x "$BIN" ]; then return; fi
  command -v go >/dev/null || { log "Go is needed to build promtool"; exit 1; }
  local mod="$TOOLS/promtool-$PROMETHEUS_MODULE_VERSION/module"
  log "building promtool (Prometheus module v$PROMETHEUS_MODULE_VERSION) into $BIN (several minutes once)"
  rm -rf "$mod"; mkdir -p "$mod"
  (cd "$mod" && go mod init autocal-tools/promtool >/dev/null 2>&1 \
    && go get -tool "github.com/prometheus/prometheus/cmd/promtool@v$PROMETHEUS_MODULE_VERSION" >&2 \
    && go build -tags remove_all_sd -o "$BIN.tmp" github.com/prometheus/prometheus/cmd/promtool >&2)
  mv "$BIN.tmp" "$BIN"
}

case "${1:-}" in
  path) build; echo "$BIN" ;;
  *) echo "usage: $0 path" >&2; exit 2 ;;
esac
