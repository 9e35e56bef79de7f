/**
 * The raw archive as a bounded source (ports/source.ts), over the `ArchiveReader` port: one
 * topic's archive, at its latest snapshot or fixed at one (`at`). Positions are the archived
 * offsets; the idle markers the live run applied come in their archived place (docs/semantics.md
 * §12–§13). Records come in batches of at most `batchRecords`, cut short before every marker.
 */
import type { ArchiveReader, ArchiveRow } from '../../ports/offline.ts'
import type { BoundedSource, SourceChunk, SourceRecord } from '../../ports/source.ts'

/** Records per batch handed to the slot: big enough to amortise a decode call, small enough to bound memory. */
export const ARCHIVE_BATCH_RECORDS = 2_000

/** The archive keeps no headers: one shared empty set, not one object per record. */
const NO_HEADERS: Readonly<Record<string, string>> = Object.freeze({})

export interface ArchiveSourceOptions {
  /** Read this snapshot only; default: the latest at each call. */
  readonly snapshotId?: string
  readonly batchRecords?: number
}

export function archiveSource(reader: Pick<ArchiveReader, 'archiveEnd' | 'readArchiveBatches'>, topic: string, options: ArchiveSourceOptions = {}): BoundedSource {
  const { snapshotId } = options
  const batchRecords = options.batchRecords ?? ARCHIVE_BATCH_RECORDS
  return {
    bounded: true,
    async ends() {
      const end = await reader.archiveEnd(topic, snapshotId)
      return { snapshotId: end.snapshotId, ends: end.nextOffsets }
    },
    at: (id) => archiveSource(reader, topic, { ...options, snapshotId: id }),
    read: (partition, range = {}) =>
      archiveChunks(reader.readArchiveBatches(topic, partition, { fromOffset: range.from, untilOffset: range.until, snapshotId }), batchRecords),
  }
}

/** Archived rows → record batches and markers, in archive order. */
async function* archiveChunks(rows: AsyncIterable<readonly ArchiveRow[]>, batchRecords: number): AsyncIterable<SourceChunk> {
  let batch: SourceRecord[] = []
  for await (const read of rows) {
    for (const row of read) {
      if (row.markerWatermarkMs !== null) {
        if (batch.length > 0) {
          yield { kind: 'records', records: batch }
          batch = []
        }
        yield { kind: 'marker', offset: row.offset, watermarkMs: row.markerWatermarkMs }
        continue
      }
      batch.push({ offset: row.offset, key: row.key, value: row.payload, timestampMs: row.timestampMs, headers: NO_HEADERS })
      if (batch.length >= batchRecords) {
        yield { kind: 'records', records: batch }
        batch = []
      }
    }
  }
  if (batch.length > 0) yield { kind: 'records', records: batch }
}
