/**
 * The backfill hand-off, engine side (docs/design.md §8, docs/semantics.md §14). A view's backfill runs
 * under its own checkpoint group next to the live one (`backfillGroupId`); when the live engine
 * restores a partition whose checkpoint does not know the view, it adopts the backfill's state
 * (`backfillToAdopt`) and catches the view up from the raw archive — which holds every record and
 * idle marker up to the partition's restored checkpoint — to the partition's position
 * (`catchUpFromArchive`), exactly as live consumption would have brought it there: no gap, no
 * overlap. Settling backfills before a view goes live is replay/backfill-before-live.ts.
 */
import { InvariantViolation } from '../core/errors.ts'
import type { Logger } from '../core/logger.ts'
import type { FeatureViewDef, SourceDef } from '../features/types.ts'
import { createPartitionTask, restorePartitionTask, type PartitionTask } from '../operators/task/partition-task.ts'
import type { FeatureRow } from '../features/types.ts'
import type { RowKeeper } from './committed-rows.ts'
import type { BoundedSource, SourceRecord } from '../ports/source.ts'
import type { DeadLetter } from '../ports/dead-letters.ts'
import type { Decoder } from '../schemas/decoder.ts'
import type { CheckpointStore } from './checkpoint-store.ts'
import { eventsOf, type PartitionProcessor } from './partition-processor.ts'
import { drainPartition } from './source-driver.ts'

/** The checkpoint group under which a view's backfill runs, next to the live group it hands over to. */
export function backfillGroupId(liveGroupId: string, view: Pick<FeatureViewDef, 'name' | 'version'>): string {
  return `${liveGroupId}.backfill.${view.name}@${view.version}`
}

export interface AdoptedBackfill {
  /**
   * `backfill`: the view's backfill state on the partition; `archive-start`: the partition has no
   * backfill checkpoint of the view, so it starts empty at offset 0 — no backfill ran here.
   */
  readonly from: 'backfill' | 'archive-start'
  readonly task: PartitionTask
  /** Where the backfill stopped on the partition: the catch-up starts here. */
  readonly nextOffset: string
  readonly rowsAtNextOffset: number
}

/**
 * The view's backfill state on this partition, if its backfill got there; undefined otherwise (the
 * view then starts with the partition, from its first offset). A backfill past the live position
 * cannot be handed over: the live view would skip the records in between. With no backfill
 * checkpoint of the partition, the view's state is empty at the partition's start, and the archive
 * catches it up: when the backfill has checkpoints of the topic's other partitions (this one held no
 * archived record in the snapshot it replayed), and whenever the partition has a live checkpoint
 * (`checkpointed`) — the group consumed the partition without the view, so it has history.
 */
export async function backfillToAdopt(
  checkpoints: CheckpointStore | undefined,
  view: FeatureViewDef,
  source: SourceDef,
  at: { readonly topic: string; readonly partition: number; readonly nextOffset: string; readonly checkpointed: boolean },
): Promise<AdoptedBackfill | undefined> {
  const { topic, partition, nextOffset, checkpointed } = at
  const backfill = await checkpoints?.latest(topic, partition)
  // The backfill's snapshot held nothing of this partition, but live may have archived records of it
  // since (a `kfs replay` beside a running `kfs run`, a --snapshot-id, a first checkpoint whose archive
  // commit was still pending): started at the live position, the view skipped them. It starts empty at
  // offset 0 and is caught up from the archive like the partitions the backfill did replay.
  // No backfill of this group at all while its live checkpoint lacks the view: the registry keeps
  // one status per view version, so another group's backfill (or a shared registry's) marked it
  // complete. Started at the live position the view lacked its history (counts too low, exit 0);
  // caught up from this group's own archive — every record it read, in offset order, through the
  // same operators — it reaches the state a backfill of this group would have handed over.
  if (checkpoints !== undefined && backfill === undefined && (checkpointed || (await checkpoints.hasTopic(topic)))) {
    return { from: 'archive-start', task: createPartitionTask({ views: [view], source }), nextOffset: '0', rowsAtNextOffset: 0 }
  }
  const saved = backfill?.views[0]
  if (checkpoints === undefined || backfill === undefined || saved === undefined) return undefined
  if (BigInt(backfill.nextOffset) > BigInt(nextOffset)) {
    throw new InvariantViolation(`backfill of ${view.name}@${view.version} on ${topic}/${partition} reached ${backfill.nextOffset}, past the live position ${nextOffset}`)
  }
  const state = await checkpoints.readViewState(saved)
  const task = restorePartitionTask([view], source, state.base, state.deltas)
  return { from: 'backfill', task, nextOffset: backfill.nextOffset, rowsAtNextOffset: saved.rowsAtNextOffset ?? 0 }
}

/**
 * Where the log starts now, asked only when the archive ends before the live position; and where a
 * tail the log no longer holds is said (the live engine's logger).
 */
export interface CatchUpLog {
  readonly logStart: () => Promise<string>
  readonly logger: Logger
}

/**
 * The rows `processor` (adopted from its backfill) emits on its way from its position to
 * `untilOffset`, read from `archive` (the partition's topic), in emission order, and the records it
 * refuses: live consumption read them without this view, so its refusals are new (the record's own,
 * such as undecodable, were dead-lettered when live first read it).
 *
 * The archive holds every record live read, so it ends before `untilOffset` only when live skipped
 * the rest: retention deleted them before live read them (docs/semantics.md §17 — counted then, or
 * a new group's history it never read) and live moved to the log's start. That is so when the log
 * starts at or past `untilOffset` now (log starts only move on): the view passes the same stretch
 * live passed, said in a warning naming it, and `skipped` holds it. A log start short of
 * `untilOffset` means records the log still holds, and live read, are not in the archive: they
 * cannot be recovered from it, and the catch-up stops with an InvariantViolation.
 */
export async function catchUpFromArchive(
  processor: PartitionProcessor,
  archive: BoundedSource,
  decoder: Decoder,
  untilOffset: string,
  createdAtMs: number,
  keep: () => RowKeeper | undefined = () => undefined,
  log?: CatchUpLog,
): Promise<{ rows: FeatureRow[]; deadLetters: DeadLetter[]; skipped?: { from: string; to: string } }> {
  const { topic, partition } = processor
  const rows: FeatureRow[] = []
  const deadLetters: DeadLetter[] = []
  const input = {
    get nextOffset() {
      return processor.nextOffset
    },
    async processRecords(records: readonly SourceRecord[], at: number) {
      // A bundle that does not read was dead-lettered when first processed, like an undecodable record.
      const { events } = eventsOf(processor, processor.source, records)
      const decoded = await decoder.decodeBatch(events.map((r) => r.value))
      // The slot's buffer as it is now: a checkpoint may have cut it while the batch decoded.
      const out = processor.processRecords(events, decoded, at, keep())
      for (const row of out.rows) rows.push(row)
      for (const letter of out.deadLetters) deadLetters.push(letter)
      return { records: records.length }
    },
    processMarker(watermarkMs: number, at: number) {
      for (const row of processor.processMarker(watermarkMs, at, keep())) rows.push(row)
      return { records: 0 }
    },
  }
  await drainPartition(input, archive.read(partition, { from: processor.nextOffset, until: untilOffset }), { createdAtMs: () => createdAtMs })
  const stoppedAt = processor.nextOffset
  if (BigInt(stoppedAt) >= BigInt(untilOffset)) return { rows, deadLetters }
  const view = processor.view
  const logStart = log === undefined ? undefined : await log.logStart()
  if (logStart === undefined || BigInt(logStart) < BigInt(untilOffset)) {
    const start = logStart === undefined ? '' : `; the log starts at ${logStart}, so it still holds records live read that the archive lacks`
    throw new InvariantViolation(`catch-up of ${view.name}@${view.version} on ${topic}/${partition} stopped at ${stoppedAt}, before ${untilOffset}${start}`, {
      context: { topic, partition, stoppedAt, untilOffset, ...(logStart === undefined ? {} : { logStart }) },
    })
  }
  processor.skipTo(untilOffset)
  log!.logger.warn(
    { topic, partition, view: `${view.name}@${view.version}`, from: stoppedAt, resumeAt: untilOffset, logStart },
    'backfill hand-off: the archive ends before the live position and the log no longer holds the offsets between (deleted by retention before live read them): the view passes them as live did',
  )
  return { rows, deadLetters, skipped: { from: stoppedAt, to: untilOffset } }
}
