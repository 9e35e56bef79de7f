/**
 * The engine's handle on one owned (topic, partition): its processor, the offline rows and
 * archive rows produced since the last checkpoint, and the checkpoint/restore protocol.
 *
 * Checkpoint, in this order (DESIGN §7):
 *   1. stage data files for every table (invisible to readers),
 *   2. write the operator-state blob,
 *   3. publish checkpoint record `seq` (create-if-absent) — the point of no return,
 *   4. commit each table (idempotent by the `topic/partition → seq` marker),
 *   5. commit Kafka offsets (progress only; recovery trusts the record, not the group offsets).
 * Restore: latest record → roll every table forward to it → restore operator state → resume
 * at its next offset. A crash anywhere therefore neither loses nor duplicates offline rows; online
 * writes are conditional and idempotent, so replaying the tail rewrites the same rows.
 */
import type { Clock } from '../../core/clock.ts'
import type { Logger } from '../../core/logger.ts'
import { retry } from '../../core/retry.ts'
import { createPartitionTask, restorePartitionTask } from '../../operators/task/partition-task.ts'
import type { Decoder } from '../../schemas/decoder.ts'
import type { ArchiveRow, OfflineFeatureRow, OfflineSink, StagedFiles } from '../ports.ts'
import type { CheckpointStore, PartitionCheckpoint } from './checkpoint-store.ts'
import { PartitionProcessor, type ProcessedBatch } from './partition-processor.ts'
import type { SourcePlan } from './plan-sources.ts'

export interface SlotDeps {
  readonly offline: OfflineSink
  readonly checkpoints: CheckpointStore
  readonly clock: Clock
  readonly logger: Logger
}

export class PartitionSlot {
  readonly plan: SourcePlan
  readonly partition: number
  processor: PartitionProcessor
  seq: number
  lastCheckpointAtMs: number
  lastRecordAtMs: number
  lastMarkerAtMs: number
  #rows: OfflineFeatureRow[][]
  #archive: ArchiveRow[] = []
  /** Serialises everything done to this partition (batches, markers, checkpoints). */
  #queue: Promise<unknown> = Promise.resolve()
  readonly #deps: SlotDeps

  private constructor(plan: SourcePlan, partition: number, processor: PartitionProcessor, seq: number, deps: SlotDeps) {
    this.plan = plan
    this.partition = partition
    this.processor = processor
    this.seq = seq
    this.#deps = deps
    const now = deps.clock.nowMs()
    this.lastCheckpointAtMs = now
    this.lastRecordAtMs = now
    this.lastMarkerAtMs = now
    this.#rows = plan.views.map(() => [])
  }

  static async restore(plan: SourcePlan, partition: number, decoder: Decoder, deps: SlotDeps, startOffset = '0'): Promise<PartitionSlot> {
    const latest = await deps.checkpoints.latest(plan.topic, partition)
    if (latest === undefined) {
      const task = createPartitionTask({ views: plan.views, source: plan.source })
      const processor = new PartitionProcessor({ topic: plan.topic, partition, source: plan.source, task, decoder, nextOffset: startOffset })
      return new PartitionSlot(plan, partition, processor, 0, deps)
    }
    await rollForward(latest, deps)
    const task = restorePartitionTask(plan.views, plan.source, await deps.checkpoints.readState(latest.stateKey))
    const processor = new PartitionProcessor({ topic: plan.topic, partition, source: plan.source, task, decoder, nextOffset: latest.nextOffset })
    deps.logger.info({ topic: plan.topic, partition, checkpointSeq: latest.seq, offset: latest.nextOffset }, 'partition restored')
    return new PartitionSlot(plan, partition, processor, latest.seq, deps)
  }

  /** Runs `fn` after everything queued before it on this partition. */
  run<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.#queue.then(fn)
    this.#queue = next.catch(() => undefined)
    return next
  }

  /** Keeps a processed batch's offline rows and archive rows until the next checkpoint. */
  buffer(batch: ProcessedBatch): void {
    for (let v = 0; v < batch.rows.length; v++) (this.#rows[v] as OfflineFeatureRow[]).push(...(batch.rows[v] as OfflineFeatureRow[]))
    this.#archive.push(...batch.archive)
  }

  get bufferedRecords(): number {
    return this.#archive.length
  }

  /** Returns false when another owner published first: this slot is stale and must be dropped. */
  async checkpoint(): Promise<boolean> {
    const { offline, checkpoints, clock, logger } = this.#deps
    const started = clock.nowMs()
    const { topic } = this.plan
    const seq = this.seq + 1
    const staged: StagedFiles[] = []
    const retryOptions = { clock, attempts: 10, maxDelayMs: 2_000, onRetry: (err: unknown) => logger.warn({ err, topic, partition: this.partition }, 'checkpoint step retried') }
    for (let v = 0; v < this.plan.views.length; v++) {
      const view = this.plan.views[v]!
      const rows = this.#rows[v] as OfflineFeatureRow[]
      if (view.offline && rows.length > 0) staged.push(await retry(() => offline.stageFeatureRows(view, rows), retryOptions))
    }
    if (this.#archive.length > 0) staged.push(await retry(() => offline.stageArchiveRows(topic, this.#archive), retryOptions))
    const stateKey = await retry(() => checkpoints.writeState(topic, this.partition, seq, this.processor.task.snapshot()), retryOptions)
    const wm = this.processor.task.watermarkMs
    const record: PartitionCheckpoint = {
      seq,
      topic,
      partition: this.partition,
      nextOffset: this.processor.nextOffset,
      watermarkMs: Number.isFinite(wm) ? wm : null,
      stateKey,
      staged,
      createdAtMs: started,
    }
    const published = await retry(() => checkpoints.publish(record), retryOptions)
    if (!published) {
      logger.warn({ topic, partition: this.partition, checkpointSeq: seq }, 'checkpoint fenced: another owner published first')
      return false
    }
    this.seq = seq
    this.#rows = this.plan.views.map(() => [])
    this.#archive = []
    this.processor.processedSinceCheckpoint = 0
    this.lastCheckpointAtMs = clock.nowMs()
    await retry(() => rollForward(record, this.#deps), retryOptions)
    await checkpoints.prune(topic, this.partition, seq, stateKey).catch((err: unknown) => logger.warn({ err }, 'checkpoint prune failed'))
    return true
  }
}

export function markerName(topic: string, partition: number): string {
  return `${topic}/${partition}`
}

/** Commits the record's staged files to every table that does not hold them yet. */
async function rollForward(record: PartitionCheckpoint, deps: SlotDeps): Promise<void> {
  const name = markerName(record.topic, record.partition)
  for (const staged of record.staged) {
    const committed = (await deps.offline.committedMarkers(staged.table))[name] ?? 0
    if (committed >= record.seq) continue
    await deps.offline.commit(
      staged.table,
      [staged],
      { [name]: record.seq },
      { [`kfs.offset.${name}`]: record.nextOffset, ...(record.watermarkMs === null ? {} : { [`kfs.watermark.${name}`]: String(record.watermarkMs) }) },
    )
  }
}
