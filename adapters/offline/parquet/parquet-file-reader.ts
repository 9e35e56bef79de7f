/**
 * Reads a Parquet file back as JS values, one row group at a time, so memory stays bounded by the
 * row-group size (plus the file's bytes, which the caller already holds). Values follow the table
 * in parquet-schema.ts; decoding goes by the file's Arrow types, so any file with these types reads.
 */
import * as arrow from 'apache-arrow'
import * as pw from 'parquet-wasm/node'
import { decodeArrowValues } from './arrow-values.ts'
import { decodeCompact } from './compact-columns.ts'
import { readParquetFooter } from './parquet-file-writer.ts'
import type { ParquetReadType } from '../../../ports/parquet-codec.ts'

export interface ParquetReadOptions {
  /** Only these columns (by name); default all. */
  readonly columns?: readonly string[]
  readonly batchSize?: number
  /** How INT64 (non-timestamp) values come back; default `number` (an unsafe value is an error). */
  readonly longAs?: 'number' | 'bigint'
  /**
   * Binary values as views into the batch's bytes rather than copies: one allocation a value fewer,
   * for a reader that drops them soon (a value kept keeps its whole batch's bytes alive).
   */
  readonly binaryViews?: boolean
  /**
   * The compact reader's values (./compact-columns.ts) where they are exact: a long or timestamp
   * column as numbers rather than bigints (no allocation a value), other columns as above. A long
   * column holding a value beyond 2^53 reads as `longAs` says. For a reader that checks types by
   * `types`, not by each value's JS type.
   */
  readonly compact?: boolean
}

export interface ParquetBatch {
  readonly numRows: number
  /** Column name → one JS value per row. */
  readonly columns: Readonly<Record<string, unknown[]>>
  /** Column name → its kfs column type, or undefined when the file's type has no kfs equivalent. */
  readonly types?: Readonly<Record<string, ParquetReadType | undefined>>
}

/** The kfs column type an Arrow type reads back as (see parquet-schema.ts). */
function columnTypeOf(type: arrow.DataType): ParquetReadType | undefined {
  // pyarrow (PyIceberg) stores strings and binaries as the Large variants (64-bit offsets).
  if (arrow.DataType.isUtf8(type) || arrow.DataType.isLargeUtf8(type)) return 'string'
  if (arrow.DataType.isBinary(type) || arrow.DataType.isLargeBinary(type)) return 'binary'
  if (arrow.DataType.isBool(type)) return 'boolean'
  if (arrow.DataType.isTimestamp(type)) return 'timestamptz'
  // Parquet DATE (days) comes as Arrow Date32; its values read as their midnight UTC (./arrow-values.ts).
  if (arrow.DataType.isDate(type)) return 'date'
  if (arrow.DataType.isInt(type)) return (type as arrow.Int).bitWidth === 64 ? 'long' : 'int'
  if (arrow.DataType.isFloat(type)) return 'double'
  if (arrow.DataType.isList(type)) {
    const element = columnTypeOf((type as arrow.List).children[0]!.type)
    return element === 'string' || element === 'long' || element === 'double' ? `list<${element}>` : undefined
  }
  return undefined
}

/** Column names, kfs types (undefined: a type kfs does not read) and field ids where set, from the footer alone. */
export function parquetColumnTypes(bytes: Uint8Array): { name: string; type: ParquetReadType | undefined; fieldId?: number }[] {
  const schema = arrow.tableFromIPC(pw.readSchema(bytes).intoIPCStream()).schema
  return schema.fields.map((f) => {
    const id = f.metadata.get('PARQUET:field_id')
    return { name: f.name, type: columnTypeOf(f.type), ...(id !== undefined && /^\d+$/.test(id) ? { fieldId: Number(id) } : {}) }
  })
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
    const types: Record<string, ParquetReadType | undefined> = {}
    batch.schema.fields.forEach((field, i) => {
      if (wanted !== undefined && !wanted.has(field.name)) return
      const data = batch.data.children[i]!
      const binaryViews = options.binaryViews === true
      columns[field.name] =
        options.compact === true
          ? decodeCompact(data, (d) => decodeArrowValues(d, field.name, longAs, 0, undefined, binaryViews))
          : decodeArrowValues(data, field.name, longAs, 0, undefined, binaryViews)
      types[field.name] = columnTypeOf(field.type)
    })
    yield { numRows: batch.numRows, columns, types }
  }
}

/**
 * The same values as `readParquetBatches`, in cheaper containers (./compact-columns.ts), except
 * that a long beyond 2^53 is a bigint rather than a failure of the whole file: `kfs ingest` reads
 * a table's long columns, which Avro holds whole, as the CSV reader does.
 */
export async function* readCompactParquetBatches(
  bytes: Uint8Array,
  only?: readonly string[],
): AsyncGenerator<{ numRows: number; columns: Record<string, ArrayLike<unknown>> }> {
  // Decoding only the columns asked for: a table's extra column of a type kfs does not read
  // (a decimal, a struct) is then ignored, as ingest promises, instead of failing the whole file.
  const wanted = only === undefined ? undefined : new Set(only)
  for await (const batch of arrowBatches(bytes, undefined)) {
    const columns: Record<string, ArrayLike<unknown>> = {}
    batch.schema.fields.forEach((field, i) => {
      if (wanted !== undefined && !wanted.has(field.name)) return
      columns[field.name] = decodeCompact(batch.data.children[i]!, (data) => decodeArrowValues(data, field.name, 'exact'))
    })
    yield { numRows: batch.numRows, columns }
  }
}

export async function* readParquetRows(bytes: Uint8Array, options: ParquetReadOptions = {}): AsyncGenerator<Record<string, unknown>> {
  for await (const batch of readParquetBatches(bytes, options)) yield* rowsOfBatch(batch)
}

/** A batch's rows as records (column name → value). An array: a reader of many rows pays one async step per batch, not per row. */
export function rowsOfBatch(batch: ParquetBatch): Record<string, unknown>[] {
  const names = Object.keys(batch.columns)
  const rows = new Array<Record<string, unknown>>(batch.numRows)
  for (let i = 0; i < batch.numRows; i++) {
    const row: Record<string, unknown> = {}
    for (const name of names) row[name] = batch.columns[name]![i]
    rows[i] = row
  }
  return rows
}
