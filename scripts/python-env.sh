#!/usr/bin/env bash
# Creates (once per requirements change) the Python venv for the Python client's tests and the
# schemathesis API check, installs the pinned requirements from PyPI, then installs the client
# from this checkout (`pip install ./python`, not editable, so every run proves the package
# installs). Prints the venv's python path on stdout; everything else goes to stderr.
set -euo pipefail
cd "$(dirname "$0")/.."

CACHE_DIR="${KFS_CACHE_DIR:-$HOME/.cache/kfs}"
VENV="$CACHE_DIR/python-venv"
REQUIREMENTS=python/requirements-test.txt
STAMP="$VENV/.kfs-requirements-$(sha256sum "$REQUIREMENTS" | cut -c1-16)"

mkdir -p "$CACHE_DIR"
# A lock keeps two concurrent callers from building the same venv.
exec 9>"$CACHE_DIR/python-venv.lock"
flock 9
if [ ! -f "$STAMP" ]; then
  rm -rf "$VENV"
  python3 -m venv "$VENV" >&2
  "$VENV/bin/pip" install --quiet --disable-pip-version-check -r "$REQUIREMENTS" >&2
  touch "$STAMP"
fi
# setuptools builds in python/build: start from nothing so no stale module is packaged.
rm -rf python/build
"$VENV/bin/pip" install --quiet --disable-pip-version-check --no-deps --force-reinstall --no-build-isolation ./python >&2
echo "$VENV/bin/python"
