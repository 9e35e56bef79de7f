/**
 * Source records a re-key stage had not re-keyed yet, deleted by retention (docs/semantics.md §16,
 * §17); at a restore, resumePosition (rekey-stage.ts's onAssigned) moves past them.
 *
 * Mid-run, with a batch (rekeyBatchGapHandler): a batch past the lane's position, while the stage
 * ran behind (the client's fetch went out of range and restarted the partition), is checked
 * against the log's start as the engine does (batch-gap.ts): the deleted stretch is counted and the
 * lane resumes from the first record left. Any other gap is the source's own (markers: span.from).
 *
 * Mid-run, without one (rekeyIdleGapHandler): a partition whose unread records retention deleted
 * while no batch came. The Kafka client's fetch is out of range and restarts the partition
 * at the log's first record left or at its end; when nothing is left (or the client went to the
 * end), no batch ever comes to show the gap (rekey-stage.ts's `pastDeletion` finds it only in a
 * batch). Its merge lane then stays short of the partition's end: if the stage learnt that end, the
 * lane holds the whole merge back — every other partition's records wait, and the re-keyed views
 * stall — and in any case the stage never counts as caught up.
 *
 * So, for lanes with nothing queued and no batch for `quietMs`: one read of the log's start and end
 * offsets (at most once per `quietMs` for the stage, never per batch), and a start past a lane's
 * position is the deletion — counted and logged as at a restore (resume-position.ts), the lane moved
 * to the first record left (the consumer sought there: a client that went to the end reads what is
 * left), and the new position committed with the stage's next transaction, so a restart does not
 * count the gap again. The merge then goes on exactly as a restart from the committed offsets would
 * (resumePosition moves that lane to the same first record left): the internal topic's sequence
 * stays the merge of the records the log still holds, and nothing forwarded changes.
 */
import type { EventLog } from '../ports/event-log.ts'
import type { RecordMerge } from './rekey-alignment.ts'
import { deletedMidRun, deletedMidRunInLog, reportDeleted, resumePosition, type DeletionReport } from './resume-position.ts'

/**
 * Where a source partition the stage takes resumes: a committed offset the log no longer holds
 * (retention deleted those records before they were re-keyed) or none at all means its first
 * record — the former counted and logged, the latter a history never read. A committed offset past
 * the log's end is fatal (docs/semantics.md §17).
 */
export function resumedLane(
  report: DeletionReport,
  where: { topic: string; partition: number },
  committed: string | undefined,
  start: string,
  end: string,
): string {
  const { topic, partition } = where
  const { position, deleted } = resumePosition(
    { topic, partition, by: "the re-key stage's committed offset" },
    committed ?? '0',
    start,
    end,
  )
  if (committed !== undefined && deleted > 0n)
    reportDeleted(report, { topic, partition, from: committed, resumeAt: position, deleted })
  return position
}

export interface RekeyGapDeps {
  readonly log: Pick<EventLog, 'startOffsets' | 'endOffsets'>
  readonly topic: string
  readonly merge: () => RecordMerge<unknown> | undefined
  /** The stage's retry for reads of the log. */
  readonly reads: <T>(read: () => Promise<T>) => Promise<T>
  readonly report: DeletionReport
  /** Where the consumer reads the partition next. */
  readonly seek: (partition: number, position: string) => void
}

/**
 * A batch of `partition` whose read started at `first`, past `expected` (the lane's position).
 * Resolves true when the batch is to be taken; false: it was dropped (a deletion past its start:
 * the lane moved, the consumer sought to the first record left).
 */
export function rekeyBatchGapHandler(
  deps: Pick<RekeyGapDeps, 'log' | 'topic' | 'merge' | 'reads' | 'report' | 'seek'>,
): (partition: number, expected: string, first: string, highWatermark: string) => Promise<boolean> {
  const { log, topic, reads, report } = deps
  return async (partition, expected, first, highWatermark) => {
    const deleted = await deletedMidRunInLog(log, { topic, partition }, expected, first, reads, report)
    if (deleted === undefined || deleted.position === first) return true
    deps.merge()?.moved(partition, BigInt(deleted.position), BigInt(highWatermark))
    deps.seek(partition, deleted.position)
    return false
  }
}

export interface RekeyIdleGapDeps extends RekeyGapDeps {
  /** The source partitions the stage owns: since when, and when their last batch came. */
  readonly owned: () => ReadonlyMap<number, { readonly assignedAtMs: number; readonly lastBatchAtMs: number | undefined }>
  /** True while a batch is re-keyed or a transaction commits: a gap is then the batch's to find. */
  readonly busy: () => boolean
  /** The lane moved past deleted records without a record forwarded: commit the position. */
  readonly skipped: (partition: number, position: bigint) => void
}

/**
 * Returns the check. `ends`: the source's end offsets as the caller knows them (the caught-up
 * check): every quiet lane short of them is looked at; without, only lanes holding the merge back.
 * Resolves whether a lane moved.
 */
export function rekeyIdleGapHandler(
  deps: RekeyIdleGapDeps,
): (nowMs: number, quietMs: number, ends?: readonly string[]) => Promise<boolean> {
  const { log, topic, reads, report } = deps
  let askedAtMs = -Infinity
  return async (nowMs, quietMs, ends) => {
    const merge = deps.merge()
    if (merge === undefined || deps.busy() || nowMs - askedAtMs < quietMs) return false
    const quiet: number[] = []
    for (const [p, entry] of deps.owned()) {
      const position = merge.position(p)
      if (position === undefined || merge.queued(p) > 0 || nowMs - (entry.lastBatchAtMs ?? entry.assignedAtMs) < quietMs) continue
      if (ends === undefined ? !merge.atEnd(p) : position < BigInt(ends[p] ?? '0')) quiet.push(p)
    }
    if (quiet.length === 0) return false
    askedAtMs = nowMs
    const asked = new Map(quiet.map((p) => [p, merge.position(p)]))
    const [starts, logEnds] = await reads(() => Promise.all([log.startOffsets(topic), log.endOffsets(topic)]))
    let moved = false
    for (const p of quiet) {
      // A batch, a rebalance or a transaction since the read: the gap, if any, is theirs to find.
      const position = merge.position(p)
      if (deps.busy() || position === undefined || position !== asked.get(p) || merge.queued(p) > 0) continue
      const end = logEnds[p] ?? '0'
      const deleted = deletedMidRun(position.toString(), end, starts[p] ?? '0')
      if (deleted === undefined) continue
      reportDeleted(report, {
        topic,
        partition: p,
        from: position.toString(),
        resumeAt: deleted.position,
        deleted: deleted.deleted,
      })
      merge.moved(p, BigInt(deleted.position), BigInt(end))
      deps.seek(p, deleted.position)
      deps.skipped(p, BigInt(deleted.position))
      moved = true
    }
    return moved
  }
}
