/**
 * Where a partition slot resumes (partition-slot.ts `restore`): its latest checkpoint, rolled
 * forward, held against what its tables hold (docs/semantics.md §14, "A checkpoint older than the
 * tables").
 *
 * A table commit follows the publish of the record it names (§11), and prune keeps the newest
 * record, so a table committed by the slot's own writer with a seq past the latest record means one
 * of two things. A record was published since `latest` was read (another owner after a rebalance, a
 * second backfill of the view): the checkpoints are read again and the slot restores from it. Or
 * the newer records are gone — the checkpoint store restored from a backup, the newest record
 * deleted by hand or lost by the object store. The slot then restores from the latest record there
 * is, and:
 *  - numbers its next checkpoint past the tables' newest commit. A commit whose markers a table holds
 *    at an equal or higher seq writes nothing (ports/offline.ts): numbered on from the old record,
 *    its checkpoints were dropped by every table — their rows lost — until one passed the old
 *    number, which then appended everything since the checkpoint before it again;
 *  - when it archives (live), resumes where the archive holds the partition through, its views
 *    caught up from the archive — records and idle markers, as live applied them — from the
 *    checkpoint's position: no record is archived twice, and the operators reach the state an
 *    uninterrupted run had there (idle markers live reads off the clock would differ);
 *  - every view keeps offline only the rows its table does not hold, and writes only the dead
 *    letters of records past them (committed-rows.ts).
 * Cost: one read of each table's last snapshot per restore, whether stale or not.
 */
import type { Logger } from '../core/logger.ts'
import type { FeatureViewDef } from '../features/types.ts'
import { createPartitionTask, restorePartitionTask } from '../operators/task/partition-task.ts'
import { backfillToAdopt } from './backfill-hand-off.ts'
import type { PartitionCheckpoint } from './checkpoint-store.ts'
import { restoreNamed, viewId } from './checkpoint-record.ts'
import { heldByTables, type HeldByTables } from './committed-rows.ts'
import { latestOrRefuse } from './fresh-start-guard.ts'
import { PartitionProcessor } from './partition-processor.ts'
import { rollForward } from './roll-forward.ts'
import type { StateChain } from './state-chain.ts'
import { isLastRecord, type LastRecord } from './last-record.ts'
import type { SlotDeps, SlotOptions } from './slot-contract.ts'

export interface RestorePoint {
  /** The latest checkpoint, rolled forward; undefined for a partition with none (it starts at `startOffset`). */
  readonly latest: PartitionCheckpoint | undefined
  /**
   * What the tables hold of the partition; undefined when they were not read: a partition with no
   * checkpoint (the fresh-start guard found them holding nothing of it), a scratch slot.
   */
  readonly held: HeldByTables | undefined
  /** The seq the slot's next checkpoint follows. */
  readonly seq: number
  /** Where the slot resumes: its checkpoint's position, or where the archive holds the partition through when that is further. */
  readonly nextOffset: string
  /** Where a partition with no checkpoint starts (the slot's `startOffset`). */
  readonly startOffset: string
  /** The checkpoint's last record before `nextOffset` (resume-check.ts), when it names one there. */
  readonly lastRecord?: LastRecord
}

/** `latest`'s last record, when well-formed and just before `nextOffset` (not when the slot resumes elsewhere). */
function lastRecordAt(latest: PartitionCheckpoint, nextOffset: string): { lastRecord?: LastRecord } {
  const named = latest.lastRecord
  if (nextOffset !== latest.nextOffset || !isLastRecord(named) || BigInt(named.offset) >= BigInt(nextOffset)) return {}
  return { lastRecord: named }
}

export async function restorePoint(options: SlotOptions, deps: SlotDeps, startOffset: string): Promise<RestorePoint> {
  const { topic, partition } = options
  let latest = await latestOrRefuse(options, deps)
  for (;;) {
    if (latest === undefined) return { latest, held: undefined, seq: 0, nextOffset: startOffset, startOffset }
    await rollForward(latest, deps)
    if (options.scratch === true)
      return {
        latest,
        held: undefined,
        seq: latest.seq,
        nextOffset: latest.nextOffset,
        startOffset,
        ...lastRecordAt(latest, latest.nextOffset),
      }
    const held = await heldByTables(deps.offline, options, deps.checkpoints.markerName(topic, partition))
    if (held.committedSeq > latest.seq) {
      const again = await deps.checkpoints.latest(topic, partition)
      if (again !== undefined && again.seq > latest.seq) {
        latest = again
        continue
      }
    }
    const archived = held.archivedThrough
    const nextOffset = archived !== undefined && archived > BigInt(latest.nextOffset) ? archived.toString() : latest.nextOffset
    const seq = Math.max(latest.seq, held.committedSeq)
    if (seq > latest.seq || nextOffset !== latest.nextOffset) {
      deps.logger.warn(
        {
          topic,
          partition,
          checkpointSeq: latest.seq,
          checkpointOffset: latest.nextOffset,
          tablesSeq: held.committedSeq,
          resumeAt: nextOffset,
        },
        'the latest checkpoint is older than the tables it committed to (its newer records are gone): the views catch up to the tables, and keep offline only the rows they do not hold',
      )
    }
    return { latest, held, seq, nextOffset, startOffset, ...lastRecordAt(latest, nextOffset) }
  }
}

/**
 * A view to catch up from the archive before the slot reads on, and why: `adopted` — the checkpoint
 * does not know it, so it comes from its backfill (backfill-hand-off.ts); `unbackfilled` — the
 * checkpoint does not know it and no backfill checkpointed it on this partition, so it starts empty
 * at the archive's start; `stale` — restored from a checkpoint older than the archive, which holds
 * the partition further.
 */
export interface CatchUpDue {
  readonly view: number
  readonly cause: 'adopted' | 'unbackfilled' | 'stale'
}

/**
 * Every view's processor at `point`: restored from the checkpoint, adopted from its backfill, or new.
 * `behind`: the views to catch up from the archive to the slot's position before it reads on.
 */
export async function restoreViews(
  options: SlotOptions,
  deps: SlotDeps,
  point: RestorePoint,
): Promise<{ processors: PartitionProcessor[]; chains: (StateChain | undefined)[]; behind: CatchUpDue[] }> {
  const { topic, partition, source, views } = options
  const { latest, nextOffset } = point
  const checkpointed = latest?.nextOffset ?? point.startOffset
  // A newer checkpoint of this slot committed to the tables: the archive may hold idle markers it
  // applied at the restored checkpoint's own offset, after its cut, which the views must apply there
  // too (the archive is read up to `nextOffset`, markers there included) — or rows those markers
  // emitted come again elsewhere, at other positions the tables do not hold.
  const stale = options.archive && latest !== undefined && point.held !== undefined && point.held.committedSeq > latest.seq
  const processors: PartitionProcessor[] = []
  const chains: (StateChain | undefined)[] = views.map(() => undefined) // adopted and new views: a base first
  const behind: CatchUpDue[] = []
  for (const view of views) {
    const saved = latest?.views.find((v) => v.view === viewId(view))
    if (saved) {
      const state = await deps.checkpoints.readViewState(saved)
      const task = restoreNamed(saved, () => restorePartitionTask([view], source, state.base, state.deltas))
      chains[processors.length] = state.chain
      processors.push(
        new PartitionProcessor({
          topic,
          partition,
          source,
          task,
          nextOffset: checkpointed,
          rowsAtNextOffset: saved.rowsAtNextOffset ?? 0,
        }),
      )
      if (checkpointed !== nextOffset || stale) behind.push({ view: processors.length - 1, cause: 'stale' })
      continue
    }
    const backfill = await backfillToAdopt(options.backfillCheckpoints?.(view), view, source, {
      topic,
      partition,
      nextOffset,
      checkpointed: latest !== undefined,
    })
    if (backfill) {
      const { from, ...adopted } = backfill
      processors.push(new PartitionProcessor({ topic, partition, source, ...adopted }))
      behind.push({ view: processors.length - 1, cause: from === 'backfill' ? 'adopted' : 'unbackfilled' })
      continue
    }
    processors.push(
      new PartitionProcessor({ topic, partition, source, task: createPartitionTask({ views: [view], source }), nextOffset }),
    )
  }
  if (latest) deps.logger.debug({ topic, partition, checkpointSeq: latest.seq, offset: nextOffset }, 'partition restored')
  return { processors, chains, behind }
}

/**
 * Says what a slot's catch-up from the archive did, one line per cause: views adopted from their
 * backfill handed over to live; views no backfill checkpointed on the partition, caught up from the
 * archive's start; and views restored from a stale checkpoint brought from its position (`from`) to
 * where the archive holds the partition through (`to`) — no backfill ran for the last two. `rows`:
 * what the catch-up emitted for them.
 */
export function logCaughtUp(
  logger: Logger,
  at: { readonly topic: string; readonly partition: number; readonly views: readonly FeatureViewDef[] },
  due: readonly (CatchUpDue & { readonly from: string })[],
  to: string,
  rows: readonly (readonly unknown[])[],
): void {
  const { topic, partition } = at
  const fields = (of: readonly CatchUpDue[]) => ({
    topic,
    partition,
    views: of.map((d) => `${at.views[d.view]!.name}@${at.views[d.view]!.version}`),
    rows: of.reduce((n, d) => n + (rows[d.view]?.length ?? 0), 0),
  })
  const adopted = due.filter((d) => d.cause === 'adopted')
  if (adopted.length > 0) logger.info(fields(adopted), 'backfilled views handed over to live')
  const unbackfilled = due.filter((d) => d.cause === 'unbackfilled')
  if (unbackfilled.length > 0)
    logger.info(
      { ...fields(unbackfilled), to },
      'views new to the partition with no backfill checkpoint of it caught up from the start of the archive: no backfill ran here',
    )
  const stale = due.filter((d) => d.cause === 'stale')
  if (stale.length > 0)
    logger.info(
      { ...fields(stale), from: stale[0]!.from, to },
      'views caught up from the archive past a checkpoint older than the tables (its newer records are gone): no backfill ran',
    )
}
