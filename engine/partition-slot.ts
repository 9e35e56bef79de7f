/**
 * Everything the engine does for one (topic, partition): decode each record once, feed every
 * view's processor, archive the record, buffer offline rows until the next checkpoint, and the
 * checkpoint/restore protocol. Live consumption, backfill and replay all use this class; they
 * differ only in where records come from and which tables are written.
 *
 * Checkpoint, in this order (docs/design.md §7):
 *   1. stage data files for every table (invisible to readers),
 *   2. write each view's operator state: a delta of the keys changed, or a full base (state-chain.ts),
 *   3. publish checkpoint record `seq` (create-if-absent) — the point of no return,
 *   4. commit each table (idempotent by the `group/topic/partition → seq` marker).
 * The live engine takes the cut (buffers, operator snapshots, position) between two records and
 * runs steps 1–4 while later records are processed; a checkpoint waits for the one before it.
 * Restore: latest record → roll every table forward to it → restore operator states → resume at
 * its next offset. A crash anywhere therefore neither loses nor duplicates offline rows; online
 * writes are conditional and idempotent, so re-processing the tail rewrites the same rows. A latest
 * record older than the tables' newest commit (its newer records gone) is restore-point.ts's case.
 */
import { retry, type RetryOptions } from '../core/retry.ts'
import type { OfflineRowColumns } from '../ports/offline.ts'
import type { SourceRecord } from '../ports/source.ts'
import type { PartitionCheckpoint } from './checkpoint-store.ts'
import { rollForward } from './roll-forward.ts'
import { restorePoint, restoreViews, type CatchUpDue } from './restore-point.ts'
import { StateChains, type StateChain } from './state-chain.ts'
import { stageCheckpoint, type CheckpointCut } from './checkpoint-record.ts'
import { catchUpFromArchive, type CatchUpLog } from './backfill-hand-off.ts'
import { HeldOutput, type HeldByTables, type RowKeeper } from './committed-rows.ts'
import { decodeFailureLetter, eventsOf, PartitionProcessor } from './partition-processor.ts'
import { archiveRecords, markerArchiveRow } from './archive-rows.ts'
import { archiveSource } from './sources/archive-source.ts'
import { atOrPast, nextOffsetValue, offsetValue } from '../core/offsets.ts'
import { rowBuffersFor, type OfflineRowBuffer } from './offline-row-buffer.ts'
import { ArchiveRowBuffer } from './archive-row-buffer.ts'
import { SnapshotWarmUp } from './snapshot-warm-up.ts'
import { timedSync } from '../core/thread-cpu.ts'
import { requireClaim } from './claim-guard.ts'
import { lastRecordOf, type LastRecord } from './last-record.ts'

import type { SlotDeps, SlotOptions, SlotOutput } from './slot-contract.ts'
export type { SlotDeps, SlotOptions, SlotOutput } from './slot-contract.ts'
export { viewId } from './checkpoint-record.ts'

export class PartitionSlot {
  readonly options: SlotOptions
  readonly processors: PartitionProcessor[]
  seq: number
  lastCheckpointAtMs: number
  lastRecordAtMs: number
  lastMarkerAtMs: number
  /** offsetValue's form: a number while exact, so the per-record comparison below is not a bigint one. */
  #nextOffset: number | bigint
  #rows: OfflineRowBuffer[]
  /** The buffers of the last published cut, emptied: the next cut's buffers (no new arrays per checkpoint). */
  #spareRows: OfflineRowBuffer[] = []
  #archive: ArchiveRowBuffer
  /** The last published cut's archive buffer, emptied (see #spareRows). */
  #spareArchive: ArchiveRowBuffer | undefined
  #queue: Promise<unknown> = Promise.resolve()
  #persisting: Promise<unknown> = Promise.resolve()
  #checkpointedOffset: string
  /** The last record before #nextOffset (last-record.ts): restored from the checkpoint, then the last one processed. */
  #lastRecord: LastRecord | undefined
  /** The last published checkpoint while its table commits have not all succeeded. */
  #unfinished: PartitionCheckpoint | undefined
  readonly #deps: SlotDeps
  readonly #states: StateChains
  /** Per view: what its table holds of the partition already, kept out of its output. */
  readonly #held: HeldOutput[]

  private constructor(
    options: SlotOptions,
    processors: PartitionProcessor[],
    chains: (StateChain | undefined)[],
    at: { readonly seq: number; readonly nextOffset: string; readonly held: HeldByTables | undefined; readonly lastRecord?: LastRecord },
    deps: SlotDeps,
  ) {
    const { seq, nextOffset } = at
    this.#lastRecord = at.lastRecord
    this.options = options
    this.processors = processors
    this.#states = new StateChains(chains, deps.chainPolicy)
    this.seq = seq
    this.#nextOffset = offsetValue(nextOffset)
    this.#checkpointedOffset = nextOffset
    this.#deps = deps
    this.#rows = rowBuffersFor(options.views)
    this.#archive = new ArchiveRowBuffer(options.partition)
    this.#held = options.views.map((_, v) => new HeldOutput(at.held?.rowsThrough[v]))
    const now = deps.clock.nowMs()
    this.lastCheckpointAtMs = now
    this.lastRecordAtMs = now
    this.lastMarkerAtMs = now
  }

  /**
   * Restores from the latest checkpoint, or starts fresh at `startOffset`. A view the checkpoint
   * does not know is adopted from its backfill, or starts empty at offset 0, and is caught up from
   * the archive to the partition's position (backfill-hand-off.ts): never without its history. So
   * are the views of a checkpoint older than the archive (restore-point.ts).
   */
  static async restore(options: SlotOptions, deps: SlotDeps, startOffset = '0'): Promise<PartitionSlot> {
    const point = await restorePoint(options, deps, startOffset)
    const { processors, chains, behind } = await restoreViews(options, deps, point)
    const slot = new PartitionSlot(options, processors, chains, point, deps)
    slot.pendingCatchUp.push(...behind)
    return slot
  }

  readonly #warmUp = new SnapshotWarmUp()

  /** Processors adopted from a backfill, or restored behind the archive, that still have to catch up from it. */
  readonly pendingCatchUp: CatchUpDue[] = []

  /**
   * Brings adopted views from their backfill position to the partition's position by reading the
   * archive (which holds everything up to the restored checkpoint, markers included); their rows
   * are kept for the next checkpoint and returned for the online store. `log`: where the log
   * starts, for an archive that ends before the partition's position (backfill-hand-off.ts).
   */
  async catchUp(createdAtMs: number, log?: CatchUpLog): Promise<SlotOutput> {
    const out: SlotOutput = { rows: this.options.views.map(() => []), deadLetters: [], records: 0 }
    const archive = archiveSource(this.#deps.offline, this.topic)
    for (const { view: v } of this.pendingCatchUp.splice(0)) {
      // The view may have run here before (dropped, then rolled back or re-added; or past a stale
      // checkpoint): its table holds those rows, which #keepOf leaves out.
      const keep = () => this.#keepOf(v)
      const caughtUp = await catchUpFromArchive(this.processors[v] as PartitionProcessor, archive, this.options.decoder, this.nextOffset, createdAtMs, keep, log)
      out.rows[v] = caughtUp.rows
      out.deadLetters.push(...this.#held[v]!.letters(caughtUp.deadLetters))
    }
    return out
  }

  get topic(): string {
    return this.options.topic
  }

  get partition(): number {
    return this.options.partition
  }

  get nextOffset(): string {
    return this.#nextOffset.toString()
  }

  /** The last record before `nextOffset`, as the next checkpoint names it (undefined: unknown). */
  get lastRecord(): LastRecord | undefined {
    return this.#lastRecord
  }

  /** Where the latest published checkpoint resumes (the position to commit to Kafka). */
  get nextOffsetAtLastCheckpoint(): string {
    return this.#checkpointedOffset
  }

  /** Current partition watermark (all views see the same records, hence the same watermark). */
  get watermarkMs(): number {
    return this.processors[0]?.task.watermarkMs ?? -Infinity
  }

  get buffered(): number {
    return this.#archive.length + this.#rows.reduce((n, r) => n + r.length, 0)
  }

  /** Runs `fn` after everything queued before it on this partition. */
  run<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.#queue.then(fn)
    this.#queue = next.catch(() => undefined)
    return next
  }

  async processRecords(records: readonly SourceRecord[], createdAtMs: number): Promise<SlotOutput> {
    const fresh = atOrPast(records, this.#nextOffset)
    if (fresh.length === 0) return { rows: this.options.views.map(() => []), deadLetters: [], records: 0 }
    const { source, views } = this.options
    const { events, deadLetters: malformed } = eventsOf(this.options, source, fresh)
    const out: SlotOutput = { rows: this.options.views.map(() => []), deadLetters: [], records: events.length + malformed.length }
    const decoded = await this.options.decoder.decodeBatch(events.map((r) => r.value))
    for (let v = 0; v < this.processors.length; v++) {
      const result = (this.processors[v] as PartitionProcessor).processRecords(events, decoded, createdAtMs, this.#keepOf(v))
      out.rows[v] = result.rows
      out.deadLetters.push(...this.#held[v]!.letters(result.deadLetters))
    }
    for (let i = 0; i < events.length; i++) {
      const result = decoded[i]!
      if (!result.ok) out.deadLetters.push(decodeFailureLetter(this.options, source, views, events[i] as SourceRecord, result))
    }
    out.deadLetters.push(...malformed)
    if (this.options.archive) archiveRecords(this.#archive, source.eventTimeField, fresh, events, decoded)
    const last = fresh.at(-1) as SourceRecord
    this.#nextOffset = nextOffsetValue(offsetValue(last.offset))
    this.#lastRecord = lastRecordOf(last)
    this.#warmUp.afterBatch(this.processors)
    return out
  }

  /**
   * Records before `position` were deleted by the log's retention before they were read
   * (docs/semantics.md §17): the slot and its views resume at it, and the next checkpoint says so.
   */
  skipTo(position: string): void {
    const to = offsetValue(position)
    if (to <= this.#nextOffset) return
    this.#nextOffset = to
    this.#lastRecord = undefined
    for (const p of this.processors) p.skipTo(position)
  }

  /** An idle-advance marker: live, from the idle detector (and archived); replay, from the archive. */
  processMarker(watermarkMs: number, createdAtMs: number): SlotOutput {
    const rows = this.processors.map((p, v) => p.processMarker(watermarkMs, createdAtMs, this.#keepOf(v)))
    if (this.options.archive) this.#archive.push(markerArchiveRow(this.partition, this.nextOffset, watermarkMs, createdAtMs))
    return { rows, deadLetters: [], records: 0 }
  }

  /** View `v`'s rows buffered for the next checkpoint, with their archive positions (read-only; for inspection and tests). */
  rowsAwaitingCheckpoint(v: number): OfflineRowColumns {
    return this.#rows[v]!
  }

  /**
   * Where view `v`'s rows wait for the next checkpoint: its buffer — past the rows its table holds
   * already (committed-rows.ts) —, or nowhere for a view with no offline table.
   */
  #keepOf(v: number): RowKeeper | undefined {
    return this.#held[v]!.keeper(this.options.views[v]!.offline ? this.#rows[v] : undefined)
  }

  /**
   * Checkpoints and waits for it. Returns false when another owner published first: this slot is
   * stale and must be dropped.
   */
  async checkpoint(landed?: Promise<unknown>): Promise<boolean> {
    await this.#persisting
    return this.#persist(this.#timedCut(), landed)
  }

  /**
   * Starts a checkpoint and returns once its cut is taken; the I/O (staging, state blobs, publish,
   * table commits) then runs while later records are processed, so a checkpoint does not stall
   * online writes. At most one is in flight: a new one first waits for the previous one. `done`
   * gets the outcome (false = fenced) or the error, exactly once.
   *
   * `landed` (both forms) settles once the caller's online writes and dead letters of every row
   * before the cut are done; the publish — the point of no return — waits for it, since a restart
   * resumes after the cut and would never write those rows again.
   */
  async checkpointInBackground(done: (result: { ok: boolean } | { err: unknown }) => void, landed?: Promise<unknown>): Promise<void> {
    await this.#persisting
    const persisting = this.#persist(this.#timedCut(), landed)
    this.#persisting = persisting.then(
      (ok) => (done({ ok }), undefined),
      (err: unknown) => (done({ err }), undefined),
    )
  }

  #timedCut(): CheckpointCut {
    const onCut = this.#deps.onCut
    return onCut === undefined ? this.#cut() : timedSync(() => this.#cut(), onCut)
  }

  /** The synchronous part: what the checkpoint covers, taken between two records. */
  #cut(): CheckpointCut {
    const { views } = this.options
    const cut: CheckpointCut = {
      seq: this.seq + 1,
      startedAtMs: this.#deps.clock.nowMs(),
      previousCheckpointAtMs: this.lastCheckpointAtMs,
      rows: this.#rows,
      archive: this.#archive,
      states: this.#states.cut(this.processors.map((p) => p.task)),
      rowsAtNextOffset: this.processors.map((p) => p.rowsAtNextOffset),
      nextOffset: this.nextOffset,
      lastRecord: this.#lastRecord,
      watermarkMs: this.watermarkMs,
    }
    this.#rows = rowBuffersFor(views, this.#spareRows)
    this.#spareRows = []
    this.#archive = this.#spareArchive ?? new ArchiveRowBuffer(this.partition)
    this.#spareArchive = undefined
    this.lastCheckpointAtMs = cut.startedAtMs
    return cut
  }

  /**
   * Runs the checkpoint of `cut`. Until its record is published the cut's rows exist only here, so a
   * failure before the publish puts them back in front of the buffers for the next checkpoint: no
   * checkpoint ever publishes past rows never written. After the publish the record names them; if
   * the table commits fail, the next checkpoint (or a restart's `restore`) finishes them first.
   */
  async #persist(taken: CheckpointCut, landed: Promise<unknown> | undefined): Promise<boolean> {
    let published: PartitionCheckpoint | undefined
    let cut = taken
    try {
      const settled = await this.#settleUnconfirmed(cut)
      if (settled === undefined) return false
      cut = settled
      published = await this.#publish(cut, landed)
    } catch (err: unknown) {
      this.#giveBack(cut)
      throw err
    }
    if (published === undefined) return false
    // The record names the cut's staged files: its rows are written, and its buffers can take the next ones.
    for (const rows of cut.rows) rows.clear()
    this.#spareRows = cut.rows
    cut.archive.clear()
    this.#spareArchive = cut.archive
    await this.#finish(published)
    return true
  }

  /**
   * A publish that failed past its retries may still have written its record (the create landed and
   * its answer was lost, or a call after it failed): the record, and the cut it covers, are kept
   * apart until the next checkpoint settles them by publishing that record again, byte for byte —
   * published (or found as its own), the cut is done and the new one is the next seq; fenced, the
   * slot is stale. Taken for unpublished instead, the cut's rows went into a new record of the same
   * seq that found the first one there, took it for another owner's and dropped the slot, its idle
   * markers with it; and a clean stop left the first record's files out of the tables until a restart.
   */
  #unconfirmed: { cut: CheckpointCut; record: PartitionCheckpoint } | undefined

  /** `cut`, once an unconfirmed publish before it is settled (undefined: fenced). */
  async #settleUnconfirmed(cut: CheckpointCut): Promise<CheckpointCut | undefined> {
    const pending = this.#unconfirmed
    if (pending === undefined) return cut
    const { record } = pending
    await requireClaim(this.#deps, this.topic, this.#retryOptions())
    if (!(await retry(() => this.#deps.checkpoints.publish(record), this.#retryOptions('publishing the checkpoint record')))) {
      this.#unconfirmed = undefined
      this.#deps.logger.warn({ topic: this.topic, partition: this.partition, checkpointSeq: record.seq }, 'checkpoint fenced: another owner published first')
      return undefined
    }
    this.#unconfirmed = undefined
    this.seq = record.seq
    this.#checkpointedOffset = record.nextOffset
    this.#unfinished = record
    // The cut's rows are named by the record now: only the ones taken since go into the next.
    const rows = cut.rows.map((buffer, v) => buffer.withoutFirst(pending.cut.rows[v]!.length))
    return { ...cut, seq: record.seq + 1, rows, archive: cut.archive.withoutFirst(pending.cut.archive.length) }
  }

  /** Puts an unpublished cut's rows and archive records back in front of what came after it. */
  #giveBack(cut: CheckpointCut): void {
    this.#rows = cut.rows.map((rows, v) => (rows.length === 0 ? this.#rows[v]! : rows.concat(this.#rows[v]!)))
    if (cut.archive.length > 0) this.#archive = cut.archive.concat(this.#archive)
    this.lastCheckpointAtMs = cut.previousCheckpointAtMs
    this.#states.lost()
  }

  #retryOptions(what?: string): RetryOptions {
    const { clock, logger, deadline } = this.#deps
    const { topic, partition } = this.options
    const onRetry = (err: unknown) => logger.warn({ err, topic, partition }, 'checkpoint step retried')
    const named = what === undefined ? {} : { what: `${what} of ${topic}/${partition}` }
    return { clock, attempts: this.#deps.checkpointStepAttempts ?? 10, maxDelayMs: 2_000, onRetry, ...named, ...(deadline === undefined ? {} : { until: deadline }) }
  }

  /** Steps 1–3: stage, state blobs, publish. Undefined when fenced. */
  async #publish(cut: CheckpointCut, landed: Promise<unknown> | undefined): Promise<PartitionCheckpoint | undefined> {
    const { checkpoints, logger } = this.#deps
    const { topic, partition } = this.options
    const { seq } = cut
    const options = this.#retryOptions()
    // A published checkpoint whose table commits failed is finished before anything newer is
    // published: restore rolls forward only the latest record, so its files would never be committed.
    if (this.#unfinished !== undefined) await this.#finish(this.#unfinished)
    const { record, chains } = await stageCheckpoint(cut, this.options, this.#deps, options)
    await landed
    await requireClaim(this.#deps, topic, options, record)
    let ours: boolean
    try {
      ours = await retry(() => checkpoints.publish(record), this.#retryOptions('publishing the checkpoint record'))
    } catch (err: unknown) {
      this.#unconfirmed = { cut, record }
      throw err
    }
    if (!ours) {
      logger.warn({ topic, partition, checkpointSeq: seq }, 'checkpoint fenced: another owner published first')
      this.#states.lost()
      return undefined
    }
    this.seq = seq
    this.#checkpointedOffset = cut.nextOffset
    this.#unfinished = record
    this.#states.published(chains)
    return record
  }

  /** Step 4: commits the published record's files to every table, then prunes older records. */
  async #finish(record: PartitionCheckpoint): Promise<void> {
    const { checkpoints, logger } = this.#deps
    await retry(() => rollForward(record, this.#deps, this.#deps.deadline), this.#retryOptions('committing the tables'))
    if (this.#unfinished === record) this.#unfinished = undefined
    await checkpoints.prune(record).catch((err: unknown) => logger.warn({ err }, 'checkpoint prune failed'))
  }
}

