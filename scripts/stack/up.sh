#!/usr/bin/env bash
# Starts the real local stack without Docker: Kafka 3.9 (KRaft), Apicurio Registry (Confluent API),
# Redis and MinIO, each on 127.0.0.1. Installs what is missing into ${KFS_CACHE_DIR:-~/.cache/kfs},
# keeps runtime data in a temp dir, writes .kfs/stack/env.sh and records PIDs for down.sh.
# Running it again while the stack is up only prints the endpoints.
set -euo pipefail
# shellcheck source=common.sh
. "$(dirname "$0")/common.sh"
# shellcheck source=install.sh
. "$STACK_DIR/install.sh"

started_ms=$(now_ms)
take_lock

print_endpoints() { # from env.sh, so a second call shows what is really running
  # shellcheck disable=SC1091
  . "$STATE_DIR/env.sh"
  log "Kafka            $KFS_KAFKA_BROKERS"
  log "Schema registry  $KFS_SCHEMA_REGISTRY_URL"
  log "Redis            $KFS_REDIS_URL"
  log "S3 (MinIO)       $KFS_S3_ENDPOINT bucket=$KFS_S3_BUCKET"
  log "env              . $STATE_DIR/env.sh"
}

if [ -f "$STATE_DIR/run" ]; then
  run=$(cat "$STATE_DIR/run")
  alive=0
  for s in "${SERVICES[@]}"; do
    is_ours "$(cat "$STATE_DIR/$s.pid" 2>/dev/null || true)" "$run" && alive=$((alive + 1))
  done
  if [ "$alive" = "${#SERVICES[@]}" ] && [ -f "$STATE_DIR/env.sh" ]; then
    log "already running (run dir $run)"
    print_endpoints
    exit 0
  fi
  log "found a partly running stack ($alive/${#SERVICES[@]} up); restarting it"
  flock -u 9
  bash "$STACK_DIR/down.sh"
  take_lock
fi

for port in "$KAFKA_PORT" "$KAFKA_CONTROLLER_PORT" "$REGISTRY_PORT" "$REDIS_PORT" "$S3_PORT" "$S3_CONSOLE_PORT"; do
  if is_listening "$port"; then
    holder=$(ss -ltnpH "sport = :$port" 2>/dev/null | sed -n 's/.*users:(("\([^"]*\)",pid=\([0-9]*\).*/\1 pid \2/p' | head -1)
    die "port $port is already in use${holder:+ by $holder}: stop that process, or move the stack with KFS_STACK_*_PORT (see scripts/stack/README.md)"
  fi
done

run=""
minio_build_pid=""
on_exit() {
  local st=$?
  [ "$st" = 0 ] && return 0
  # Leave nothing behind: the background build, and whatever was already started.
  kill -0 "$minio_build_pid" 2>/dev/null && kill "$minio_build_pid" 2>/dev/null
  if [ -n "$run" ]; then
    log "start failed; stopping what was started"
    flock -u 9
    bash "$STACK_DIR/down.sh" || true
  fi
}
trap on_exit EXIT

mkdir -p "$CACHE_DIR/logs"
minio_log="$CACHE_DIR/logs/minio-build.log"
build_minio >"$minio_log" 2>&1 9>&- &
minio_build_pid=$!

ensure_started_ms=$(now_ms)
ensure_kafka
ensure_apicurio
ensure_redis
ensure_ms=$(($(now_ms) - ensure_started_ms))

run=$(mktemp -d "${TMPDIR:-/tmp}/kfs-stack.XXXXXX")
echo "$run" >"$STATE_DIR/run"

# Class-data sharing: the first run of each JVM dumps the classes it loaded when it exits (at
# stack:down) into the run dir, and down.sh moves the archive into the cache; later runs map it
# instead of parsing hundreds of jars again, which is most of a JVM's start-up on 2 busy cores.
# A stale archive (e.g. after a JDK update) is ignored by the JVM with a warning.
cds_flags() { # name, archive path in the cache
  local name=$1 archive=$2
  if [ -s "$archive" ]; then
    echo "-XX:SharedArchiveFile=$archive"
  else
    echo "$archive" >"$run/$name.jsa.target"
    echo "-XX:ArchiveClassesAtExit=$run/$name.jsa"
  fi
}

launch() { # name, then the command; the PID is the server itself (the subshell execs it)
  local name=$1
  shift
  mkdir -p "$run/$name"
  (cd "$run/$name" && exec nohup "$@" >"$run/$name.log" 2>&1 </dev/null 9>&-) &
  echo $! >"$STATE_DIR/$name.pid"
}

# Slowest starters first; formatting Kafka's storage costs a JVM start of its own.
# --- Apicurio Registry (in-memory H2), Confluent-compatible API under /apis/ccompat/v7 --------
mkdir -p "$run/registry/tmp"
launch registry java "$(cds_flags registry "$APICURIO_HOME/registry.jsa")" -Xms128m -Xmx512m -XX:+ExitOnOutOfMemoryError -Djava.io.tmpdir="$run/registry/tmp" \
  -Dquarkus.http.host=127.0.0.1 -Dquarkus.http.port="$REGISTRY_PORT" \
  -Dapicurio.rules.global.compatibility=BACKWARD \
  -jar "$APICURIO_HOME/apicurio-registry-app-$APICURIO_VERSION-runner.jar"

# --- Redis: our own instance, nothing persisted -----------------------------------------------
mkdir -p "$run/redis"
launch redis redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no \
  --daemonize no --dir "$run/redis"

# --- Kafka: single KRaft node acting as broker and controller --------------------------------
mkdir -p "$run/kafka/data" "$run/kafka/logs"
cat >"$run/kafka/server.properties" <<EOF
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$KAFKA_CONTROLLER_PORT
listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT,CONTROLLER://127.0.0.1:$KAFKA_CONTROLLER_PORT
advertised.listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT
inter.broker.listener.name=PLAINTEXT
controller.listener.names=CONTROLLER
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$run/kafka/data
num.partitions=1
# Tests and kfs create their topics explicitly with the partition count they need.
auto.create.topics.enable=false
offsets.topic.replication.factor=1
offsets.topic.num.partitions=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=1
group.initial.rebalance.delay.ms=0
num.network.threads=2
num.io.threads=2
num.recovery.threads.per.data.dir=1
EOF
cat >"$run/kafka/log4j.properties" <<'EOF'
log4j.rootLogger=INFO, stdout
log4j.appender.stdout=org.apache.log4j.ConsoleAppender
log4j.appender.stdout.layout=org.apache.log4j.PatternLayout
log4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.kafka.request.logger=WARN
log4j.logger.state.change.logger=WARN
log4j.logger.kafka.controller=WARN
EOF
kafka_jvm=("$(cds_flags kafka "$CACHE_DIR/kafka-$KAFKA_VERSION/kafka.jsa")" -Xms256m -Xmx1g -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:+ExitOnOutOfMemoryError
  -Djava.awt.headless=true -Dkafka.logs.dir="$run/kafka/logs"
  -Dlog4j.configuration="file:$run/kafka/log4j.properties")
cluster_id=-
while [[ $cluster_id == -* ]]; do cluster_id=$(head -c16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '='); done
java "${kafka_jvm[@]:1}" -cp "$KAFKA_LIBS/*" kafka.tools.StorageTool format \
  --cluster-id="$cluster_id" --config="$run/kafka/server.properties" >"$run/kafka-format.log" 2>&1 ||
  { cat "$run/kafka-format.log" >&2; die "formatting Kafka storage failed"; }
launch kafka java "${kafka_jvm[@]}" -cp "$KAFKA_LIBS/*" kafka.Kafka "$run/kafka/server.properties"

# --- MinIO: waits for its build ---------------------------------------------------------------
build_wait_ms=$(now_ms)
if ! wait "$minio_build_pid"; then
  tail -n 30 "$minio_log" >&2
  die "building MinIO failed (log: $minio_log)"
fi
install_s=$(secs_since $((build_wait_ms - ensure_ms)))
mkdir -p "$run/minio/data"
launch minio env MINIO_ROOT_USER="$S3_ACCESS_KEY" MINIO_ROOT_PASSWORD="$S3_SECRET_KEY" \
  MINIO_BROWSER=off MINIO_UPDATE=off MINIO_CI_CD=1 "$MINIO_BIN" server "$run/minio/data" --quiet \
  --address "127.0.0.1:$S3_PORT" --console-address "127.0.0.1:$S3_CONSOLE_PORT"

# --- readiness ----------------------------------------------------------------------------------
wait_for() { # name, check command...; gives up after 180 s or when the process dies
  local name=$1 pid
  shift
  pid=$(cat "$STATE_DIR/$name.pid")
  for _ in $(seq 1 720); do
    if "$@"; then
      log "$name ready ($(secs_since "$started_ms")s since start)"
      return 0
    fi
    if ! kill -0 "$pid" 2>/dev/null; then
      tail -n 40 "$run/$name.log" >&2
      die "$name exited during start-up (log above: $run/$name.log)"
    fi
    sleep 0.25
  done
  tail -n 40 "$run/$name.log" >&2
  die "$name was not ready after 180 s"
}
kafka_ready() { grep -q 'Kafka Server started' "$run/kafka.log" && is_listening "$KAFKA_PORT"; }
registry_ready() { curl -sf "http://127.0.0.1:$REGISTRY_PORT/health/ready" >/dev/null; }
redis_ready() { [ "$(redis-cli -p "$REDIS_PORT" ping 2>/dev/null)" = PONG ]; }
minio_ready() { curl -sf "http://127.0.0.1:$S3_PORT/minio/health/ready" >/dev/null; }

wait_for redis redis_ready
wait_for minio minio_ready
# SigV4-signed PUT /bucket. MinIO can report ready a moment before it takes bucket operations
# (a CI run once failed here on the first try), so the PUT is retried for up to 30 s; a 409 on a
# retry means an earlier try created it (the data dir is fresh, so nothing else could have).
create_bucket() {
  local code
  for _ in $(seq 1 120); do
    code=$(curl -s -o "$run/create-bucket.out" -w '%{http_code}' -X PUT --aws-sigv4 "aws:amz:$S3_REGION:s3" \
      --user "$S3_ACCESS_KEY:$S3_SECRET_KEY" -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" \
      "http://127.0.0.1:$S3_PORT/$S3_BUCKET") || code=000
    case $code in
      200) return 0 ;;
      409) grep -q BucketAlreadyOwnedByYou "$run/create-bucket.out" && return 0 ;;
    esac
    sleep 0.25
  done
  cat "$run/create-bucket.out" >&2 2>/dev/null
  die "creating bucket $S3_BUCKET failed (last HTTP status $code)"
}
create_bucket
wait_for registry registry_ready
wait_for kafka kafka_ready

trap - EXIT
cat >"$STATE_DIR/env.sh" <<EOF
# Written by scripts/stack/up.sh; source it: . .kfs/stack/env.sh
export KFS_KAFKA_BROKERS=127.0.0.1:$KAFKA_PORT
export KFS_SCHEMA_REGISTRY_URL=http://127.0.0.1:$REGISTRY_PORT/apis/ccompat/v7
export KFS_REDIS_URL=redis://127.0.0.1:$REDIS_PORT
export KFS_S3_ENDPOINT=http://127.0.0.1:$S3_PORT
export KFS_S3_BUCKET=$S3_BUCKET
export KFS_S3_REGION=$S3_REGION
export KFS_S3_ACCESS_KEY_ID=$S3_ACCESS_KEY
export KFS_S3_SECRET_ACCESS_KEY=$S3_SECRET_KEY
EOF
total_s=$(secs_since "$started_ms")
echo "start_s=$total_s install_s=$install_s at=$(date -u +%FT%TZ)" >>"$STATE_DIR/timings"
log "stack ready in ${total_s}s (of which installing/building ${install_s}s; run dir $run)"
print_endpoints
