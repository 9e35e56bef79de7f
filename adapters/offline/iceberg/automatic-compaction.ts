/**
 * The engine's automatic compaction of its feature tables (compaction.ts): a long-running `kfs run`
 * commits a file per checkpoint per source partition to each feature table, and every full read
 * (training sets, backfills, verify-parity) opens them all; nothing but a scheduled `kfs compact`
 * rewrote them. After a committed append the sink asks `afterCommit`; at most every `everyMs` per
 * table, a compaction of its day partitions older than `olderThanMs` starts in the background —
 * on a later turn of the event loop, never in the table's commit queue: the checkpoint that made
 * it due does not wait for it, nor does the next one. Its commit races the engine's appends and is
 * rebuilt on the fresh table (compaction.ts); a failure is reported to `onError` and leaves the
 * rows as they were — compaction is hygiene, never a reason to stop the engine — and is tried again
 * `everyMs` later.
 */
import { systemClock, type Clock } from '../../../core/clock.ts'
import { compactPartitions, type CompactionOptions, type CompactionResult } from './compaction.ts'
import type { IcebergTable } from './iceberg-table.ts'

const MS_PER_DAY = 86_400_000

export interface AutomaticCompaction {
  /** Day partitions whose whole day ended longer ago than this are compacted. */
  readonly olderThanMs: number
  /** At most one compaction of a table this often. */
  readonly everyMs: number
  /** Partitions rewritten by one compaction, oldest first: each stays short, a backlog takes several. */
  readonly maxPartitions: number
  /** Rows of one rewritten file, and the most held at once (compaction-rewrite.ts's default when absent). */
  readonly maxRowsPerFile?: number
  readonly onError: (err: unknown, tableId: string) => void
  /** Each compaction that rewrote something. */
  readonly onCompacted?: (result: CompactionResult, tableId: string) => void
}

export class CompactionScheduler {
  readonly #settings: AutomaticCompaction
  readonly #clock: Clock
  /** Per table, when its last compaction started. */
  readonly #lastStartMs = new Map<string, number>()
  readonly #running = new Map<string, Promise<void>>()
  readonly #stop = new AbortController()

  constructor(settings: AutomaticCompaction, options: { readonly clock?: Clock } = {}) {
    this.#settings = settings
    this.#clock = options.clock ?? systemClock
  }

  /**
   * After a committed append to a feature table: when its compaction is due and none runs, starts
   * one on a later turn of the event loop. `table` opens the table then; `options` are the
   * commit's and the writer's (clock, store retry bounds, Parquet worker).
   */
  afterCommit(tableId: string, table: () => Promise<IcebergTable>, options: CompactionOptions = {}): void {
    if (this.#stop.signal.aborted || this.#running.has(tableId)) return
    const nowMs = this.#clock.nowMs()
    const last = this.#lastStartMs.get(tableId)
    if (last !== undefined && nowMs - last < this.#settings.everyMs) return
    this.#lastStartMs.set(tableId, nowMs)
    const run = new Promise<void>((resolve) => setImmediate(resolve))
      .then(() => this.#compact(tableId, table, options, nowMs))
      .finally(() => this.#running.delete(tableId))
    this.#running.set(tableId, run)
  }

  async #compact(tableId: string, table: () => Promise<IcebergTable>, options: CompactionOptions, nowMs: number): Promise<void> {
    const { olderThanMs, maxPartitions, maxRowsPerFile } = this.#settings
    try {
      const result = await compactPartitions(await table(), {
        ...options,
        // A day partition is old once its last instant is: the day that ends olderThanMs ago and all before.
        olderThanDay: Math.floor((nowMs - olderThanMs) / MS_PER_DAY),
        maxPartitions,
        ...(maxRowsPerFile === undefined ? {} : { maxRowsPerFile }),
        signal: this.#stop.signal,
      })
      if (result.removedFiles > 0) this.#settings.onCompacted?.(result, tableId)
    } catch (err: unknown) {
      if (!this.#stop.signal.aborted) this.#settings.onError(err, tableId)
    }
  }

  /** Resolves once no compaction runs (those started meanwhile included). */
  async settled(): Promise<void> {
    while (this.#running.size > 0) await Promise.all(this.#running.values())
  }

  /** Starts no more; one running ends at its next step, before its commit (its files deleted), unless it is committing. */
  async stop(): Promise<void> {
    this.#stop.abort()
    await this.settled()
  }
}
