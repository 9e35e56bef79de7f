#!/usr/bin/env bash
# Stops exactly the servers scripts/stack/up.sh started (by recorded PID: TERM, wait, then KILL)
# and deletes their runtime data. Safe to run when nothing is up.
set -euo pipefail
# shellcheck source=common.sh
. "$(dirname "$0")/common.sh"

take_lock

if [ ! -f "$STATE_DIR/run" ]; then
  log "nothing to stop"
  exit 0
fi
run=$(cat "$STATE_DIR/run")

stop_one() {
  local name=$1 pid
  pid=$(cat "$STATE_DIR/$name.pid" 2>/dev/null || true)
  # Ownership is checked once, up front; after TERM a dying process loses its cwd before it exits.
  if ! is_ours "$pid" "$run"; then
    rm -f "$STATE_DIR/$name.pid"
    return 0
  fi
  kill -TERM "$pid" 2>/dev/null || true
  # Kafka may take a while to close its log segments cleanly; give every server 30 s.
  for _ in $(seq 1 120); do
    is_alive "$pid" || break
    sleep 0.25
  done
  if is_alive "$pid"; then
    log "$name (pid $pid) ignored TERM; sending KILL"
    kill -KILL "$pid" 2>/dev/null || true
    for _ in $(seq 1 40); do
      is_alive "$pid" || break
      sleep 0.25
    done
  fi
  is_alive "$pid" && die "$name (pid $pid) is still running"
  rm -f "$STATE_DIR/$name.pid"
  log "stopped $name (pid $pid)"
}

# Stop all in parallel: each waits on its own PID only.
pids=()
for s in "${SERVICES[@]}"; do
  stop_one "$s" &
  pids+=($!)
done
failed=0
for p in "${pids[@]}"; do wait "$p" || failed=1; done
[ "$failed" = 0 ] || die "some servers could not be stopped; run dir kept: $run"

# Keep class-data-sharing archives dumped by first-time JVMs (see cds_flags in up.sh).
for target_file in "$run"/*.jsa.target; do
  [ -f "$target_file" ] || continue
  archive=${target_file%.target}
  target=$(cat "$target_file")
  if [ -s "$archive" ] && [ ! -e "$target" ]; then
    cp "$archive" "$target.tmp.$$" && mv "$target.tmp.$$" "$target" || rm -f "$target.tmp.$$"
  fi
done

case "$run" in
  */kfs-stack.*) rm -rf "$run" ;;
  *) log "not deleting unexpected run dir '$run'" ;;
esac
rm -f "$STATE_DIR/run" "$STATE_DIR/env.sh"
log "stack stopped"
