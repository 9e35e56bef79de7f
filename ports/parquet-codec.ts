/**
 * Parquet files as columns of JS values: what training/ reads label files with and writes the
 * files a PointInTimeJoiner reads (label keys, request features, skew-report labels). Adapter:
 * adapters/offline/parquet. Parquet is part of the contract, not a detail: the joiner's inputs and
 * a training set's output are Parquet files users open with their own tools.
 *
 * Column types and their JS values (both directions):
 * | type          | Parquet                              | JS value                              |
 * |---------------|--------------------------------------|---------------------------------------|
 * | `string`      | BYTE_ARRAY (UTF-8)                   | string                                |
 * | `binary`      | BYTE_ARRAY                           | Uint8Array                            |
 * | `int`         | INT32                                | number                                |
 * | `long`        | INT64                                | number (a value past 2^53 rejects)    |
 * | `double`      | DOUBLE                               | number                                |
 * | `timestamptz` | INT64 TIMESTAMP(MICROS, UTC)         | epoch **ms** number (µs floored)      |
 * | `boolean`     | BOOLEAN                              | boolean                               |
 * | `list<T>`     | LIST of required T                   | array of T                            |
 * | `date`        | INT32 DATE (read only)               | epoch ms of its midnight UTC (number) |
 * null is null in every column that is not `required`.
 *
 * Guarantees: what `encode` wrote, `readBatches` reads back equal, in row order; the same columns,
 * values and options give the same bytes (training-set rebuilds compare files by sha256).
 * Reading streams one row group at a time, so memory is bounded by the row-group size plus the
 * file's bytes.
 *
 * Failure modes: `encode` rejects with a RangeError when the value arrays do not match the columns
 * in number or length, and with SINK_REJECTED for a value its column's type cannot hold (a null in
 * a required column, a fraction in a `long`); reading rejects bytes that are not Parquet. A column
 * of a type outside the table above is reported as `undefined` by `columnTypes`.
 */

export type ParquetScalarType = 'string' | 'binary' | 'int' | 'long' | 'double' | 'timestamptz' | 'boolean'
export type ParquetColumnType = ParquetScalarType | 'list<string>' | 'list<long>' | 'list<double>'
/**
 * The types a file's columns are reported as: those `encode` writes, and dates, which kfs never
 * writes but reads from the files users export (a DATE event time, as CSV and Iceberg dates are).
 */
export type ParquetReadType = ParquetColumnType | 'date'

export interface ParquetColumnSpec {
  readonly name: string
  readonly type: ParquetColumnType
  /** A required column holds no nulls. */
  readonly required: boolean
}

export interface ParquetEncodeOptions {
  /** Rows per row group (readers hold one at a time); the adapter's default otherwise. */
  readonly rowGroupRows?: number
  /** Default zstd; `none` for scratch files read once. */
  readonly compression?: 'zstd' | 'snappy' | 'none'
}

export interface ParquetBatchOfColumns {
  readonly numRows: number
  /** Column name → one JS value per row. */
  readonly columns: Readonly<Record<string, readonly unknown[]>>
}

export interface ParquetCompactBatch {
  readonly numRows: number
  /** Column name → one value per row (index it; no array methods). */
  readonly columns: Readonly<Record<string, ArrayLike<unknown>>>
}

export interface ParquetCodec {
  /** One Parquet file from one array of values per column, in `columns` order (all of one length). */
  encode(columns: readonly ParquetColumnSpec[], values: readonly (readonly unknown[])[], options?: ParquetEncodeOptions): Promise<Uint8Array>
  /**
   * Every column's name and type, in file order, from the footer alone; with its Parquet
   * `field_id` where the writer set one (Iceberg writers do: a column renamed later keeps its id).
   */
  columnTypes(bytes: Uint8Array): readonly { readonly name: string; readonly type: ParquetReadType | undefined; readonly fieldId?: number }[]
  /** The file's rows in batches, only `columns` (default all) decoded. */
  readBatches(bytes: Uint8Array, options?: { readonly columns?: readonly string[] }): AsyncIterable<ParquetBatchOfColumns>
  /**
   * The same rows and values as `readBatches` of every column, decoded in fewer steps where the
   * adapter can (`kfs ingest` reads a million rows once); each column is only promised to be
   * indexable. A `long` beyond 2^53 is a bigint here, not a rejection of the file. Only
   * `columns` (default all) are decoded: a column of a type outside the table above fails the read
   * only when it is asked for. Optional.
   */
  readCompactBatches?(bytes: Uint8Array, options?: { readonly columns?: readonly string[] }): AsyncIterable<ParquetCompactBatch>
  /** The file's row count, from the footer alone. Optional. */
  rowCount?(bytes: Uint8Array): Promise<number>
}
