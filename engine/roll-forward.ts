/**
 * Step 4 of a checkpoint (partition-slot.ts), and recovery's first step: commits a published
 * record's staged files to every table. Idempotent — each commit is skipped by a table that holds
 * the record's `group/topic/partition → seq` marker — so it is safe to repeat after any crash.
 */
import type { Deadline } from '../core/deadline.ts'
import type { OfflineSink } from '../ports/offline.ts'
import type { CheckpointStore, PartitionCheckpoint } from './checkpoint-store.ts'
import { rowsThroughSummaries } from './committed-rows.ts'

export async function rollForward(
  record: PartitionCheckpoint,
  deps: { readonly offline: OfflineSink; readonly checkpoints: CheckpointStore },
  /** Passed on to each commit's own retries (the stop's: live-engine.ts). */
  until?: Deadline,
): Promise<void> {
  const name = deps.checkpoints.markerName(record.topic, record.partition)
  // A feature table's commit also says where its rows of the partition reach (committed-rows.ts).
  const rowsThrough = rowsThroughSummaries(record, deps.offline, name)
  for (const staged of record.staged) {
    await deps.offline.commit(
      staged.table,
      [staged],
      { [name]: record.seq },
      {
        [`kfs.offset.${name}`]: record.nextOffset,
        ...(record.watermarkMs === null ? {} : { [`kfs.watermark.${name}`]: String(record.watermarkMs) }),
        ...rowsThrough.get(staged.table),
      },
      until === undefined ? undefined : { until },
    )
  }
}
