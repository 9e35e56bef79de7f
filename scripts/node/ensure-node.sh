#!/usr/bin/env bash
# Prints the bin directory of a Node.js 24 LTS (the baseline; KFS_NODE_MIN=22 accepts 22 too),
# installing the pinned Node 24 LTS from the npm registry's `node` package into the kfs cache
# when the `node` on PATH is older. Nothing is installed by hand and nothing outside the cache
# changes. Callers put the directory first on PATH: `PATH="$(bash scripts/node/ensure-node.sh):$PATH"`.
set -euo pipefail

NODE_VERSION=24.21.0
MIN_MAJOR="${KFS_NODE_MIN:-24}"
CACHE_DIR="${KFS_CACHE_DIR:-$HOME/.cache/kfs}"
PREFIX="$CACHE_DIR/node-$NODE_VERSION"

current_major=0
if command -v node >/dev/null 2>&1; then
  current_major="$(node -p 'process.versions.node.split(".")[0]')"
fi
if [ "$current_major" -ge "$MIN_MAJOR" ]; then
  dirname "$(command -v node)"
  exit 0
fi

mkdir -p "$CACHE_DIR"
# A lock keeps two concurrent callers from installing into the same prefix.
exec 9>"$CACHE_DIR/node.lock"
flock 9
if [ ! -x "$PREFIX/node_modules/node/bin/node" ]; then
  echo "[node] Node $current_major on PATH is older than $MIN_MAJOR: installing Node $NODE_VERSION from the npm registry into $PREFIX" >&2
  rm -rf "$PREFIX"
  mkdir -p "$PREFIX"
  npm install --prefix "$PREFIX" --no-audit --no-fund --no-save --loglevel=error "node@$NODE_VERSION" >&2
fi
installed="$("$PREFIX/node_modules/node/bin/node" -p 'process.versions.node')"
if [ "$installed" != "$NODE_VERSION" ]; then
  echo "[node] expected Node $NODE_VERSION in $PREFIX, found $installed" >&2
  exit 1
fi
# npm and npx come with the Node on PATH; this directory only adds `node` itself, first.
echo "$PREFIX/node_modules/node/bin"
