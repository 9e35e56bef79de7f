#!/usr/bin/env bash
# The one command that runs every test on a fresh machine (README, .ci/run):
# installs dependencies, starts the real local stack (Kafka, schema registry, Redis, MinIO),
# runs type check, lint and every test with node's test runner, and stops what it started.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  # npm ci refuses this lock: npm 11 omits other platforms' optional DuckDB bindings from it; install honours the lock as well.
  npm install --no-audit --no-fund
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

mapfile -t files < <(find test -name '*.test.ts' -not -path '*/fixtures/*' | sort)
node --import tsx --test --test-concurrency=1 --test-reporter=spec "${files[@]}"

# The Python client (python/) and the schemathesis check of /openapi.json, against a real
# `kfs serve` on embedded defaults (python/tests/conftest.py); the venv is made once.
PYTHON="$(bash scripts/python-env.sh)"
(cd python && "$PYTHON" -m pytest -q -p no:cacheprovider tests)
