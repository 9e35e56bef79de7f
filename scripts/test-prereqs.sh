#!/usr/bin/env bash
# Installs what the test suite needs beyond the stack servers (scripts/stack installs those):
# Debian's Chromium for the catalog page test, wrk for the serving benches (run at a smoke scale
# by test/integration/bench/every-bench.test.ts), and promtool (Prometheus's checker, into the kfs
# cache) for the ops and metrics tests. Idempotent; a second run does nothing.
set -euo pipefail
if ! [ -x /usr/bin/chromium ]; then
  echo "[prereqs] installing chromium (catalog page test)" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -q chromium >/dev/null 2>&1 || { apt-get update -q >/dev/null && apt-get install -y -q chromium >/dev/null; }
fi
if ! command -v wrk >/dev/null; then
  echo "[prereqs] installing wrk (serving benches)" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -q wrk >/dev/null 2>&1 || { apt-get update -q >/dev/null && apt-get install -y -q wrk >/dev/null; }
fi
bash "$(dirname "$0")/prometheus/ensure-promtool.sh" >/dev/null
