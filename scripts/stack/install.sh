# Installers for the local stack (sourced by up.sh). Each is a no-op once its result is in
# $CACHE_DIR, so only the first start pays for downloads and the MinIO build.

maven() { # quiet unless it fails (mvn -q still prints colour resets)
  local out="$CACHE_DIR/logs/maven.log"
  mkdir -p "$CACHE_DIR/logs"
  mvn -B -q -Dstyle.color=never -Dmaven.repo.local="$CACHE_DIR/m2" "$@" >"$out" 2>&1 ||
    { tail -n 40 "$out" >&2; die "mvn failed (log: $out)"; }
}

KAFKA_LIBS="$CACHE_DIR/kafka-$KAFKA_VERSION/libs"
APICURIO_HOME="$CACHE_DIR/apicurio-$APICURIO_VERSION"
MINIO_BIN="$CACHE_DIR/minio-$MINIO_VERSION/bin/minio"

ensure_kafka() {
  [ -f "$KAFKA_LIBS/.complete" ] && return 0
  command -v java >/dev/null || die "java (17+) is required for Kafka"
  command -v mvn >/dev/null || die "mvn is required to fetch Kafka from Maven Central"
  log "fetching Kafka $KAFKA_VERSION jars from Maven Central"
  rm -rf "$KAFKA_LIBS"
  maven -f "$STACK_DIR/kafka/pom.xml" "$DEP_PLUGIN:copy-dependencies" \
    -Dkafka.version="$KAFKA_VERSION" -DincludeScope=runtime -DoutputDirectory="$KAFKA_LIBS"
  touch "$KAFKA_LIBS/.complete"
}

ensure_apicurio() {
  [ -f "$APICURIO_HOME/.complete" ] && return 0
  log "fetching Apicurio Registry $APICURIO_VERSION from Maven Central"
  rm -rf "$APICURIO_HOME"
  # Central lacks the app's parent POM; a stand-in lets Maven read the descriptor (see the stub).
  maven "$INSTALL_PLUGIN:install-file" -Dfile="$STACK_DIR/apicurio/parent-stub.pom" \
    -DpomFile="$STACK_DIR/apicurio/parent-stub.pom"
  maven -f "$STACK_DIR/apicurio/pom.xml" "$DEP_PLUGIN:copy-dependencies" \
    -Dapicurio.version="$APICURIO_VERSION" -DoutputDirectory="$APICURIO_HOME"
  tar -xzf "$APICURIO_HOME/apicurio-registry-app-$APICURIO_VERSION-all.tar.gz" -C "$APICURIO_HOME"
  rm -f "$APICURIO_HOME/apicurio-registry-app-$APICURIO_VERSION-all.tar.gz"
  [ -f "$APICURIO_HOME/apicurio-registry-app-$APICURIO_VERSION-runner.jar" ] ||
    die "Apicurio archive has no runner jar in $APICURIO_HOME"
  touch "$APICURIO_HOME/.complete"
}

ensure_redis() {
  command -v redis-server >/dev/null && return 0
  log "installing redis-server with apt-get"
  export DEBIAN_FRONTEND=noninteractive
  # Keep the package's postinst from starting a system daemon on 6379: we run our own instance.
  local policy=/usr/sbin/policy-rc.d own_policy=0
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod +x "$policy" && own_policy=1
  fi
  { apt-get install -y -q redis-server >/dev/null 2>&1 ||
    { apt-get update -q >/dev/null && apt-get install -y -q redis-server >/dev/null; }; } ||
    { [ "$own_policy" = 1 ] && rm -f "$policy"; die "apt-get install redis-server failed"; }
  [ "$own_policy" = 1 ] && rm -f "$policy"
  command -v redis-server >/dev/null || die "redis-server still missing after apt-get install"
}

# Building MinIO takes minutes on 2 cores, so up.sh starts this in the background first.
build_minio() {
  [ -x "$MINIO_BIN" ] && return 0
  command -v go >/dev/null || die "go is required to build MinIO"
  log "building MinIO $MINIO_VERSION with go install (first run only; several minutes)"
  mkdir -p "$CACHE_DIR/go"
  CGO_ENABLED=0 GOTOOLCHAIN=local GOFLAGS='-trimpath -buildvcs=false' \
    GOBIN="$(dirname "$MINIO_BIN")" GOMODCACHE="$CACHE_DIR/go/mod" GOCACHE="$CACHE_DIR/go/build" \
    nice go install "github.com/minio/minio@$MINIO_VERSION" || return 1
  [ -x "$MINIO_BIN" ]
}
