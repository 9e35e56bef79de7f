/**
 * The live engine's check that a restored partition's log is the one its checkpoint was taken on
 * (docs/semantics.md §17, "A topic re-created with more records"). A checkpoint names the last
 * record before its position (last-record.ts); the reader of a restored slot starts at that
 * record's offset instead of the position, and the first batch that reaches it settles the check:
 * - the same record: it was processed already, and the slot drops it (it lies before the position);
 * - another record there, or none there while the log still holds that offset (on a source kfs
 *   does not compact): the topic was deleted and re-created, and has grown past the checkpoint —
 *   reading on from the position would skip its first records without a word, so the engine stops
 *   with INVARIANT_VIOLATED;
 * - the record gone: retention deleted it (the log starts past it), or compaction removed it (a
 *   table source's topic): nothing to compare, the slot resumes as it would without the check.
 * A batch read from past the offset while the log still holds it was fetched before the seek: it is
 * left untaken and the reader seeks to the offset again. Until the check is settled the partition
 * is not caught up; one that gets no batch at all (retention deleted every record left after the
 * seek) is settled by `settleIdle` once quiet, from the log's start.
 * Checkpoints written before the fingerprint existed carry none: the check is skipped (logged).
 */
import { InvariantViolation } from '../core/errors.ts'
import type { Logger } from '../core/logger.ts'
import type { EventLog } from '../ports/event-log.ts'
import type { SourceBatch, SourceRecord, StreamPartition } from '../ports/source.ts'
import { firstRead, lastRecordOf, type LastRecord } from './last-record.ts'
import type { PartitionSlot } from './partition-slot.ts'
import type { ResumePosition } from './resume-position.ts'
import { topicOptionsOf } from './source-topics.ts'

export interface ResumeCheckDeps {
  readonly log: Pick<EventLog, 'startOffsets'>
  /** The caller's retry of a read. */
  readonly reads: <T>(read: () => Promise<T>) => Promise<T>
  /** Where the reader reads the partition next. */
  readonly seek: (at: StreamPartition, position: string) => void
  readonly logger: Logger
}

interface Pending {
  readonly expected: LastRecord
  /** When settleIdle last read the log's start. */
  askedAtMs: number
}

export class ResumeChecks {
  readonly #deps: ResumeCheckDeps
  readonly #pending = new WeakMap<PartitionSlot, Pending>()

  constructor(deps: ResumeCheckDeps) {
    this.#deps = deps
  }

  /**
   * Where the reader of `slot`, just restored and resuming at `resume`, starts: the fingerprinted
   * record's offset, the check pending, or the slot's position when there is nothing to check.
   */
  arm(slot: PartitionSlot, checkpointed: boolean, resume: ResumePosition & { readonly logStart: string }): string {
    const expected = slot.lastRecord
    const where = { topic: slot.topic, partition: slot.partition, resumeAt: slot.nextOffset }
    // A retention gap moved the slot past its checkpoint (and was reported): the record went with it.
    if (resume.deleted > 0n || !checkpointed) return slot.nextOffset
    if (expected === undefined) {
      this.#deps.logger.info(
        where,
        'the checkpoint names no last record before the position the partition resumes at (written by an older kfs, or resumed past it from the archive): the check for a re-created topic is skipped',
      )
      return slot.nextOffset
    }
    if (BigInt(expected.offset) < BigInt(resume.logStart)) {
      this.#gone(slot, expected, 'retention deleted it')
      return slot.nextOffset
    }
    this.#pending.set(slot, { expected, askedAtMs: -Infinity })
    return expected.offset
  }

  /** Whether the slot's check is still to be settled (the partition is not caught up until it is). */
  pending(slot: PartitionSlot): boolean {
    return this.#pending.has(slot)
  }

  /**
   * Settles the check with `batch` when it can (run in the slot's queue, before the batch is
   * processed). False: the batch was fetched before the seek — leave it untaken, the reader reads
   * from the offset again. Throws InvariantViolation when the log is not the checkpoint's.
   */
  async take(slot: PartitionSlot, batch: SourceBatch): Promise<boolean> {
    const pending = this.#pending.get(slot)
    if (pending === undefined) return true
    const { expected } = pending
    const read = firstRead(expected, batch.span?.from ?? batch.records[0]!.offset, batch.records)
    if (read.kind === 'before') return true
    if (read.kind === 'matched') {
      this.#pending.delete(slot)
      this.#deps.logger.debug(
        { topic: slot.topic, partition: slot.partition, offset: expected.offset },
        'the last record before the checkpoint is the one it names',
      )
      return true
    }
    if (read.kind === 'differs') throw recreated(slot, expected, read.found)
    if (BigInt(expected.offset) < (await this.#logStart(slot))) {
      this.#gone(slot, expected, 'retention deleted it')
      return true
    }
    if (read.kind === 'elsewhere') {
      this.#deps.seek({ stream: slot.topic, partition: slot.partition }, expected.offset)
      return false
    }
    if (topicOptionsOf(slot.options.source)?.compactAfterMs === undefined) throw recreated(slot, expected, read.found)
    this.#gone(slot, expected, 'compaction removed it')
    return true
  }

  /**
   * For a slot with its check pending and no record for `quietMs`: reads the log's start (at most
   * once per quietMs) and settles the check when retention deleted the record, so a partition left
   * with nothing to read is not waited for. Whether the check is still pending.
   */
  async settleIdle(slot: PartitionSlot, nowMs: number, quietMs: number): Promise<boolean> {
    const pending = this.#pending.get(slot)
    if (pending === undefined) return false
    if (nowMs - slot.lastRecordAtMs < quietMs || nowMs - pending.askedAtMs < quietMs) return true
    return slot.run(async () => {
      if (!this.#pending.has(slot)) return false
      pending.askedAtMs = nowMs
      if (BigInt(pending.expected.offset) >= (await this.#logStart(slot))) return true
      this.#gone(slot, pending.expected, 'retention deleted it')
      return false
    })
  }

  async #logStart(slot: PartitionSlot): Promise<bigint> {
    const starts = await this.#deps.reads(() => this.#deps.log.startOffsets(slot.topic))
    return BigInt(starts[slot.partition] ?? '0')
  }

  #gone(slot: PartitionSlot, expected: LastRecord, why: string): void {
    this.#pending.delete(slot)
    this.#deps.logger.info(
      { topic: slot.topic, partition: slot.partition, offset: expected.offset, resumeAt: slot.nextOffset },
      `the last record before the checkpoint is gone (${why}): the check for a re-created topic is skipped`,
    )
  }
}

function recreated(slot: PartitionSlot, expected: LastRecord, found: SourceRecord): InvariantViolation {
  const { topic, partition } = slot
  const named = `offset ${expected.offset} (CRC-32 ${expected.crc32}, timestamp ${expected.timestampMs})`
  const seen = lastRecordOf(found)
  const there =
    found.offset === expected.offset
      ? `the log holds another record there (CRC-32 ${seen.crc32}, timestamp ${seen.timestampMs})`
      : `the first record the log holds from there is at offset ${found.offset}`
  return new InvariantViolation(
    `${topic}/${partition}: its checkpoint resumes at offset ${slot.nextOffset} after the record at ${named}, but ${there}: ` +
      `the topic was deleted and re-created (and holds at least as many records as were processed). ` +
      `kfs stops rather than skip the new log's first records. Restore the log, or start the views over on a new store (docs/semantics.md §17).`,
    {
      context: {
        topic,
        partition,
        resumeAt: slot.nextOffset,
        lastRecordOffset: expected.offset,
        lastRecordCrc32: expected.crc32,
        lastRecordTimestampMs: expected.timestampMs,
        foundOffset: found.offset,
        foundCrc32: seen.crc32,
        foundTimestampMs: seen.timestampMs,
      },
    },
  )
}
