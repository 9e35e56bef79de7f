/**
 * Encodes rows into one Parquet file (parquet-wasm, ZSTD, data page v1 — the encodings every
 * Iceberg reader, including old Spark vectorized readers, accepts).
 */
import * as arrow from 'apache-arrow'
import * as pw from 'parquet-wasm/node'
import { buildColumn, type ColumnStats } from './arrow-columns.ts'
import { arrowSchemaOf, type ParquetColumn } from './parquet-schema.ts'

export interface ParquetWriteOptions {
  /** Rows per row group; readers stream one row group at a time, so this bounds their memory. */
  readonly rowGroupRows?: number
  readonly compression?: 'zstd' | 'snappy' | 'none'
  /** Extra footer key/value metadata (e.g. `iceberg.schema`). */
  readonly keyValueMetadata?: Readonly<Record<string, string>>
}

export interface EncodedParquetFile {
  readonly bytes: Uint8Array
  readonly rowCount: number
  /** Per column, in `columns` order. */
  readonly stats: readonly ColumnStats[]
  /** Per column: compressed bytes summed over row groups (Iceberg `column_sizes`). */
  readonly columnSizes: readonly number[]
}

const COMPRESSION = { zstd: pw.Compression.ZSTD, snappy: pw.Compression.SNAPPY, none: pw.Compression.UNCOMPRESSED } as const

/** `rows` are objects keyed by column name; missing keys are nulls. */
export async function encodeParquetFile(
  columns: readonly ParquetColumn[],
  rows: readonly Readonly<Record<string, unknown>>[],
  options: ParquetWriteOptions = {},
): Promise<EncodedParquetFile> {
  const built = columns.map((c) => buildColumn(c, rows.map((r) => r[c.name])))
  return encodeBuilt(columns, rows.length, built, options)
}

/** Same as `encodeParquetFile`, from one JS array of values per column (no row objects). */
export async function encodeParquetColumns(
  columns: readonly ParquetColumn[],
  values: readonly (readonly unknown[])[],
  options: ParquetWriteOptions = {},
): Promise<EncodedParquetFile> {
  const rowCount = values[0]?.length ?? 0
  if (values.length !== columns.length || values.some((v) => v.length !== rowCount)) {
    throw new RangeError('one value array per column, all of the same length')
  }
  return encodeBuilt(columns, rowCount, columns.map((c, i) => buildColumn(c, values[i]!)), options)
}

async function encodeBuilt(
  columns: readonly ParquetColumn[],
  rowCount: number,
  built: readonly ReturnType<typeof buildColumn>[],
  options: ParquetWriteOptions,
): Promise<EncodedParquetFile> {
  const schema = arrowSchemaOf(columns)
  const struct = arrow.makeData({ type: new arrow.Struct(schema.fields), length: rowCount, nullCount: 0, children: built.map((b) => b.data) })
  const table = new arrow.Table([new arrow.RecordBatch(schema, struct)])
  const wasmTable = pw.Table.fromIPCStream(arrow.tableToIPC(table, 'stream'))
  let builder = new pw.WriterPropertiesBuilder()
    .setCompression(COMPRESSION[options.compression ?? 'zstd'])
    .setWriterVersion(pw.WriterVersion.V1)
    .setMaxRowGroupSize(options.rowGroupRows ?? 65_536)
    .setCreatedBy('kfs')
  if (options.keyValueMetadata !== undefined) builder = builder.setKeyValueMetadata(new Map(Object.entries(options.keyValueMetadata)))
  const bytes = pw.writeParquet(wasmTable, builder.build())
  return { bytes, rowCount, stats: built.map((b) => b.stats), columnSizes: await columnSizesOf(bytes, columns.length) }
}

async function columnSizesOf(bytes: Uint8Array, columnCount: number): Promise<number[]> {
  const sizes = new Array<number>(columnCount).fill(0)
  const meta = await readParquetFooter(bytes)
  try {
    for (const rg of meta.rowGroups()) {
      const cols = rg.columns()
      // One leaf per column (lists have a single leaf), so leaf index = column index.
      for (let i = 0; i < cols.length && i < columnCount; i++) sizes[i]! += cols[i]!.compressedSize()
    }
  } finally {
    meta.free()
  }
  return sizes
}

/** The footer only: parquet-wasm parses the thrift FileMetaData without decoding any page. */
export async function readParquetFooter(bytes: Uint8Array): Promise<pw.ParquetMetaData> {
  const file = await pw.ParquetFile.fromFile(new Blob([bytes]))
  try {
    return file.metadata()
  } finally {
    file.free()
  }
}
