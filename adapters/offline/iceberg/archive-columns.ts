/**
 * The archive table's columns (table-schemas.ts RAW_ARCHIVE_SCHEMA) of the rows a checkpoint stages:
 * given as objects, converted with pauses that let the engine's event loop run; given as the
 * engine's columns (ports/offline.ts ArchiveRowColumns), read column by column.
 */
import type { ArchiveRow, ArchiveRowColumns, ArchiveRows } from '../../../ports/offline.ts'
import { createYielder, runStepsYielding } from '../../../core/event-loop.ts'
import type { Steps } from '../../../core/steps.ts'
import { offsetValue } from '../../../core/offsets.ts'

export async function archiveColumns(rows: ArchiveRows): Promise<Record<string, readonly unknown[]>> {
  return await runStepsYielding(
    isArchiveRowArray(rows) ? archiveColumnsSteps(rows) : archiveColumnsToTableSteps(rows),
    createYielder(4),
  )
}

/** The archived record's log timestamp, null where unknown (ArchiveRow.timestampMs −1). */
function ingestionTime(timestampMs: number): number | null {
  return timestampMs >= 0 ? timestampMs : null
}

function isArchiveRowArray(rows: ArchiveRows): rows is readonly ArchiveRow[] {
  return Array.isArray(rows)
}

/** The first `n` numbers, NaN as null (by a loop: `Array.from` of a typed array walks its iterator). */
function orNulls(numbers: ArrayLike<number>, n: number): (number | null)[] {
  const out = new Array<number | null>(n)
  for (let i = 0; i < n; i++) {
    const x = numbers[i]!
    out[i] = Number.isNaN(x) ? null : x
  }
  return out
}

/**
 * The archive table's columns of rows the engine kept as columns (NaN: null), pausing every 1,024
 * rows: one checkpoint's archive (~12,500 records a partition in bench freshness) took ~30 ms in
 * one go here, most of a 66 ms stall of the engine's event loop in a profiled run.
 */
function* archiveColumnsToTableSteps(rows: ArchiveRowColumns): Steps<Record<string, readonly unknown[]>> {
  const n = rows.length
  const keys = new Array<Uint8Array | null>(n)
  const payloads = new Array<Uint8Array | null>(n)
  const offsets = new Array<number | bigint>(n)
  const ingestion = new Array<number | null>(n)
  // Read once: the buffer's getters make a new view each time (a typed array a row).
  const { offsets: offsetTexts, timestampMs } = rows
  for (let i = 0; i < n; i++) {
    if (i % 1024 === 1023) yield
    keys[i] = rows.key(i)
    payloads[i] = rows.payload(i)
    offsets[i] = offsetValue(offsetTexts[i]!)
    ingestion[i] = ingestionTime(timestampMs[i]!)
  }
  return {
    partition: new Array<number>(n).fill(rows.partition),
    offset: offsets,
    event_time: orNulls(rows.eventTimeMs, n),
    key: keys,
    schema_id: orNulls(rows.schemaIds, n),
    payload: payloads,
    marker_watermark: orNulls(rows.markerWatermarkMs, n),
    ingestion_time: ingestion,
  }
}

/** The archive table's columns of `rows`, pausing every 1,024 rows (a checkpoint's archive is staged on the engine's thread). */
function* archiveColumnsSteps(rows: readonly ArchiveRow[]): Steps<Record<string, unknown[]>> {
  const n = rows.length
  const columns = {
    partition: new Array<unknown>(n),
    offset: new Array<unknown>(n),
    event_time: new Array<unknown>(n),
    key: new Array<unknown>(n),
    schema_id: new Array<unknown>(n),
    payload: new Array<unknown>(n),
    marker_watermark: new Array<unknown>(n),
    ingestion_time: new Array<unknown>(n),
  }
  for (let i = 0; i < n; i++) {
    if (i % 1024 === 1023) yield
    const r = rows[i]!
    columns.partition[i] = r.partition
    columns.offset[i] = offsetValue(r.offset)
    columns.event_time[i] = r.eventTimeMs
    columns.key[i] = r.key
    columns.schema_id[i] = r.schemaId
    columns.payload[i] = r.payload
    columns.marker_watermark[i] = r.markerWatermarkMs
    columns.ingestion_time[i] = ingestionTime(r.timestampMs)
  }
  return columns
}
