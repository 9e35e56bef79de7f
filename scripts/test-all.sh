#!/usr/bin/env bash
# The one command that runs every test on a fresh machine (README, .ci/run):
# installs dependencies, starts the real local stack (Kafka, schema registry, Redis, MinIO),
# runs type check, lint and every test with node's test runner, and stops what it started.
set -euo pipefail
cd "$(dirname "$0")/.."

# The suite runs on Node 24 LTS, the baseline: the machine's own Node when it is recent enough,
# else the pinned one the script installs from the npm registry into the kfs cache.
MACHINE_PATH="$PATH"
PATH="$(bash scripts/node/ensure-node.sh):$PATH"
export PATH
echo "[test-all] Node $(node --version)" >&2

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  # ci, not install: it never rewrites the lock, so a fresh clone stays clean.
  npm ci --no-audit --no-fund
fi

npx tsc --noEmit
npx eslint . --max-warnings=0
bash scripts/test-prereqs.sh

if [ -f scripts/stack/up.sh ]; then
  bash scripts/stack/up.sh
  trap 'bash scripts/stack/down.sh || true' EXIT
  # shellcheck disable=SC1091
  . .kfs/stack/env.sh
fi

# Three files at a time, each in its own process: no test shares state with another file's — each
# makes its own temp dirs and its own topics, object prefixes and Redis keys on the shared stack;
# a test that restarts a server starts a private one (test/support/private-servers.ts), and one
# that drops online data drops only its own view's keys. Three, on two cores: many files wait on
# servers, ticks and polls much of their time; on the 2-core VM the suite's main leg took 2,699 s
# at three against ~3,000 s at two, every test passing.
# KFS_TEST_CONCURRENCY=1 runs one file at a time (the easiest log to read when one fails).
concurrency="${KFS_TEST_CONCURRENCY:-3}"
mapfile -t files < <(find test -name '*.test.ts' -not -path '*/fixtures/*' | sort)
# Node 24 strips the types itself (kfs is erasable TypeScript only): no tsx in the test processes
# nor in the hundreds of `kfs` and script processes they start, and the compile cache keeps what
# each module compiled to for the next process — seconds of CPU a process (docs/performance.md).
export NODE_COMPILE_CACHE="${NODE_COMPILE_CACHE:-$PWD/.kfs/compile-cache}"
node --test --test-concurrency="$concurrency" --test-reporter=spec "${files[@]}"

# The cheap second leg: both serving transports are tested. On Node 24 no build of the pinned
# uWebSockets.js loads, so the run above served over node:http + ws; the serving suite runs again
# on uWS under the machine's own Node when a native uWS build loads there (Node 20 here).
uws_probe='import("./serving/server/transport/uws.ts").then((m) => m.loadNativeUws())'
if PATH="$MACHINE_PATH" node --import tsx -e "$uws_probe" >/dev/null 2>&1; then
  mapfile -t serving < <(find test/unit/serving test/integration/serving -name '*.test.ts' | sort)
  echo "[test-all] serving suite on uWebSockets.js, Node $(PATH="$MACHINE_PATH" node --version)" >&2
  PATH="$MACHINE_PATH" KFS_SERVE_TRANSPORT=uws node --import tsx --test --test-concurrency="$concurrency" --test-reporter=spec "${serving[@]}"
elif ! node --import tsx -e "$uws_probe" >/dev/null 2>&1; then
  echo "[test-all] no native uWebSockets.js build loads on this machine: only the node:http transport was tested" >&2
fi

# The Python client (python/) and the schemathesis check of /openapi.json, against a real
# `kfs serve` on embedded defaults (python/tests/conftest.py); the venv is made once.
PYTHON="$(bash scripts/python-env.sh)"
(cd python && "$PYTHON" -m pytest -q -p no:cacheprovider tests)
