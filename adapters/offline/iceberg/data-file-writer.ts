/**
 * Turns rows into Parquet data files of a table, ready for `appendFiles`:
 * 1. split rows by partition tuple (day of a timestamptz column, or identity of an int column),
 *    keeping their input order inside each partition (archive order matters to replay);
 * 2. roll files by size: the first file's rows-per-file comes from a raw-size estimate, every
 *    later one from the bytes/row the previous file actually compressed to;
 * 3. write each file under `data/<partition path>/<uuid>.parquet` and return its DataFile entry
 *    with exact record count and size, partition values and column metrics (value/null/NaN counts,
 *    bounds for int/long/double/timestamptz columns — readers prune files with them).
 * Files are invisible until a commit references them; an unreferenced file is garbage, never data.
 */
import { randomUUID } from 'node:crypto'
import { SinkWriteError } from '../../../core/errors.ts'
import { createYielder } from '../../../core/event-loop.ts'
import { MAX_DATE_MS } from '../../../core/iso-time.ts'
import { encodeParquetColumns, type ColumnStats, type ColumnValues } from '../parquet/index.ts'
import { parquetColumnsOf, type IcebergSchema, type PartitionSpec } from './iceberg-schema.ts'
import type { IcebergTable } from './iceberg-table.ts'
import type { DataFile } from './manifests.ts'
import { currentSchema, defaultSpec } from './table-metadata.ts'

export interface WriteDataFilesOptions {
  /** Target compressed size of one data file. */
  readonly targetFileBytes?: number
  readonly rowGroupRows?: number
  /** Encode Parquet on the shared worker thread (default true); false: in-process, same bytes. */
  readonly parquetWorker?: boolean
}

export type TableRow = Readonly<Record<string, unknown>>

/**
 * Rows as one array of values per column, keyed by column name (a column absent here is all
 * nulls; a Float64Array holds numbers and no null). Writers that hold their rows in another shape fill these arrays directly: reading
 * named properties of row objects column by column was most of the cost of a file.
 */
export interface ColumnarRows {
  readonly rowCount: number
  readonly columns: Readonly<Record<string, ColumnValues>>
}

const MS_PER_DAY = 86_400_000

/** The `names` columns of row objects (a missing property is a null). */
export function columnarOf(rows: readonly TableRow[], names: readonly string[]): ColumnarRows {
  const columns: Record<string, unknown[]> = {}
  for (const name of names) columns[name] = rows.map((r) => r[name])
  return { rowCount: rows.length, columns }
}

/** Partition tuple of a row under `spec`, in spec order. */
export function partitionOf(schema: IcebergSchema, spec: PartitionSpec, row: TableRow): (number | null)[] {
  return partitionPartsOf(schema, spec, columnarOf([row], Object.keys(row))).map((part) => part(0))
}

/** Per spec field, its value for row `i`, with the spec resolved once (it runs for every row written). */
function partitionPartsOf(schema: IcebergSchema, spec: PartitionSpec, rows: ColumnarRows): ((i: number) => number | null)[] {
  return spec.fields.map((pf) => {
    const source = schema.fields.find((f) => f.id === pf['source-id'])
    if (source === undefined) throw new SinkWriteError('SINK_REJECTED', `partition source ${pf['source-id']} is not in the schema`)
    if (pf.transform !== 'day' && pf.transform !== 'identity') throw new SinkWriteError('SINK_REJECTED', `unsupported partition transform ${pf.transform}`)
    const { name } = source
    const values = rows.columns[name]
    const day = pf.transform === 'day'
    return (i) => {
      const v = values?.[i]
      if (v === null || v === undefined) return null
      if (typeof v !== 'number' || !Number.isInteger(v)) throw new SinkWriteError('SINK_REJECTED', `column ${name}: partition source must be an integer`)
      return day ? Math.floor(v / MS_PER_DAY) : v
    }
  })
}

/**
 * A day partition's directory text: its date, or the day number for a day beyond the dates a Date
 * holds (an as_of may be any safe integer, docs/semantics.md; only the path shows it, readers go
 * by the manifest's partition value).
 */
export function formatDay(day: number): string {
  const ms = day * MS_PER_DAY
  return Math.abs(ms) <= MAX_DATE_MS ? new Date(ms).toISOString().slice(0, 10) : String(day)
}

export function partitionPath(spec: PartitionSpec, partition: readonly (number | null)[]): string {
  return spec.fields
    .map((pf, i) => {
      const v = partition[i]
      const text = v === null || v === undefined ? 'null' : pf.transform === 'day' ? formatDay(v) : String(v)
      return `${encodeURIComponent(pf.name)}=${encodeURIComponent(text)}`
    })
    .join('/')
}

function boundBytes(type: string, v: number | bigint): Uint8Array | undefined {
  const b = new Uint8Array(type === 'int' ? 4 : 8)
  const dv = new DataView(b.buffer)
  if (type === 'int') dv.setInt32(0, Number(v), true)
  else if (type === 'long' || type === 'timestamptz') dv.setBigInt64(0, BigInt(v), true)
  else if (type === 'double') dv.setFloat64(0, Number(v), true)
  else return undefined
  return b
}

function metricsOf(schema: IcebergSchema, stats: readonly ColumnStats[], sizes: readonly number[]): Partial<DataFile> {
  const columnSizes = new Map<number, number>()
  const valueCounts = new Map<number, number>()
  const nullValueCounts = new Map<number, number>()
  const nanValueCounts = new Map<number, number>()
  const lowerBounds = new Map<number, Uint8Array>()
  const upperBounds = new Map<number, Uint8Array>()
  schema.fields.forEach((f, i) => {
    const s = stats[i]!
    // Metrics are keyed by the leaf's id: the element id for lists (as Java's ParquetMetrics does).
    const id = typeof f.type === 'object' ? f.type['element-id'] : f.id
    columnSizes.set(id, sizes[i] ?? 0)
    valueCounts.set(id, s.valueCount)
    nullValueCounts.set(id, s.nullCount)
    if (f.type === 'double') nanValueCounts.set(id, s.nanCount)
    if (typeof f.type === 'string' && s.min !== undefined && s.max !== undefined) {
      const lo = boundBytes(f.type, s.min)
      const hi = boundBytes(f.type, s.max)
      if (lo !== undefined && hi !== undefined) {
        lowerBounds.set(id, lo)
        upperBounds.set(id, hi)
      }
    }
  })
  return { columnSizes, valueCounts, nullValueCounts, nanValueCounts, lowerBounds, upperBounds }
}

function rawRowBytes(rows: ColumnarRows, i: number): number {
  let n = 0
  for (const values of Object.values(rows.columns)) {
    const v = values[i]
    if (v === undefined) continue
    if (typeof v === 'string') n += v.length + 4
    else if (v instanceof Uint8Array) n += v.length + 4
    else if (Array.isArray(v)) n += 8 * v.length + 4
    else n += 8
  }
  return n
}

/** The value arrays of `rows` for `names`, in that order; a column absent from `rows` is all nulls. */
function columnArrays(rows: ColumnarRows, names: readonly string[]): ColumnValues[] {
  let nulls: null[] | undefined
  return names.map((name) => rows.columns[name] ?? (nulls ??= new Array<null>(rows.rowCount).fill(null)))
}

/** Indices `from` … `to` − 1. */
function range(from: number, to: number): number[] {
  const out = new Array<number>(to - from)
  for (let i = from; i < to; i++) out[i - from] = i
  return out
}

export async function writeDataFiles(table: IcebergTable, input: readonly TableRow[] | ColumnarRows, options: WriteDataFilesOptions = {}): Promise<DataFile[]> {
  const schema = currentSchema(table.metadata)
  const spec = defaultSpec(table.metadata)
  const columns = parquetColumnsOf(schema)
  const names = columns.map((c) => c.name)
  const rows = Array.isArray(input) ? columnarOf(input as readonly TableRow[], names) : (input as ColumnarRows)
  const target = options.targetFileBytes ?? 128 * 1024 * 1024
  const encodeOptions = {
    ...(options.rowGroupRows === undefined ? {} : { rowGroupRows: options.rowGroupRows }),
    ...(options.parquetWorker === undefined ? {} : { worker: options.parquetWorker }),
    // A feature table's `seq` (archive position) is distinct on every row: a dictionary of it
    // (65,536 entries per row group, never overflowing) costs every training-set join a lookup
    // per row; PLAIN reads faster and, zstd-compressed, is smaller (docs/performance.md, session 16).
    ...(names.includes('seq') ? { plainColumns: ['seq'] } : {}),
  }
  const values = columnArrays(rows, names)
  // Row indices per partition tuple, in input order (archive order matters to replay).
  // While every row so far is in one group (the common case: a checkpoint's rows in one day) its
  // indices are 0 … i − 1 and are not listed; they are when a second group appears.
  const groups = new Map<string | number | null, { partition: (number | null)[]; indices: number[] }>()
  const parts = partitionPartsOf(schema, spec, rows)
  // One partition field (every kfs table): its value is the group key, no tuple per row.
  const keyOf = parts.length === 1 ? parts[0]! : (i: number) => parts.map((part) => part(i)).join('|')
  let lastKey: string | number | null | undefined
  let last: { partition: (number | null)[]; indices: number[] } | undefined
  // A checkpoint's rows are split on the engine's thread: let its event loop run now and then.
  const yieldNowAndThen = createYielder(4)
  for (let i = 0; i < rows.rowCount; i++) {
    if (i % 4096 === 4095) await yieldNowAndThen()
    const key = keyOf(i)
    let g = last !== undefined && key === lastKey ? last : groups.get(key)
    if (g === undefined) {
      if (groups.size === 1) last!.indices = range(0, i)
      groups.set(key, (g = { partition: parts.map((part) => part(i)), indices: [] }))
    }
    lastKey = key
    last = g
    if (groups.size > 1) g.indices.push(i)
  }
  const sampleSize = Math.min(200, rows.rowCount)
  let sampleBytes = 0
  for (let i = 0; i < sampleSize; i++) sampleBytes += rawRowBytes(rows, i)
  const avgRaw = sampleSize === 0 ? 64 : sampleBytes / sampleSize
  let rowsPerFile = Math.max(1, Math.floor((target * 3) / avgRaw)) // assume ~3× compression at first
  const out: DataFile[] = []
  const writes: Promise<void>[] = []
  for (const g of groups.values()) {
    const dir = spec.fields.length === 0 ? `${table.path}/data` : `${table.path}/data/${partitionPath(spec, g.partition)}`
    // One partition holding every row (the common case) is read in place, without an index.
    const indices = groups.size === 1 ? undefined : g.indices
    const groupRows = indices === undefined ? rows.rowCount : indices.length
    for (let start = 0; start < groupRows; ) {
      const end = Math.min(groupRows, start + rowsPerFile)
      // Encoding is synchronous CPU (Arrow + wasm): let pending I/O (online writes, fetches of a
      // live engine checkpointing in the background) run between files.
      await new Promise<void>((resolve) => setImmediate(resolve))
      // The file's rows are picked out of the full columns, not copied out of each of them first.
      const at = indices === undefined ? (start === 0 && end === rows.rowCount ? undefined : range(start, end)) : indices.slice(start, end)
      const file = await encodeParquetColumns(columns, values, encodeOptions, at)
      const key = `${dir}/${randomUUID()}.parquet`
      const write = table.store.put(key, file.bytes)
      write.catch(() => undefined) // observed below; this only keeps an early rejection from being "unhandled"
      writes.push(write)
      if (writes.length >= 2) await writes.shift()
      out.push({
        filePath: table.store.uriOf(key),
        fileFormat: 'PARQUET',
        partition: g.partition,
        recordCount: file.rowCount,
        fileSizeInBytes: file.bytes.length,
        ...metricsOf(schema, file.stats, file.columnSizes),
      })
      start = end
      rowsPerFile = Math.max(1, Math.floor((file.rowCount * target) / Math.max(1, file.bytes.length)))
    }
  }
  await Promise.all(writes)
  return out
}
