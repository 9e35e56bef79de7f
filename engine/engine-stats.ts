/** Counters the engine keeps; main/ exposes them as Prometheus metrics, tests read them directly. */
import type { DeadLetter } from '../ports/dead-letters.ts'

/**
 * Durations whose distribution matters (a histogram, not a last value): the engine reports each
 * one here; main/metrics-server.ts installs the recorder. No-ops until then, so the engine never
 * depends on whether anyone scrapes it.
 */
export interface EngineTimings {
  checkpoint(durationMs: number): void
  /**
   * One checkpoint's cut: its synchronous part (operator state snapshot or delta, buffers handed
   * over), during which the event loop runs nothing else — every partition's records wait it out.
   */
  checkpointCut(durationMs: number, cpuMs: number): void
  /** One slot batch's online writes, all its views. */
  onlineWriteBatch(durationMs: number): void
}

/** The `view` of a dead letter that every view of its source refused (e.g. undecodable). */
export const ALL_VIEWS = '*'

export interface EngineStats {
  consumed: number
  /** Records the re-key stages committed to internal topics (this process). */
  rekeyed: number
  emittedRows: number
  deadLettered: Record<string, number>
  /** The same dead letters by view (ALL_VIEWS when no single view refused the record), then reason. */
  deadLetteredByView: Record<string, Record<string, number>>
  checkpoints: number
  lastCheckpointDurationMs: number
  lastCheckpointAtMs: number
  /** Newest as_of written online, per view name. */
  newestOnlineAsOfMs: Record<string, number>
  /** Last known lag per topic, then partition. */
  lag: Record<string, Record<number, number>>
  onlineWriteMs: number
  fenced: number
  /** Source records retention deleted before this group read them (docs/semantics.md §17), by topic. */
  deletedBeforeRead: Record<string, number>
  /** Losses of online rows the engine saw and reloaded for, by reason (online-loss-watch.ts). */
  onlineLosses: Record<string, number>
  /** Rows those reloads wrote back to the online store. */
  onlineReloadedRows: number
  /** Reloads that failed (each is tried again at the next check). */
  onlineReloadFailures: number
  /** True while a reload runs. */
  onlineReloading: boolean
  timings: EngineTimings
}

export function createEngineStats(): EngineStats {
  return {
    consumed: 0,
    rekeyed: 0,
    emittedRows: 0,
    deadLettered: {},
    deadLetteredByView: {},
    checkpoints: 0,
    lastCheckpointDurationMs: 0,
    lastCheckpointAtMs: 0,
    newestOnlineAsOfMs: {},
    lag: {},
    onlineWriteMs: 0,
    fenced: 0,
    deletedBeforeRead: {},
    onlineLosses: {},
    onlineReloadedRows: 0,
    onlineReloadFailures: 0,
    onlineReloading: false,
    timings: { checkpoint: () => undefined, checkpointCut: () => undefined, onlineWriteBatch: () => undefined },
  }
}

/** Counts dead letters by reason, and by view and reason. */
export function countDeadLetters(stats: EngineStats, letters: readonly DeadLetter[]): void {
  for (const { reason, view } of letters) {
    stats.deadLettered[reason] = (stats.deadLettered[reason] ?? 0) + 1
    const byReason = (stats.deadLetteredByView[view ?? ALL_VIEWS] ??= {})
    byReason[reason] = (byReason[reason] ?? 0) + 1
  }
}
