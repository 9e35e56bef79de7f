# Shared settings for scripts/stack/*.sh (sourced, not run).
# Ports and versions live here so up.sh, down.sh, docker-compose.yml and test/unit/compose.test.ts
# agree on one set of numbers.

STACK_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
STACK_DIR="$STACK_ROOT/scripts/stack"
STATE_DIR="$STACK_ROOT/.kfs/stack"
CACHE_DIR="${KFS_CACHE_DIR:-$HOME/.cache/kfs}"

# Ports may be moved (e.g. when someone's hand-started server holds one); env.sh carries the result.
KAFKA_PORT="${KFS_STACK_KAFKA_PORT:-19092}"
KAFKA_CONTROLLER_PORT="${KFS_STACK_KAFKA_CONTROLLER_PORT:-19093}"
REGISTRY_PORT="${KFS_STACK_REGISTRY_PORT:-18081}"
REDIS_PORT="${KFS_STACK_REDIS_PORT:-16379}"
S3_PORT="${KFS_STACK_S3_PORT:-19000}"
S3_CONSOLE_PORT="${KFS_STACK_S3_CONSOLE_PORT:-19001}"

KAFKA_VERSION=3.9.2
APICURIO_VERSION=3.0.9
# The last tagged MinIO release (RELEASE.2025-10-15T17-29-55Z) is refused by the Go module proxy;
# this pseudo-version is the newest commit the proxy serves (minio is source-only since 2025).
MINIO_VERSION=v0.0.0-20260212201848-7aac2a2c5b7c
DEP_PLUGIN=org.apache.maven.plugins:maven-dependency-plugin:3.8.1
INSTALL_PLUGIN=org.apache.maven.plugins:maven-install-plugin:3.1.3

S3_BUCKET=kfs
S3_REGION=us-east-1
S3_ACCESS_KEY=minioadmin
S3_SECRET_KEY=minioadmin

SERVICES=(kafka registry redis minio)

log() { printf '[stack] %s\n' "$*" >&2; }
die() { printf '[stack] ERROR: %s\n' "$*" >&2; exit 1; }

now_ms() { date +%s%3N; }
secs_since() { local start=$1; awk -v d=$(($(now_ms) - start)) 'BEGIN { printf "%.1f", d / 1000 }'; }

is_listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# A PID only counts as ours while the process still works inside our run dir: PIDs get reused.
# (up.sh starts every server with its cwd there; the command line is no proof, as redis-server
# rewrites its own.) A zombie has no cwd, so it counts as stopped.
is_ours() {
  local pid=$1 run=$2 cwd
  [ -n "$pid" ] || return 1
  cwd=$(readlink "/proc/$pid/cwd" 2>/dev/null) || return 1
  [ "$cwd" = "$run" ] || [[ $cwd == "$run"/* ]]
}

# True until the process has fully exited (a zombie counts as exited; it holds no ports).
is_alive() {
  local state
  state=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1) || return 1
  [ -n "$state" ] && [ "$state" != Z ]
}

take_lock() {
  mkdir -p "$STATE_DIR"
  exec 9>"$STATE_DIR/.lock"
  flock -w 900 9 || die "another stack:up/stack:down still holds $STATE_DIR/.lock"
}
