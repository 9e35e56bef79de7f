/**
 * The backfill hand-off's catch-up (DESIGN §8, docs/semantics.md §14): a view adopted from its
 * backfill sits at the backfill's position; the raw archive holds every record and idle marker up
 * to the partition's restored checkpoint, so feeding the view's processor those, in archive order,
 * brings it to the partition's position exactly as live consumption would have.
 */
import { InvariantViolation } from '../core/errors.ts'
import type { Decoder } from '../schemas/decoder.ts'
import type { LogRecord } from '../ports/event-log.ts'
import type { OfflineFeatureRow, OfflineSink } from '../ports/offline.ts'
import type { PartitionProcessor } from './partition-processor.ts'

const BATCH = 2_000

/** The rows `processor` emits on its way from its position to `untilOffset`, in emission order. */
export async function catchUpFromArchive(
  processor: PartitionProcessor,
  offline: Pick<OfflineSink, 'readArchive'>,
  decoder: Decoder,
  untilOffset: string,
  createdAtMs: number,
): Promise<OfflineFeatureRow[]> {
  const { topic, partition } = processor
  const out: OfflineFeatureRow[] = []
  let batch: LogRecord[] = []
  const flush = async () => {
    if (batch.length === 0) return
    const decoded = await decoder.decodeBatch(batch.map((r) => r.value))
    for (const row of processor.processRecords(batch, decoded, createdAtMs).rows) out.push(row)
    batch = []
  }
  for await (const row of offline.readArchive(topic, partition, { fromOffset: processor.nextOffset, untilOffset })) {
    if (row.markerWatermarkMs !== null) {
      await flush()
      for (const r of processor.processMarker(row.markerWatermarkMs, createdAtMs)) out.push(r)
      continue
    }
    batch.push({ topic, partition, offset: row.offset, key: row.key, value: row.payload, timestampMs: row.timestampMs, headers: {} })
    if (batch.length >= BATCH) await flush()
  }
  await flush()
  if (BigInt(processor.nextOffset) < BigInt(untilOffset)) {
    // Records the archive does not hold (e.g. never consumed) cannot be recovered from it.
    const view = processor.view
    throw new InvariantViolation(`catch-up of ${view.name}@${view.version} on ${topic}/${partition} stopped at ${processor.nextOffset}, before ${untilOffset}`)
  }
  return out
}
