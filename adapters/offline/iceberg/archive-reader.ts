/**
 * Reading a raw archive table back (ports/offline.ts `ArchiveReader`): where each partition ends at
 * a snapshot, and one partition's rows in archive order — the replay source.
 *
 * The archive is the only copy of history a backfill or verify-parity has, so what it reads is
 * checked, not trusted: a data file whose columns are not the archive's (missing, or of another
 * type), whose offsets have no bounds in the manifest, or that holds an offset already read (the
 * same file referenced twice, two files overlapping) is DATA_CORRUPT naming the file. Read on, it
 * would have crashed the replay on a value of the wrong type, or silently dropped records (a string
 * offset never reaches the end), or counted some twice.
 */
import { SinkWriteError } from '../../../core/errors.ts'
import type { ArchiveRow } from '../../../ports/offline.ts'
import type { IcebergTable } from './iceberg-table.ts'
import { decodeLongBound, liveEntriesOf, readDataFileBatches, type LiveEntry } from './table-reader.ts'

/** The archive schema's `offset` column (table-schemas.ts RAW_ARCHIVE_SCHEMA). */
const ARCHIVE_OFFSET_FIELD_ID = 2

function damaged(file: string, topic: string, why: string): SinkWriteError {
  return new SinkWriteError(
    'DATA_CORRUPT',
    `data file ${file} of the archive of ${topic} ${why}: the archive table is damaged; restore it from a copy`,
    {
      context: { file, topic },
    },
  )
}

/** A live archive entry's offset bounds; DATA_CORRUPT when a file with rows has none (kfs always writes them). */
export function offsetBounds(entry: LiveEntry, topic: string): { lo: bigint; hi: bigint } | undefined {
  const lo = decodeLongBound(entry.dataFile.lowerBounds?.get(ARCHIVE_OFFSET_FIELD_ID))
  const hi = decodeLongBound(entry.dataFile.upperBounds?.get(ARCHIVE_OFFSET_FIELD_ID))
  if (lo !== undefined && hi !== undefined) {
    // Kafka offsets are never negative: such a file would sort before every read and be skipped.
    if (lo < 0n || hi < lo) throw damaged(entry.dataFile.filePath, topic, `has offset bounds ${lo}…${hi} in its manifest entry`)
    return { lo, hi }
  }
  if (entry.dataFile.recordCount === 0) return undefined
  throw damaged(entry.dataFile.filePath, topic, 'has no offset bounds in its manifest entry')
}

/** Per partition present at `snapshotId`, one past the highest archived offset. */
export async function archiveNextOffsets(
  table: IcebergTable,
  topic: string,
  snapshotId: bigint,
): Promise<Record<number, string>> {
  const nextOffsets: Record<number, string> = {}
  for (const entry of await liveEntriesOf(table, snapshotId)) {
    const bounds = offsetBounds(entry, topic)
    if (bounds === undefined) continue
    const p = entry.dataFile.partition[0] as number
    const next = bounds.hi + 1n
    if (nextOffsets[p] === undefined || BigInt(nextOffsets[p]) < next) nextOffsets[p] = next.toString()
  }
  return nextOffsets
}

/** A live archive file with rows and its offset bounds. */
export interface BoundedArchiveFile {
  readonly e: LiveEntry
  readonly lo: bigint
  readonly hi: bigint
}

/**
 * One partition's files with rows, in the order they are read. Each checkpoint commits one
 * contiguous, processing-ordered stretch of a partition, so files in (lowest offset, commit order)
 * order replay the partition exactly as it was consumed. Archive compaction
 * (archive-compaction.ts) rewrites runs of files in this order, so it shares it.
 */
export function archiveFilesInReadOrder(entries: readonly LiveEntry[], topic: string, partition: number): BoundedArchiveFile[] {
  return entries
    .filter((e) => e.dataFile.partition[0] === partition)
    .flatMap((e) => {
      const bounds = offsetBounds(e, topic)
      return bounds === undefined ? [] : [{ e, ...bounds }]
    })
    .sort((a, b) =>
      a.lo < b.lo
        ? -1
        : a.lo > b.lo
          ? 1
          : a.e.dataSequenceNumber < b.e.dataSequenceNumber
            ? -1
            : a.e.dataSequenceNumber > b.e.dataSequenceNumber
              ? 1
              : 0,
    )
}

export interface ArchiveReadRange {
  readonly from: bigint
  readonly until: bigint | undefined
}

/**
 * One partition's rows at `snapshotId`, in archive order, from `range.from` (records before
 * `range.until`, markers up to it), a data file's Parquet batch at a time: a replay reads 200,000
 * rows through this, and one async step and one row object per row (the Parquet reader's row
 * record, then this row) cost more than the rows' own checks.
 */
export async function* readArchivePartitionBatches(
  table: IcebergTable,
  topic: string,
  partition: number,
  snapshotId: bigint,
  range: ArchiveReadRange,
): AsyncGenerator<ArchiveRow[]> {
  const { from, until } = range
  const files = archiveFilesInReadOrder(await liveEntriesOf(table, snapshotId), topic, partition).filter((f) => f.hi >= from)
  // Records strictly increase; a marker carries the next offset to read, so it is past every record
  // before it and at most the offset of the record after it (several markers may share one offset).
  let lastRecord: number | bigint = -1
  let lastMarker: number | bigint = -1
  for (const { e, lo } of files) {
    if (until !== undefined && lo > until) break
    const file = e.dataFile.filePath
    // Keys and payloads as views: a replay decodes each record and lets it go. Longs and times as
    // numbers (compact), not a bigint each (four a row).
    for await (const batch of readDataFileBatches(table, e.dataFile, { longAs: 'bigint', binaryViews: true, compact: true })) {
      const rows: ArchiveRow[] = []
      const { columns, types } = batch
      // A compact long reads as a number, as an int or a double would: the column's type says which it is.
      const offsetIsLong = batch.types?.offset === 'long'
      for (let i = 0; i < batch.numRows; i++) {
        const offset = offsetAt(columns, offsetIsLong, i, file, topic)
        const markerWatermarkMs = timeAt(columns, types, 'marker_watermark', i, offset, file, topic)
        const isMarker = markerWatermarkMs !== null
        if (until !== undefined && (isMarker ? offset > until : offset >= until)) {
          if (!isMarker) continue
          if (rows.length > 0) yield rows
          return
        }
        if (offset < from) continue
        if (offset <= lastRecord || offset < lastMarker) {
          const why =
            offset <= lastRecord
              ? `holds offset ${offset} of partition ${partition}, already read (up to ${lastRecord})`
              : `goes back to offset ${offset} of partition ${partition}`
          throw damaged(file, topic, why)
        }
        if (isMarker) lastMarker = offset
        else lastRecord = offset
        rows.push(archiveRowAt(columns, types, i, partition, offset, markerWatermarkMs, file, topic))
      }
      if (rows.length > 0) yield rows
    }
  }
}

type Columns = Readonly<Record<string, readonly unknown[]>>
/** The batch's column types: a compact long reads as a number, and a refusal names it a long all the same. */
type Types = Readonly<Record<string, string | undefined>> | undefined

/**
 * Row i of a data file's batch as an ArchiveRow (its offset and marker column already checked);
 * DATA_CORRUPT naming the file when a column is of another type. Plain functions with the file and
 * topic passed along, not closures made per row.
 */
function archiveRowAt(
  columns: Columns,
  types: Types,
  i: number,
  partition: number,
  offset: number | bigint,
  markerWatermarkMs: number | null,
  file: string,
  topic: string,
): ArchiveRow {
  const schemaId = columns.schema_id?.[i]
  if (schemaId !== null && schemaId !== undefined && typeof schemaId !== 'bigint' && !Number.isSafeInteger(schemaId)) {
    throw damaged(file, topic, `has ${describe(schemaId, types?.schema_id)} in column schema_id at offset ${offset}, not a long`)
  }
  return {
    partition,
    offset: offset.toString(),
    eventTimeMs: timeAt(columns, types, 'event_time', i, offset, file, topic),
    key: bytesAt(columns, types, 'key', i, offset, file, topic),
    schemaId: schemaId === null || schemaId === undefined ? null : Number(schemaId),
    payload: bytesAt(columns, types, 'payload', i, offset, file, topic),
    markerWatermarkMs,
    // Unknown (-1, Kafka's "no timestamp") in tables from before the column existed.
    timestampMs: timeAt(columns, types, 'ingestion_time', i, offset, file, topic) ?? -1,
  }
}

/** Row i's offset, a non-negative long (a number where exact); DATA_CORRUPT naming the file otherwise. */
function offsetAt(columns: Columns, isLong: boolean, i: number, file: string, topic: string): number | bigint {
  const v = columns.offset?.[i]
  if (isLong && (typeof v === 'number' || typeof v === 'bigint')) {
    if (v >= 0) return v
    throw damaged(file, topic, 'has a long in column offset, not a non-negative long')
  }
  throw damaged(file, topic, `has ${describe(v)} in column offset, not a non-negative long`)
}

function timeAt(
  columns: Columns,
  types: Types,
  column: string,
  i: number,
  offset: number | bigint,
  file: string,
  topic: string,
): number | null {
  const v = columns[column]?.[i]
  if (v === null || v === undefined) return null
  if (typeof v === 'bigint') return Number(v)
  if (typeof v === 'number' && Number.isFinite(v)) return v
  throw damaged(file, topic, `has ${describe(v, types?.[column])} in column ${column} at offset ${offset}, not a timestamp`)
}

function bytesAt(
  columns: Columns,
  types: Types,
  column: string,
  i: number,
  offset: number | bigint,
  file: string,
  topic: string,
): Uint8Array | null {
  const v = columns[column]?.[i]
  if (v === null || v === undefined) return null
  if (v instanceof Uint8Array) return v
  throw damaged(file, topic, `has ${describe(v, types?.[column])} in column ${column} at offset ${offset}, not binary`)
}

/** What a file holds where a value of the archive's type should be. */
function describe(v: unknown, type?: string): string {
  if (typeof v === 'number' && type === 'long') return 'a long'
  if (v === undefined) return 'nothing (no such column)'
  if (v === null) return 'a null'
  if (v instanceof Uint8Array) return 'binary'
  return `a ${typeof v === 'bigint' ? 'long' : typeof v === 'number' ? 'double' : typeof v}`
}
