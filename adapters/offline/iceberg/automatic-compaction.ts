/**
 * The engine's automatic compaction of its tables: a long-running `kfs run` commits a file per
 * checkpoint per source partition to each feature table and to each topic's archive, and every
 * full read (training sets, backfills, replays, verify-parity) opens them all; nothing but a
 * scheduled `kfs compact` rewrote them. After a committed append the sink asks `afterCommit` with
 * the table's compaction (`featureTableCompaction`: compaction.ts; `archiveCompaction`:
 * archive-compaction.ts); at most every `everyMs` per table, it starts in the background — on a
 * later turn of the event loop, never in the table's commit queue: the checkpoint that made it
 * due does not wait for it, nor does the next one. Its commit races the engine's appends and is
 * rebuilt on the fresh table; a failure is reported to `onError` and leaves the rows as they were
 * — compaction is hygiene, never a reason to stop the engine — and is tried again `everyMs` later.
 */
import { systemClock, type Clock } from '../../../core/clock.ts'
import { createCompactionStats, type CompactionKind, type CompactionOutcome, type CompactionStats } from '../../../ports/offline-compaction.ts'
import { compactArchiveTable, type ArchiveCompactionOptions } from './archive-compaction.ts'
import { compactPartitions, type CompactionOptions } from './compaction.ts'
import { ManifestCountsMemory } from './compaction-plan.ts'
import type { IcebergTable } from './iceberg-table.ts'

const MS_PER_DAY = 86_400_000

export interface AutomaticCompaction {
  /** Feature tables: day partitions whose whole day ended longer ago; archives: files committed longer ago (and those before them). */
  readonly olderThanMs: number
  /** At most one compaction of a table this often. */
  readonly everyMs: number
  /** Day partitions of a feature table rewritten by one compaction, oldest first: each stays short, a backlog takes several. */
  readonly maxPartitions: number
  /** Archive files replaced by one compaction, about (whole runs; at least one): the archive's bound of a compaction's length. */
  readonly maxArchiveFiles?: number
  /**
   * Rows of one rewritten file, and so the most held at once: a feature table's
   * (compaction-rewrite.ts's default when absent) and an archive's (archive-compaction.ts's).
   */
  readonly maxRowsPerFile?: number
  readonly onError: (err: unknown, tableId: string) => void
  /** Each compaction that rewrote something. */
  readonly onCompacted?: (result: CompactedFiles, tableId: string) => void
}

export interface CompactedFiles {
  readonly removedFiles: number
  readonly addedFiles: number
  /** Manifests its plan decoded (a feature table's: compaction-plan.ts). */
  readonly manifestsRead?: number
}

/**
 * One compaction of a table, as the scheduler starts it: `signal` ends it at its next step, before
 * its commit; `memory` is what the table's earlier compactions found in its manifests.
 */
export interface ScheduledCompaction {
  readonly kind: CompactionKind
  readonly run: (run: {
    readonly settings: AutomaticCompaction
    readonly nowMs: number
    readonly signal: AbortSignal
    readonly memory: ManifestCountsMemory
  }) => Promise<CompactedFiles>
}

/** A feature table's compaction: its day partitions older than `olderThanMs`, at most `maxPartitions`. */
export function featureTableCompaction(table: () => Promise<IcebergTable>, options: CompactionOptions = {}): ScheduledCompaction {
  return {
    kind: 'features',
    run: async ({ settings, nowMs, signal, memory }) => {
      const { olderThanMs, maxPartitions, maxRowsPerFile } = settings
      return compactPartitions(await table(), {
        ...options,
        // A day partition is old once its last instant is: the day that ends olderThanMs ago and all before.
        olderThanDay: Math.floor((nowMs - olderThanMs) / MS_PER_DAY),
        maxPartitions,
        ...(maxRowsPerFile === undefined ? {} : { maxRowsPerFile }),
        signal,
        memory,
      })
    },
  }
}

/**
 * An archive's compaction: its files committed longer than `olderThanMs` ago and those before them
 * (never a recent checkpoint's: archive-compaction.ts), at most about `maxArchiveFiles`, one run in memory at a time.
 */
export function archiveCompaction(
  table: () => Promise<IcebergTable>,
  topic: string,
  options: Omit<ArchiveCompactionOptions, 'committedBeforeMs'> = {},
): ScheduledCompaction {
  return {
    kind: 'archive',
    run: async ({ settings, nowMs, signal }) => {
      const { olderThanMs, maxArchiveFiles, maxRowsPerFile } = settings
      return compactArchiveTable(await table(), topic, {
        ...options,
        committedBeforeMs: nowMs - olderThanMs,
        ...(maxArchiveFiles === undefined ? {} : { maxFiles: maxArchiveFiles }),
        ...(maxRowsPerFile === undefined ? {} : { rowsPerFile: maxRowsPerFile }),
        signal,
      })
    },
  }
}

export class CompactionScheduler {
  readonly #settings: AutomaticCompaction
  readonly #clock: Clock
  /** Per table, when its last compaction started. */
  readonly #lastStartMs = new Map<string, number>()
  readonly #running = new Map<string, Promise<void>>()
  /** Per table, what its compactions found in its manifests: a steady one reads only the new ones. */
  readonly #memory = new Map<string, ManifestCountsMemory>()
  readonly #stop = new AbortController()
  /** What the compactions did, by kind (the engine's metrics). */
  readonly stats: CompactionStats = createCompactionStats()

  constructor(settings: AutomaticCompaction, options: { readonly clock?: Clock } = {}) {
    this.#settings = settings
    this.#clock = options.clock ?? systemClock
  }

  /** After a committed append to a table: when its compaction is due and none runs, starts `compaction` on a later turn of the event loop. */
  afterCommit(tableId: string, compaction: ScheduledCompaction): void {
    if (this.#stop.signal.aborted || this.#running.has(tableId)) return
    const nowMs = this.#clock.nowMs()
    const last = this.#lastStartMs.get(tableId)
    if (last !== undefined && nowMs - last < this.#settings.everyMs) return
    this.#lastStartMs.set(tableId, nowMs)
    const run = new Promise<void>((resolve) => setImmediate(resolve))
      .then(() => this.#compact(tableId, compaction, nowMs))
      .finally(() => this.#running.delete(tableId))
    this.#running.set(tableId, run)
  }

  async #compact(tableId: string, compaction: ScheduledCompaction, nowMs: number): Promise<void> {
    let memory = this.#memory.get(tableId)
    if (memory === undefined) this.#memory.set(tableId, (memory = new ManifestCountsMemory()))
    const stats = this.stats[compaction.kind]
    const ended = (outcome: CompactionOutcome): void => {
      stats.runs[outcome]++
      stats.lastRunEndMs = this.#clock.nowMs()
      stats.lastRunDurationMs = stats.lastRunEndMs - nowMs
    }
    try {
      const result = await compaction.run({ settings: this.#settings, nowMs, signal: this.#stop.signal, memory })
      stats.manifestsRead += result.manifestsRead ?? 0
      stats.filesRewritten += result.removedFiles
      stats.filesWritten += result.addedFiles
      ended(result.removedFiles > 0 ? 'committed' : 'nothing')
      if (result.removedFiles > 0) this.#settings.onCompacted?.(result, tableId)
    } catch (err: unknown) {
      // Stopped with the engine: neither a failure nor a run.
      if (this.#stop.signal.aborted) return
      ended('failed')
      this.#settings.onError(err, tableId)
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
