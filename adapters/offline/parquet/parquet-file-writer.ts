/**
 * Encodes rows into one Parquet file (parquet-wasm, ZSTD, data page v1 — the encodings every
 * Iceberg reader, including old Spark vectorized readers, accepts).
 */
import { createYielder, runStepsYielding } from '../../../core/event-loop.ts'
import { buildColumnSteps, type BuiltColumn, type ColumnStats, type ColumnValues, type RowPick } from './arrow-columns.ts'
import { writeParquet } from './parquet-encoder.ts'
import { columnBuffersOf, readParquetFooter, writeParquetBytes, type WasmWriteRequest } from './parquet-wasm-write.ts'
import type { ParquetColumn } from './parquet-schema.ts'

export interface ParquetWriteOptions {
  /** Rows per row group; readers stream one row group at a time, so this bounds their memory. */
  readonly rowGroupRows?: number
  readonly compression?: 'zstd' | 'snappy' | 'none'
  /** Extra footer key/value metadata (e.g. `iceberg.schema`). */
  readonly keyValueMetadata?: Readonly<Record<string, string>>
  /** Encode on the shared worker thread (default true; parquet-encoder.ts); false: in-process, same bytes. */
  readonly worker?: boolean
  /**
   * Columns written PLAIN with no dictionary attempted: for a column of (nearly) all-distinct values
   * a dictionary only adds a lookup per value on every read (a feature table's `seq`).
   */
  readonly plainColumns?: readonly string[]
}

export interface EncodedParquetFile {
  readonly bytes: Uint8Array
  readonly rowCount: number
  /** Per column, in `columns` order. */
  readonly stats: readonly ColumnStats[]
  /** Per column: compressed bytes summed over row groups (Iceberg `column_sizes`). */
  readonly columnSizes: readonly number[]
}

/** `rows` are objects keyed by column name; missing keys are nulls. */
export async function encodeParquetFile(
  columns: readonly ParquetColumn[],
  rows: readonly Readonly<Record<string, unknown>>[],
  options: ParquetWriteOptions = {},
): Promise<EncodedParquetFile> {
  return encodeBuilt(columns, rows.length, () => buildColumns(columns, (c) => rows.map((r) => r[c.name])), options)
}

/**
 * Same as `encodeParquetFile`, from one JS array (or Float64Array of numbers, no null) of values per column (no row objects); with `at`,
 * of the rows at those indices of the arrays, in that order (no copy of each column per file).
 */
export async function encodeParquetColumns(
  columns: readonly ParquetColumn[],
  values: readonly ColumnValues[],
  options: ParquetWriteOptions = {},
  at?: readonly number[],
): Promise<EncodedParquetFile> {
  const length = values[0]?.length ?? 0
  if (values.length !== columns.length || values.some((v) => v.length !== length)) {
    throw new RangeError('one value array per column, all of the same length')
  }
  if (at !== undefined && at.some((i) => !(i >= 0 && i < length))) throw new RangeError('a picked row is not in the value arrays')
  return encodeBuilt(columns, at === undefined ? length : at.length, () => buildColumns(columns, (_, i) => values[i]!, at), options)
}

/**
 * Builds the Arrow columns on this thread, letting the event loop run between columns and between
 * slices of 1,024 rows of a column once a few milliseconds have passed: a checkpoint encodes tens
 * of thousands of rows here while the engine keeps writing online rows, and one uninterrupted build
 * of every column was the freshness tail (100–300 ms with no online write); so was one column of
 * a checkpoint's first file, before V8 had optimised the build (up to ~90 ms). The bytes do not
 * depend on where the yields fall.
 */
async function buildColumns(columns: readonly ParquetColumn[], valuesOf: (column: ParquetColumn, i: number) => ColumnValues, at?: RowPick): Promise<BuiltColumn[]> {
  const yieldNowAndThen = createYielder(4)
  const built: BuiltColumn[] = []
  const sources: ColumnValues[] = []
  for (let i = 0; i < columns.length; i++) {
    const column = columns[i]!
    const values = valuesOf(column, i)
    sources.push(values)
    built.push(builtBefore(columns, sources, built, i) ?? (await runStepsYielding(buildColumnSteps(column, values, at), yieldNowAndThen)))
    await yieldNowAndThen()
  }
  return built
}

/**
 * An earlier column built from the very same values array with the same type (a feature table's
 * single string join key is its `entity_key` column): the same Arrow data and counts, built once.
 * A required column takes it only when it holds no null.
 */
function builtBefore(columns: readonly ParquetColumn[], sources: readonly ColumnValues[], built: readonly BuiltColumn[], i: number): BuiltColumn | undefined {
  const column = columns[i]!
  for (let j = 0; j < i; j++) {
    if (sources[j] !== sources[i] || columns[j]!.type !== column.type) continue
    if (column.required && built[j]!.data.nullCount > 0) continue
    return built[j]
  }
  return undefined
}

/**
 * Hands the built columns to the Parquet writer as their buffers: on the worker (default) they are
 * transferred, not copied, and the Arrow IPC stream the wasm writer reads is made there — on this
 * thread it was a copy of every buffer. A transferred buffer is gone from here, so if the worker
 * fails the columns are built again for the in-process writer: the same function, so the same
 * bytes — a failed worker costs time, not bytes.
 */
async function encodeBuilt(
  columns: readonly ParquetColumn[],
  rowCount: number,
  build: () => Promise<BuiltColumn[]>,
  options: ParquetWriteOptions,
): Promise<EncodedParquetFile> {
  const built = await build()
  const request = (from: readonly BuiltColumn[]): WasmWriteRequest => ({
    table: { columns, rowCount, buffers: from.map((b) => columnBuffersOf(b.data)) },
    compression: options.compression ?? 'zstd',
    rowGroupRows: options.rowGroupRows ?? 65_536,
    columnCount: columns.length,
    ...(options.keyValueMetadata === undefined ? {} : { keyValueMetadata: options.keyValueMetadata }),
    ...(options.plainColumns === undefined ? {} : { plainColumns: options.plainColumns }),
  })
  const written = await writeParquet(request(built), options.worker === undefined ? {} : { worker: options.worker }).catch(async () => writeParquetBytes(request(await build())))
  return { bytes: written.bytes, rowCount, stats: built.map((b) => b.stats), columnSizes: written.columnSizes }
}

export { readParquetFooter }
