/**
 * When compaction passes run (./compaction.ts): after the append that rolled a segment, never
 * inside it. A roll that finds a pass due queues one on the log's CompactionQueue; the queue runs
 * one pass at a time across every partition of the log (one key map in memory, not one per
 * partition), and a pass does a segment per step, letting appends and reads run between steps.
 * Each step reads and rewrites a segment within one synchronous stretch, so a reader sees a
 * segment before or after its rewrite, never between; a crash between steps leaves whole segments
 * (./compaction.ts). A partition closed mid-pass stops it at the next step.
 */
import { setImmediate as nextTurn } from 'node:timers/promises'
import {
  cleanBytesLeft,
  compactSegments,
  recordCleanBytes,
  runThrough,
  type CompactionSettings,
  type PassResult,
  type SegmentFiles,
} from './compaction.ts'
import type { Segment } from './segment-read.ts'

/** Default bound on the keys a pass maps (./compaction.ts, Memory). */
export const DEFAULT_COMPACTION_MAX_KEYS = 1_000_000

/** The passes of one log, run one at a time in the order queued. */
export class CompactionQueue {
  #tail: Promise<void> = Promise.resolve()

  enqueue(task: () => Promise<void>): void {
    // A task reports its own failures (PartitionCompaction); one failing must not stop the others.
    this.#tail = this.#tail.then(task).catch(() => {})
  }

  /** Settles once every pass queued so far, and every pass they queued, has run. */
  async settled(): Promise<void> {
    for (let tail = this.#tail; ; tail = this.#tail) {
      await tail
      if (tail === this.#tail) return
    }
  }
}

export interface CompactionHost {
  /** The partition's segments, oldest first; the last takes appends. */
  readonly segments: () => readonly Segment[]
  readonly files: SegmentFiles
}

/** One partition's passes: when one is due, queued, or running. */
export class PartitionCompaction {
  readonly #dir: string
  readonly #settings: CompactionSettings
  readonly #fsync: boolean
  readonly #queue: CompactionQueue
  readonly #host: CompactionHost
  /** Bytes of the sealed segments after the last pass (kept across opens in `compacted`). */
  #cleanBytes: number
  #queued = false
  #running: Generator<void, number> | undefined
  #closed = false
  /** Where the next pass maps keys from, when the last one's key budget ran out before the oldest segment; else the newest. */
  #mapFrom: number | undefined

  constructor(dir: string, settings: CompactionSettings, fsync: boolean, queue: CompactionQueue, host: CompactionHost) {
    this.#dir = dir
    this.#settings = settings
    this.#fsync = fsync
    this.#queue = queue
    this.#host = host
    this.#cleanBytes = cleanBytesLeft(dir)
  }

  /** A segment was sealed: a pass is queued when the sealed bytes have doubled since the last. */
  rolled(): void {
    if (this.#queued || this.#closed || !this.#due()) return
    this.#queued = true
    this.#queue.enqueue(async () => {
      this.#queued = false
      if (this.#closed || !this.#due()) return
      const pass = (this.#running = this.#pass())
      try {
        while (!this.#closed && this.#running === pass && !pass.next().done) await nextTurn()
      } catch (err: unknown) {
        // A failing disk: the segments are whole (each rewrite is all or nothing); the next roll tries again.
        this.#settings.onFailure?.(err)
      } finally {
        if (this.#running === pass) this.#running = undefined
      }
    })
  }

  /** Runs a pass through now (after the one in flight, finished first: one at a time); returns the records removed. */
  compactNow(): number {
    const inFlight = this.#running
    this.#running = undefined
    if (inFlight) runThrough(inFlight)
    return runThrough(this.#pass())
  }

  close(): void {
    this.#closed = true
  }

  #due(): boolean {
    const segments = this.#host.segments()
    let sealedBytes = 0
    for (let i = 0; i < segments.length - 1; i++) sealedBytes += segments[i]!.size
    return sealedBytes >= 2 * this.#cleanBytes
  }

  *#pass(): Generator<void, number> {
    const segments = this.#host.segments().map((segment) => ({ segment, size: segment.size }))
    const newest = Math.min(this.#mapFrom ?? Infinity, segments.length - 1)
    const maxKeys = this.#settings.maxKeys ?? DEFAULT_COMPACTION_MAX_KEYS
    const result: PassResult = yield* compactSegments(segments, newest, this.#settings, this.#fsync, this.#host.files, maxKeys)
    this.#mapFrom = result.mappedFrom > 0 ? result.mappedFrom - 1 : undefined
    this.#cleanBytes = segments.slice(0, -1).reduce((n, s) => n + s.segment.size, 0)
    recordCleanBytes(this.#dir, this.#cleanBytes)
    return result.removed
  }
}
