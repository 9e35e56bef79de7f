/**
 * What the live engine does with a batch that starts past where its partition slot reads next
 * (`first`: where the batch's read started; positions the source says hold no record —
 * transaction markers, `span.from` — are no gap, so this is rare and never per batch):
 *
 * - The log's start moved past the position: records were deleted before they were read, while
 *   the engine ran behind, and the client's fetch went out of range and restarted the partition
 *   where it chose (kafkajs and @platformatic/kafka: the log's first record, with fromBeginning;
 *   else its end). The gap is counted and resumed past as at a restore (resume-position.ts,
 *   docs/semantics.md §17): from the first record left, never from where the client went.
 * - Otherwise the reader skipped records (e.g. a client restart after a failed batch resumed after
 *   it): seek back once; if the next batch starts past the position again, the gap is the
 *   source's own.
 *
 * One read of the log's start offsets per gap.
 */
import type { Logger } from '../core/logger.ts'
import type { EventLog } from '../ports/event-log.ts'
import type { SourceBatch, StreamPartition } from '../ports/source.ts'
import type { PartitionSlot } from './partition-slot.ts'
import { deletedMidRunInLog } from './resume-position.ts'

export interface BatchGapDeps {
  readonly log: Pick<EventLog, 'startOffsets'>
  readonly stats: { readonly deletedBeforeRead: Record<string, number> }
  readonly logger: Logger
  /** The engine's retry for reads of the log. */
  readonly reads: <T>(read: () => Promise<T>) => Promise<T>
  /** Where the partition's next batch starts. */
  readonly seek: (at: StreamPartition, position: string) => void
}

/** Returns the gap handler: resolves true when the batch is to be processed, false when it was dropped (and a seek made). */
export function batchGapHandler(
  deps: BatchGapDeps,
): (slot: PartitionSlot, batch: SourceBatch, first: string) => Promise<boolean> {
  const { log, stats, logger, reads, seek } = deps
  // Per slot, the position whose gap was already sought back from once.
  const soughtBack = new WeakMap<PartitionSlot, string>()
  return async (slot, batch, first) => {
    const expected = slot.nextOffset
    const where = { topic: batch.stream, partition: batch.partition }
    const deleted = await deletedMidRunInLog(log, where, expected, first, reads, {
      deletedBeforeRead: stats.deletedBeforeRead,
      logger,
    })
    if (deleted !== undefined) {
      slot.skipTo(deleted.position)
      if (deleted.position === first) return true
      seek(batch, deleted.position)
      return false
    }
    if (soughtBack.get(slot) === expected) return true
    soughtBack.set(slot, expected)
    logger.warn(
      { ...where, offset: expected, batchOffset: batch.records[0]!.offset },
      'records skipped by the consumer: seeking back',
    )
    seek(batch, expected)
    return false
  }
}

/**
 * A partition whose slot has had no record for `quietMs` while short of the log's end
 * (`kfs run --until-caught-up`): when retention deleted every record left unread, the client's
 * out-of-range fetch restarts past them and no batch ever comes to show the gap, so the engine
 * would wait forever (docs/semantics.md §17). One read of the log's start per partition and
 * `quietMs`, in that idle case only: a start past the position is the deletion, counted and
 * resumed past by the batch's rule, as if the next batch started at the log's end. Returns where
 * the partition reads now.
 */
export function idleGapHandler(
  deps: BatchGapDeps,
): (slot: PartitionSlot, at: { position: bigint; end: bigint; nowMs: number; quietMs: number }) => Promise<bigint> {
  const { log, stats, logger, reads, seek } = deps
  const askedAt = new WeakMap<PartitionSlot, number>()
  return async (slot, { position, end, nowMs, quietMs }) => {
    if (nowMs - (askedAt.get(slot) ?? -Infinity) < quietMs) return position
    askedAt.set(slot, nowMs)
    // Under the slot's queue: a batch that came meanwhile moved the slot on, and any gap before it
    // was that batch's to find (counted there, never twice).
    return slot.run(async () => {
      if (BigInt(slot.nextOffset) > position) return BigInt(slot.nextOffset)
      const where = { topic: slot.topic, partition: slot.partition }
      const deleted = await deletedMidRunInLog(log, where, position.toString(), end.toString(), reads, {
        deletedBeforeRead: stats.deletedBeforeRead,
        logger,
      })
      if (deleted === undefined) return position
      slot.skipTo(deleted.position)
      seek({ stream: slot.topic, partition: slot.partition }, deleted.position)
      return BigInt(deleted.position)
    })
  }
}
