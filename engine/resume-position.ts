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
  const first = BigInt(start)
  const last = BigInt(end)
  if (at > last) {
    throw new InvariantViolation(
      `${where.topic}/${where.partition}: ${where.by} resumes at offset ${at}, but the log ends at offset ${last}: ` +
        `it no longer holds ${at - last} record(s) already processed (the topic was deleted and re-created, or its log lost its tail). ` +
        `kfs stops rather than skip the next records the log is given. Restore the log, or start the views over under a new --group (docs/semantics.md §17).`,
      { context: { topic: where.topic, partition: where.partition, resumeAt: at.toString(), logEnd: last.toString() } },
    )
  }
  if (at < first) return { position: first.toString(), deleted: first - at }
  return { position: next, deleted: 0n }
}

/**
 * resumePosition against the log's offsets now (read through `reads`, the caller's retry); a
 * retention gap is counted in `deletedBeforeRead` (by topic) and logged.
 */
export async function resumeInLog(
  log: Pick<EventLog, 'startOffsets' | 'endOffsets'>,
  where: { topic: string; partition: number; by: string },
  next: string,
  reads: <T>(read: () => Promise<T>) => Promise<T>,
  report: { deletedBeforeRead: Record<string, number>; logger: Logger },
): Promise<ResumePosition> {
  const { topic, partition } = where
  const [starts, ends] = await reads(() => Promise.all([log.startOffsets(topic), log.endOffsets(topic)]))
  const resume = resumePosition(where, next, starts[partition] ?? '0', ends[partition] ?? '0')
  if (resume.deleted > 0n) {
    report.deletedBeforeRead[topic] = (report.deletedBeforeRead[topic] ?? 0) + Number(resume.deleted)
    report.logger.warn(
      { topic, partition, from: next, logStart: resume.position },
      'source records were deleted by retention before this group read them',
    )
  }
  return resume
}
