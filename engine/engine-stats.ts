/** Counters the engine keeps; main/ exposes them as Prometheus metrics, tests read them directly. */
export interface EngineStats {
  consumed: number
  /** Records the re-key stages committed to internal topics (this process). */
  rekeyed: number
  emittedRows: number
  deadLettered: Record<string, number>
  checkpoints: number
  lastCheckpointDurationMs: number
  lastCheckpointAtMs: number
  /** Newest as_of written online, per view name. */
  newestOnlineAsOfMs: Record<string, number>
  /** Last known lag per `topic/partition`. */
  lag: Record<string, number>
  onlineWriteMs: number
  fenced: number
}

export function createEngineStats(): EngineStats {
  return {
    consumed: 0,
    rekeyed: 0,
    emittedRows: 0,
    deadLettered: {},
    checkpoints: 0,
    lastCheckpointDurationMs: 0,
    lastCheckpointAtMs: 0,
    newestOnlineAsOfMs: {},
    lag: {},
    onlineWriteMs: 0,
    fenced: 0,
  }
}
