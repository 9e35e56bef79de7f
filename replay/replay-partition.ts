/**
 * Drives a PartitionSlot from archived rows instead of the event log: records in batches, idle
 * markers in their archived place. The slot, decoder and operators are the live ones — nothing
 * below this entry point knows it is a replay.
 */
import type { ArchiveRow } from '../ports/offline.ts'
import type { LogRecord } from '../ports/event-log.ts'
import type { PartitionSlot, SlotOutput } from '../engine/partition-slot.ts'

export interface ReplayPartitionOptions {
  readonly batchSize?: number
  /** Called with every batch's output (rows per view, dead letters), in order. */
  readonly onOutput?: (output: SlotOutput) => Promise<void> | void
  /** Called after every batch; return true to checkpoint the slot now. */
  readonly shouldCheckpoint?: (slot: PartitionSlot) => boolean
  readonly createdAtMs: () => number
}

export async function replayPartition(slot: PartitionSlot, rows: AsyncIterable<ArchiveRow>, options: ReplayPartitionOptions): Promise<{ records: number; markers: number }> {
  const batchSize = options.batchSize ?? 2_000
  let batch: LogRecord[] = []
  let records = 0
  let markers = 0
  const flush = async () => {
    if (batch.length === 0) return
    const out = await slot.processRecords(batch, options.createdAtMs())
    records += out.records
    batch = []
    await options.onOutput?.(out)
    if (options.shouldCheckpoint?.(slot)) await slot.checkpoint()
  }
  for await (const row of rows) {
    if (row.markerWatermarkMs !== null) {
      await flush()
      // A marker archived with offset N was applied when N was the next offset to read.
      if (BigInt(row.offset) < BigInt(slot.nextOffset)) continue
      const out = slot.processMarker(row.markerWatermarkMs, options.createdAtMs())
      markers++
      await options.onOutput?.(out)
      continue
    }
    batch.push({ topic: slot.topic, partition: slot.partition, offset: row.offset, key: row.key, value: row.payload, timestampMs: row.timestampMs, headers: {} })
    if (batch.length >= batchSize) await flush()
  }
  await flush()
  return { records, markers }
}
