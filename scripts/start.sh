#!/usr/bin/env bash
# `npm start`: the whole system on embedded defaults (main/start.ts), on Node 24 LTS — the
# machine's own Node when recent enough, else the pinned one scripts/node/ensure-node.sh installs
# into the kfs cache — with dependencies installed from the lock first when they are missing.
set -euo pipefail
cd "$(dirname "$0")/.."
PATH="$(bash scripts/node/ensure-node.sh):$PATH"
export PATH
if [ ! -d node_modules ]; then
  npm ci --no-audit --no-fund >&2
fi
# Node 24 strips the types itself; the compile cache makes the next start faster.
export NODE_COMPILE_CACHE="${NODE_COMPILE_CACHE:-$PWD/.kfs/compile-cache}"
exec node main/start.ts "$@"
