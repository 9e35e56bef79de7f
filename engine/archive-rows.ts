/**
 * The archive rows a partition slot keeps for its next checkpoint (docs/semantics.md §12): one per
 * record as read, and one per idle-advance marker. Replay reads them back through the same slot.
 */
import { eventTimeOf } from '../operators/task/event-fields.ts'
import type { DecodeResult } from '../schemas/decoder.ts'
import type { ArchiveRow } from '../ports/offline.ts'
import type { SourceRecord } from '../ports/source.ts'
import type { PartitionEvent } from './rekey-bundle.ts'
import type { ArchiveRowBuffer } from './archive-row-buffer.ts'

/**
 * Rows of `records` as read — a bundle whole, with no event time or schema id of its own (its
 * events have theirs); `decoded[j]` is the decode result of `events[j]`, the records unbundled.
 */
export function recordArchiveRows(
  partition: number,
  eventTimeField: string,
  records: readonly SourceRecord[],
  events: readonly PartitionEvent[],
  decoded: readonly DecodeResult[],
): ArchiveRow[] {
  const rows: ArchiveRow[] = []
  let j = 0
  for (const record of records) {
    let result: DecodeResult | undefined
    if (events[j] === record) result = decoded[j++]
    else while (j < events.length && events[j]!.offset === record.offset) j++
    rows.push({
      partition,
      offset: record.offset,
      eventTimeMs: result?.ok ? (eventTimeOf(result.event[eventTimeField]) ?? null) : null,
      key: record.key,
      schemaId: result === undefined ? null : result.ok ? result.schemaId : (result.schemaId ?? null),
      payload: record.value,
      markerWatermarkMs: null,
      timestampMs: record.timestampMs,
    })
  }
  return rows
}

/**
 * `recordArchiveRows` pushed into `buffer`, field by field: the same columns, without an
 * ArchiveRow object per record (the live engine archives every record it reads).
 */
export function archiveRecords(
  buffer: ArchiveRowBuffer,
  eventTimeField: string,
  records: readonly SourceRecord[],
  events: readonly PartitionEvent[],
  decoded: readonly DecodeResult[],
): void {
  let j = 0
  for (const record of records) {
    let result: DecodeResult | undefined
    if (events[j] === record) result = decoded[j++]
    else while (j < events.length && events[j]!.offset === record.offset) j++
    const eventTimeMs = result?.ok ? (eventTimeOf(result.event[eventTimeField]) ?? Number.NaN) : Number.NaN
    const schemaId = result === undefined ? Number.NaN : result.ok ? result.schemaId : (result.schemaId ?? Number.NaN)
    buffer.pushRecord(record.offset, eventTimeMs, record.key, schemaId, record.value, record.timestampMs)
  }
}

/** The row of an idle-advance marker, archived at the next offset to be read. */
export function markerArchiveRow(partition: number, nextOffset: string, watermarkMs: number, createdAtMs: number): ArchiveRow {
  return {
    partition,
    offset: nextOffset,
    eventTimeMs: null,
    key: null,
    schemaId: null,
    payload: null,
    markerWatermarkMs: watermarkMs,
    timestampMs: createdAtMs,
  }
}
