/**
 * Backfill (docs/design.md §8): a view registered after events were archived is computed from the raw
 * archive by the live code path (same slot, decoder and operators), into its offline table and
 * optionally the online store (conditional writes: a backfill never clobbers fresher values).
 *
 * It runs under its own checkpoint group, next to the live group it will hand over to, so it is
 * resumable after a kill and idempotent on re-run (each table commit carries its checkpoint
 * marker). It stops at the archive's end offsets per partition; when the live engine next
 * restores those partitions it adopts the view's state and catches it up from the archive to the
 * live position — no gap, no overlap.
 */
import type { Clock } from '../core/clock.ts'
import type { Logger } from '../core/logger.ts'
import { retry } from '../core/retry.ts'
import type { FeatureViewDef } from '../features/types.ts'
import { backfillGroupId } from '../engine/backfill-hand-off.ts'
import { CheckpointStore } from '../engine/checkpoint-store.ts'
import { everyRefusedPartition, FreshStartRefusal } from '../engine/fresh-start-guard.ts'
import { PartitionSlot } from '../engine/partition-slot.ts'
import { drainPartition } from '../engine/source-driver.ts'
import { archiveSource } from '../engine/sources/archive-source.ts'
import type { DeadLetterSink } from '../ports/dead-letters.ts'
import type { ObjectStore } from '../ports/object-store.ts'
import type { OfflineSink } from '../ports/offline.ts'
import type { OnlineStore } from '../ports/online-store.ts'
import type { Decoder } from '../schemas/decoder.ts'

export interface BackfillOptions {
  readonly offline: OfflineSink
  readonly stateStore: ObjectStore
  readonly decoder: Decoder
  readonly view: FeatureViewDef
  /** The live engine's group: the backfill's checkpoints live beside it for the hand-off. */
  readonly liveGroupId: string
  readonly online?: OnlineStore
  /**
   * Where the view's own refusals go: the records it refuses (late for it, a key or value it cannot
   * take) are refused for the first time here, since the view did not exist when live read them.
   * Refusals of the record itself (undecodable, unknown schema: no view named) were dead-lettered
   * when live consumption first read it, and are not written again.
   */
  readonly deadLetters: DeadLetterSink
  readonly clock: Clock
  readonly logger: Logger
  /** Pin the archive snapshot to replay; default the current one. */
  readonly archiveSnapshotId?: string
  readonly checkpointEveryRecords?: number
  readonly onProgress?: (progress: BackfillProgress) => void
}

/** Reported after every replayed batch and when a partition is done (and checkpointed). */
export interface BackfillProgress {
  readonly partition: number
  readonly records: number
  readonly rows: number
  /** Archived offsets to replay (idle markers and transaction gaps included, so an upper bound). */
  readonly totalRecords: number
  readonly partitionDone: boolean
}

export interface BackfillResult {
  readonly archiveSnapshotId: string | null
  /** Per partition, the offset the view is complete through (exclusive). */
  readonly completeThrough: Readonly<Record<number, string>>
  readonly records: number
  readonly rows: number
  /** The view's refusals written to `deadLetters`. */
  readonly deadLetters: number
}

export async function backfillView(options: BackfillOptions): Promise<BackfillResult> {
  const { offline, view, clock, logger } = options
  const topic = view.source.topic
  const latest = archiveSource(offline, topic)
  const end = await (options.archiveSnapshotId === undefined ? latest : latest.at(options.archiveSnapshotId)).ends()
  // Every partition is read at the snapshot the ends were taken at, whatever is archived meanwhile.
  const archive = end.snapshotId === null ? latest : latest.at(end.snapshotId)
  const checkpoints = new CheckpointStore(options.stateStore, backfillGroupId(options.liveGroupId, view))
  const deps = { offline, checkpoints, clock, logger }
  const every = options.checkpointEveryRecords ?? 100_000
  const online = options.online && view.online ? options.online : undefined
  const sinkRetry = { clock, attempts: 30, maxDelayMs: 2_000 }
  // A checkpoint counts every row before its cut as landed, and a re-run resumes after it: online
  // rows a store keeps only in memory until told (the embedded store, until it syncs) are made
  // durable first, as the live engine does before each publish. Without it a backfill killed after
  // a checkpoint lost the online rows before it for good (the re-run never writes them again).
  const checkpoint = async (slot: PartitionSlot): Promise<void> => {
    if (online?.sync) await retry(() => online.sync!(), sinkRetry)
    if (!(await slot.checkpoint())) throw new Fenced()
  }
  const totalRecords = Object.values(end.ends).reduce((n, o) => n + Number(o), 0)
  const partitionCount = Math.max(-1, ...Object.keys(end.ends).map(Number)) + 1
  let records = 0
  let rows = 0
  let deadLetters = 0
  for (const partition of Object.keys(end.ends).map(Number).sort((a, b) => a - b)) {
    const until = end.ends[partition]!
    // Another backfill of this view (a second `kfs replay`, or `kfs run` settling it meanwhile) may
    // publish a checkpoint first. This one's slot is then stale: its rows since its last checkpoint
    // are in no published record. It starts again from the newest checkpoint, whoever published it —
    // the same operators over the same records, so the same state — until one covers the partition.
    // Going on with the stale slot would report the view complete with rows never committed.
    for (;;) {
      const slot = await PartitionSlot.restore({ topic, partition, source: view.source, views: [view], decoder: options.decoder, archive: false }, deps).catch(
        async (err: unknown) => {
          // A refused partition: the others the snapshot holds refused alike are named with it.
          throw err instanceof FreshStartRefusal ? await everyRefusedPartition(err, deps, [{ topic, views: [view], archive: false }], async () => partitionCount) : err
        },
      )
      if (BigInt(slot.nextOffset) >= BigInt(until)) break
      let partitionRecords = 0
      let fenced = false
      try {
        await drainPartition(slot, archive.read(partition, { from: slot.nextOffset, until }), {
          createdAtMs: () => clock.nowMs(),
          afterRecords: async () => {
            if (slot.buffered >= every) await checkpoint(slot)
          },
          onOutput: async (out) => {
            const viewRows = out.rows[0] ?? []
            rows += viewRows.length
            partitionRecords += out.records
            options.onProgress?.({ partition, records: records + partitionRecords, rows, totalRecords, partitionDone: false })
            if (online && viewRows.length > 0) await retry(() => online.writeRows(view, viewRows), sinkRetry)
            // Written before the checkpoint that covers them (afterRecords), so a kill loses none.
            const letters = out.deadLetters.filter((l) => l.view === view.name)
            if (letters.length > 0) {
              await retry(() => options.deadLetters.write(letters), sinkRetry)
              deadLetters += letters.length
            }
          },
        })
        await options.deadLetters.flush()
        await checkpoint(slot)
      } catch (err: unknown) {
        if (!(err instanceof Fenced)) throw err
        fenced = true
      }
      records += partitionRecords
      if (!fenced) break
      logger.warn({ view: `${view.name}@${view.version}`, partition }, 'backfill checkpoint fenced: another backfill of this view published first; going on from its checkpoint')
    }
    options.onProgress?.({ partition, records, rows, totalRecords, partitionDone: true })
  }
  logger.info({ view: `${view.name}@${view.version}`, records, rows, deadLetters }, 'backfill complete')
  return { archiveSnapshotId: end.snapshotId, completeThrough: end.ends, records, rows, deadLetters }
}

/** A checkpoint of this backfill refused because another owner published that checkpoint first. */
class Fenced extends Error {}
