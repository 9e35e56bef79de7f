#!/usr/bin/env bash
# Creates (once) the Python venv the Iceberg interop tests use to read kfs tables with PyIceberg,
# the strictest of the common readers (field ids must be on every Parquet column, Avro ids on
# every manifest field). Prints the venv's python path on stdout; all other output goes to stderr.
set -euo pipefail

PYICEBERG_VERSION=0.12.0
CACHE_DIR="${KFS_CACHE_DIR:-$HOME/.cache/kfs}"
VENV="$CACHE_DIR/pyiceberg-venv"
# The stamp names the extras too: a venv made before an extra was added is rebuilt.
STAMP="$VENV/.kfs-pyiceberg-$PYICEBERG_VERSION-sql"

if [ ! -f "$STAMP" ]; then
  mkdir -p "$CACHE_DIR"
  # A lock keeps two concurrently starting tests from building the same venv.
  exec 9>"$CACHE_DIR/pyiceberg-venv.lock"
  flock 9
  if [ ! -f "$STAMP" ]; then
    rm -rf "$VENV"
    python3 -m venv "$VENV" >&2
    "$VENV/bin/pip" install --quiet --disable-pip-version-check "pyiceberg[pyarrow,sql-sqlite]==$PYICEBERG_VERSION" >&2
    touch "$STAMP"
  fi
fi
echo "$VENV/bin/python"
