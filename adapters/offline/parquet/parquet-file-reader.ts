/**
 * Reads a Parquet file back as JS values, one row group at a time, so memory stays bounded by the
 * row-group size (plus the file's bytes, which the caller already holds). Values follow the table
 * in parquet-schema.ts; decoding goes by the file's Arrow types, so any file with these types reads.
 */
import * as arrow from 'apache-arrow'
import * as pw from 'parquet-wasm/node'
import { SinkWriteError } from '../../../core/errors.ts'
import { decodeCompact } from './compact-columns.ts'
import { readParquetFooter } from './parquet-file-writer.ts'
import type { ParquetColumnType } from './parquet-schema.ts'

export interface ParquetReadOptions {
  /** Only these columns (by name); default all. */
  readonly columns?: readonly string[]
  readonly batchSize?: number
  /** How INT64 (non-timestamp) values come back; default `number` (an unsafe value is an error). */
  readonly longAs?: 'number' | 'bigint'
}

export interface ParquetBatch {
  readonly numRows: number
  /** Column name → one JS value per row. */
  readonly columns: Readonly<Record<string, unknown[]>>
  /** Column name → its kfs column type, or undefined when the file's type has no kfs equivalent. */
  readonly types?: Readonly<Record<string, ParquetColumnType | undefined>>
}

/** The kfs column type an Arrow type reads back as (see parquet-schema.ts). */
function columnTypeOf(type: arrow.DataType): ParquetColumnType | undefined {
  // pyarrow (PyIceberg) stores strings and binaries as the Large variants (64-bit offsets).
  if (arrow.DataType.isUtf8(type) || arrow.DataType.isLargeUtf8(type)) return 'string'
  if (arrow.DataType.isBinary(type) || arrow.DataType.isLargeBinary(type)) return 'binary'
  if (arrow.DataType.isBool(type)) return 'boolean'
  if (arrow.DataType.isTimestamp(type)) return 'timestamptz'
  if (arrow.DataType.isInt(type)) return (type as arrow.Int).bitWidth === 64 ? 'long' : 'int'
  if (arrow.DataType.isFloat(type)) return 'double'
  if (arrow.DataType.isList(type)) {
    const element = columnTypeOf((type as arrow.List).children[0]!.type)
    return element === 'string' || element === 'long' || element === 'double' ? `list<${element}>` : undefined
  }
  return undefined
}

const decoder = new TextDecoder()

function isValidAt(data: arrow.Data, i: number): boolean {
  if (data.nullCount === 0 || data.nullBitmap === undefined || data.nullBitmap.length === 0) return true
  const j = data.offset + i
  return ((data.nullBitmap[j >> 3]! >> (j & 7)) & 1) === 1
}

function int64ToNumber(v: bigint, column: string): number {
  const n = Number(v)
  if (!Number.isSafeInteger(n)) {
    throw new SinkWriteError('SINK_REJECTED', `column ${column}: int64 beyond 2^53; read with longAs: 'bigint'`, { context: { column } })
  }
  return n
}

const US_PER_UNIT: Record<number, bigint> = { [arrow.TimeUnit.SECOND]: 1_000_000n, [arrow.TimeUnit.MILLISECOND]: 1000n, [arrow.TimeUnit.MICROSECOND]: 1n, [arrow.TimeUnit.NANOSECOND]: 0n }

/** Decodes `length` values of `data` starting at logical index `start` (for list children). */
function decodeData(data: arrow.Data, column: string, longAs: 'number' | 'bigint', start = 0, length = data.length): unknown[] {
  const out = new Array<unknown>(length)
  const type = data.type
  const base = data.offset + start
  if (arrow.DataType.isUtf8(type) || arrow.DataType.isBinary(type) || arrow.DataType.isLargeUtf8(type) || arrow.DataType.isLargeBinary(type)) {
    const offsets = data.valueOffsets as Int32Array | BigInt64Array
    const bytes = data.values as Uint8Array
    const isString = arrow.DataType.isUtf8(type) || arrow.DataType.isLargeUtf8(type)
    for (let i = 0; i < length; i++) {
      if (!isValidAt(data, start + i)) {
        out[i] = null
        continue
      }
      const slice = bytes.subarray(Number(offsets[base + i]!), Number(offsets[base + i + 1]!))
      out[i] = isString ? decoder.decode(slice) : slice.slice()
    }
    return out
  }
  if (arrow.DataType.isTimestamp(type)) {
    const values = data.values as BigInt64Array
    const unit = (type as arrow.Timestamp).unit
    for (let i = 0; i < length; i++) {
      if (!isValidAt(data, start + i)) {
        out[i] = null
        continue
      }
      const v = values[base + i]!
      // Epoch ms, floored (rounding toward −∞ as Iceberg's transforms do).
      const ms = unit === arrow.TimeUnit.NANOSECOND ? floorDiv(v, 1_000_000n) : floorDiv(v * US_PER_UNIT[unit]!, 1000n)
      out[i] = Number(ms)
    }
    return out
  }
  if (arrow.DataType.isDate(type)) {
    // A date reads as the epoch ms of its midnight UTC (ports/table-snapshots.ts); no kfs column type.
    const values = data.values as Int32Array | BigInt64Array
    const perUnit = (type as arrow.Date_).unit === arrow.DateUnit.DAY ? 86_400_000 : 1
    for (let i = 0; i < length; i++) out[i] = isValidAt(data, start + i) ? Number(values[base + i]!) * perUnit : null
    return out
  }
  if (arrow.DataType.isInt(type)) {
    const values = data.values as Int32Array | BigInt64Array
    const is64 = (type as arrow.Int).bitWidth === 64
    for (let i = 0; i < length; i++) {
      if (!isValidAt(data, start + i)) {
        out[i] = null
        continue
      }
      const v = values[base + i]!
      out[i] = is64 ? (longAs === 'bigint' ? (v as bigint) : int64ToNumber(v as bigint, column)) : v
    }
    return out
  }
  if (arrow.DataType.isBool(type)) {
    const bits = data.values as Uint8Array
    for (let i = 0; i < length; i++) {
      const j = base + i
      out[i] = isValidAt(data, start + i) ? ((bits[j >> 3]! >> (j & 7)) & 1) === 1 : null
    }
    return out
  }
  if (arrow.DataType.isFloat(type)) {
    const values = data.values as Float64Array | Float32Array
    for (let i = 0; i < length; i++) out[i] = isValidAt(data, start + i) ? values[base + i]! : null
    return out
  }
  if (arrow.DataType.isList(type)) {
    const offsets = data.valueOffsets as Int32Array
    const child = data.children[0]!
    for (let i = 0; i < length; i++) {
      if (!isValidAt(data, start + i)) {
        out[i] = null
        continue
      }
      const from = offsets[base + i]!
      const to = offsets[base + i + 1]!
      out[i] = decodeData(child, column, longAs, from, to - from)
    }
    return out
  }
  throw new SinkWriteError('SINK_REJECTED', `column ${column}: unsupported Arrow type ${String(type)}`, { context: { column } })
}

function floorDiv(a: bigint, b: bigint): bigint {
  const q = a / b
  return a % b !== 0n && a < 0n !== b < 0n ? q - 1n : q
}

/** Column names and kfs types (undefined: a type kfs does not read), from the footer alone. */
export function parquetColumnTypes(bytes: Uint8Array): { name: string; type: ParquetColumnType | undefined }[] {
  const schema = arrow.tableFromIPC(pw.readSchema(bytes).intoIPCStream()).schema
  return schema.fields.map((f) => ({ name: f.name, type: columnTypeOf(f.type) }))
}

/** Number of row groups and rows, from the footer. */
export async function parquetFileInfo(bytes: Uint8Array): Promise<{ rowGroups: number; rows: number }> {
  const meta = await readParquetFooter(bytes)
  try {
    return { rowGroups: meta.numRowGroups(), rows: meta.fileMetadata().numRows() }
  } finally {
    meta.free()
  }
}

/** The file's Arrow record batches, one row group at a time. */
async function* arrowBatches(bytes: Uint8Array, batchSize: number | undefined): AsyncGenerator<arrow.RecordBatch> {
  const { rowGroups } = await parquetFileInfo(bytes)
  for (let rg = 0; rg < rowGroups; rg++) {
    const wasmTable = pw.readParquet(bytes, { rowGroups: [rg], batchSize: batchSize ?? 65_536 })
    yield* arrow.tableFromIPC(wasmTable.intoIPCStream()).batches
  }
}

export async function* readParquetBatches(bytes: Uint8Array, options: ParquetReadOptions = {}): AsyncGenerator<ParquetBatch> {
  const longAs = options.longAs ?? 'number'
  const wanted = options.columns === undefined ? undefined : new Set(options.columns)
  for await (const batch of arrowBatches(bytes, options.batchSize)) {
    // parquet-wasm 0.8's sync reader ignores its `columns` option, so projection happens here,
    // before the (costly) conversion to JS values.
    const columns: Record<string, unknown[]> = {}
    const types: Record<string, ParquetColumnType | undefined> = {}
    batch.schema.fields.forEach((field, i) => {
      if (wanted !== undefined && !wanted.has(field.name)) return
      columns[field.name] = decodeData(batch.data.children[i]!, field.name, longAs)
      types[field.name] = columnTypeOf(field.type)
    })
    yield { numRows: batch.numRows, columns, types }
  }
}

/** The same values as `readParquetBatches` (numbers, not bigints), in cheaper containers (./compact-columns.ts). */
export async function* readCompactParquetBatches(bytes: Uint8Array): AsyncGenerator<{ numRows: number; columns: Record<string, ArrayLike<unknown>> }> {
  for await (const batch of arrowBatches(bytes, undefined)) {
    const columns: Record<string, ArrayLike<unknown>> = {}
    batch.schema.fields.forEach((field, i) => {
      columns[field.name] = decodeCompact(batch.data.children[i]!, (data) => decodeData(data, field.name, 'number'))
    })
    yield { numRows: batch.numRows, columns }
  }
}

export async function* readParquetRows(bytes: Uint8Array, options: ParquetReadOptions = {}): AsyncGenerator<Record<string, unknown>> {
  for await (const batch of readParquetBatches(bytes, options)) {
    const names = Object.keys(batch.columns)
    for (let i = 0; i < batch.numRows; i++) {
      const row: Record<string, unknown> = {}
      for (const name of names) row[name] = batch.columns[name]![i]
      yield row
    }
  }
}
