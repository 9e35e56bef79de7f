#!/usr/bin/env bash
# Prints the path of a real `promtool` (Prometheus's own checker), installing it into the kfs
# cache when it is not there yet. It comes from Debian's `prometheus` package (the distribution
# these machines run): the .deb is downloaded, its SHA-256 checked against the pinned one, and
# only usr/bin/promtool is unpacked — nothing is installed system-wide, no service is started.
# Building promtool from the Go module proxy instead takes ~10 minutes on two cores (every
# service-discovery client of Prometheus comes with it); the package takes a second.
#
#   PROMTOOL="$(bash scripts/prometheus/ensure-promtool.sh)"; "$PROMTOOL" check rules ops/prometheus/alerts.yml
set -euo pipefail

VERSION=2.42.0+ds-5+deb12u1
SHA256=81d59a24fce84f7fbe97a45a4f2914b6a5881b5cd1db2a6a0e129e515e1a5f55
POOL_URL="http://deb.debian.org/debian/pool/main/p/prometheus/prometheus_${VERSION}_amd64.deb"
CACHE_DIR="${KFS_CACHE_DIR:-$HOME/.cache/kfs}"
PREFIX="$CACHE_DIR/promtool-${VERSION//+/_}"
BIN="$PREFIX/promtool"

if [ -x "$BIN" ]; then
  echo "$BIN"
  exit 0
fi
if [ "$(uname -m)" != x86_64 ]; then
  echo "[promtool] only the amd64 package is pinned; this machine is $(uname -m)" >&2
  exit 1
fi

mkdir -p "$CACHE_DIR"
# A lock keeps two concurrent callers from unpacking into the same prefix.
exec 9>"$CACHE_DIR/promtool.lock"
flock 9
if [ ! -x "$BIN" ]; then
  work="$(mktemp -d)"
  trap 'rm -rf "$work"' EXIT
  deb="$work/prometheus.deb"
  echo "[promtool] installing promtool from Debian's prometheus $VERSION into $PREFIX" >&2
  # apt's own mirror configuration first (a local mirror or proxy), the pool URL second.
  if (cd "$work" && apt-get download -q "prometheus=$VERSION" >/dev/null 2>&1); then
    mv "$work"/prometheus_*.deb "$deb"
  else
    curl -fsSL --retry 3 -o "$deb" "$POOL_URL"
  fi
  echo "$SHA256  $deb" | sha256sum -c --quiet - >&2
  dpkg-deb -x "$deb" "$work/root"
  mkdir -p "$PREFIX"
  install -m 0755 "$work/root/usr/bin/promtool" "$BIN.tmp"
  mv "$BIN.tmp" "$BIN"
fi
"$BIN" --version >/dev/null
echo "$BIN"
