/**
 * Where a restored partition resumes, checked against what the log holds now (docs/semantics.md
 * §17). A checkpoint (or a re-key stage's committed offset) says "the next record to read is at
 * p"; the log holds [start, end).
 *
 * - p > end: the log no longer holds records this group already processed — the topic was
 *   deleted and re-created, or the log lost its tail. Seeking there would wait and then skip the
 *   next p − end records the log is given (the embedded log), or restart at an offset the client
 *   picks (Kafka's out-of-range reset): rows lost or doubled without a word. So it is fatal.
 * - p < start: retention deleted records before this group read them. Nothing can bring them
 *   back; the partition resumes at the log's first record and the loss is reported, as Kafka
 *   consumers and the re-key stage do.
 *
 * The same deletion can happen while the engine runs behind: the Kafka client's fetch is then out
 * of range and it restarts the partition at an offset of its choosing (deletedMidRun).
 */
import { InvariantViolation } from '../core/errors.ts'
import type { Logger } from '../core/logger.ts'
import type { EventLog } from '../ports/event-log.ts'

export interface ResumePosition {
  /** Where to read next: the restored position, or the log's first record after a retention gap. */
  readonly position: string
  /** Records retention deleted before they were read (0 when none). */
  readonly deleted: bigint
}

export function resumePosition(
  where: { topic: string; partition: number; by: string },
  next: string,
  start: string,
  end: string,
): ResumePosition {
  const at = BigInt(next)
  const last = BigInt(end)
  if (at > last) {
    throw new InvariantViolation(
      `${where.topic}/${where.partition}: ${where.by} resumes at offset ${at}, but the log ends at offset ${last}: ` +
        `it no longer holds ${at - last} record(s) already processed (the topic was deleted and re-created, or its log lost its tail). ` +
        `kfs stops rather than skip the next records the log is given. Restore the log, or start the views over on a new store (docs/semantics.md §17).`,
      { context: { topic: where.topic, partition: where.partition, resumeAt: at.toString(), logEnd: last.toString() } },
    )
  }
  return retentionGap(next, start)
}

/** From `next`, when the log's first record left is at `start`: the records between were deleted unread. */
function retentionGap(next: string, start: string): ResumePosition {
  const at = BigInt(next)
  const first = BigInt(start)
  return at < first ? { position: start, deleted: first - at } : { position: next, deleted: 0n }
}

/**
 * resumePosition against the log's offsets now (read through `reads`, the caller's retry), with
 * the log's start it read; a retention gap is counted in `deletedBeforeRead` (by topic) and logged.
 */
export async function resumeInLog(
  log: Pick<EventLog, 'startOffsets' | 'endOffsets'>,
  where: { topic: string; partition: number; by: string },
  next: string,
  reads: <T>(read: () => Promise<T>) => Promise<T>,
  report: DeletionReport,
): Promise<ResumePosition & { readonly logStart: string }> {
  const { topic, partition } = where
  const [starts, ends] = await reads(() => Promise.all([log.startOffsets(topic), log.endOffsets(topic)]))
  const logStart = starts[partition] ?? '0'
  const resume = resumePosition(where, next, logStart, ends[partition] ?? '0')
  if (resume.deleted > 0n)
    reportDeleted(report, { topic, partition, from: next, resumeAt: resume.position, deleted: resume.deleted })
  return { ...resume, logStart }
}

/** Where deletions before read are counted (engine stats) and said (the engine's logger). */
export interface DeletionReport {
  readonly deletedBeforeRead: Record<string, number>
  readonly logger: Logger
}

/**
 * Mid-run (docs/semantics.md §17): a batch of a partition starts at `first` (its span's start),
 * past `expected`, where the engine reads next. Offsets skip for reasons that lose nothing —
 * transaction markers, aborted records, compaction — so the gap alone is no deletion: only a log
 * start past `expected` is. Then the records from `expected` to min(log start, first) were deleted
 * unread, as at a restore with the checkpoint at `expected` (resumePosition), and the partition
 * resumes at min(log start, first): at `first` when the batch starts there or the log start moved
 * on after the fetch (the batch's records were read in time); at the log start when the batch
 * starts past it — a client that reset to the log's end, or markers where the log now starts —
 * which the caller reads again from there. Undefined: no deletion, the gap is the consumer's.
 */
export function deletedMidRun(expected: string, first: string, logStart: string): ResumePosition | undefined {
  const start = BigInt(logStart)
  if (start <= BigInt(expected)) return undefined
  return retentionGap(expected, BigInt(first) < start ? first : logStart)
}

/**
 * deletedMidRun against the log's start offset now (one admin read, through `reads`): asked
 * only when a batch starts past where the engine reads next, never per batch. A deletion is
 * counted and logged as at a restore.
 */
export async function deletedMidRunInLog(
  log: Pick<EventLog, 'startOffsets'>,
  where: { topic: string; partition: number },
  expected: string,
  first: string,
  reads: <T>(read: () => Promise<T>) => Promise<T>,
  report: DeletionReport,
): Promise<ResumePosition | undefined> {
  const { topic, partition } = where
  const starts = await reads(() => log.startOffsets(topic))
  const resume = deletedMidRun(expected, first, starts[partition] ?? '0')
  if (resume !== undefined && resume.deleted > 0n)
    reportDeleted(report, { topic, partition, from: expected, resumeAt: resume.position, deleted: resume.deleted })
  return resume
}

/** Counts `deleted` under the topic and says where it was (the warning every reader of a log gives). */
export function reportDeleted(
  report: DeletionReport,
  gap: { topic: string; partition: number; from: string; resumeAt: string; deleted: bigint },
): void {
  const { topic, partition, from, resumeAt, deleted } = gap
  report.deletedBeforeRead[topic] = (report.deletedBeforeRead[topic] ?? 0) + Number(deleted)
  report.logger.warn(
    { topic, partition, from, resumeAt, deleted: deleted.toString() },
    'source records were deleted by retention before this group read them',
  )
}
