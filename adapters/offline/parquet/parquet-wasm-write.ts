/** The wasm half of writing a Parquet file; runs in the encode worker or, as a fallback, in-process. */
import * as arrow from 'apache-arrow'
import * as pw from 'parquet-wasm/node'
import { arrowSchemaOf, type ParquetColumn } from './parquet-schema.ts'

/**
 * One built Arrow column as its buffers (what `arrow.makeData` takes back): structured-cloneable,
 * so the column reaches the worker with its buffers transferred, not serialized.
 */
export interface ColumnBuffers {
  readonly length: number
  readonly nullCount: number
  readonly nullBitmap: Uint8Array | null
  readonly valueOffsets?: Int32Array
  readonly data?: ArrayBufferView
  readonly child?: ColumnBuffers
}

/** The table to write: columns (schema) and their buffers, one per column. */
export interface ColumnarTable {
  readonly columns: readonly ParquetColumn[]
  readonly rowCount: number
  readonly buffers: readonly ColumnBuffers[]
}

export interface WasmWriteRequest {
  /** The table as an Arrow IPC stream … */
  readonly ipc?: Uint8Array
  /** … or as column buffers, turned into that stream where the file is written. */
  readonly table?: ColumnarTable
  readonly compression: 'zstd' | 'snappy' | 'none'
  readonly rowGroupRows: number
  readonly keyValueMetadata?: Readonly<Record<string, string>>
  readonly columnCount: number
  /** Columns written PLAIN, with no dictionary attempted (ParquetWriteOptions.plainColumns). */
  readonly plainColumns?: readonly string[]
}

export interface WasmWriteResult {
  readonly bytes: Uint8Array
  /** Per column: compressed bytes summed over row groups (Iceberg `column_sizes`). */
  readonly columnSizes: number[]
}

const COMPRESSION = { zstd: pw.Compression.ZSTD, snappy: pw.Compression.SNAPPY, none: pw.Compression.UNCOMPRESSED } as const

export function columnBuffersOf(data: arrow.Data): ColumnBuffers {
  const child = data.children[0]
  return {
    length: data.length,
    nullCount: data.nullCount,
    nullBitmap: data.nullCount > 0 ? (data.nullBitmap ?? null) : null,
    ...(data.valueOffsets === undefined || data.valueOffsets === null ? {} : { valueOffsets: data.valueOffsets as Int32Array }),
    ...(child === undefined ? (data.values === undefined || data.values === null ? {} : { data: data.values as ArrayBufferView }) : { child: columnBuffersOf(child) }),
  }
}

function dataOf(type: arrow.DataType, b: ColumnBuffers): arrow.Data {
  const child = b.child === undefined ? {} : { child: dataOf((type as arrow.List).children[0]!.type, b.child) }
  return arrow.makeData({ type, length: b.length, nullCount: b.nullCount, nullBitmap: b.nullBitmap, valueOffsets: b.valueOffsets, data: b.data, ...child } as never)
}

/** The Arrow IPC stream of a columnar table (what `tableToIPC` gives for the built columns). */
export function ipcOf(table: ColumnarTable): Uint8Array {
  const schema = arrowSchemaOf(table.columns)
  const children = schema.fields.map((f, i) => dataOf(f.type, table.buffers[i]!))
  const struct = arrow.makeData({ type: new arrow.Struct(schema.fields), length: table.rowCount, nullCount: 0, children })
  return arrow.tableToIPC(new arrow.Table([new arrow.RecordBatch(schema, struct)]), 'stream')
}

/** The distinct ArrayBuffers under a request: what posting it to the worker transfers. */
export function transferablesOf(request: WasmWriteRequest): ArrayBuffer[] {
  const out = new Set<ArrayBuffer>()
  if (request.ipc !== undefined) out.add(request.ipc.buffer as ArrayBuffer)
  const add = (b: ColumnBuffers): void => {
    for (const view of [b.nullBitmap, b.valueOffsets, b.data]) if (view !== null && view !== undefined) out.add(view.buffer as ArrayBuffer)
    if (b.child !== undefined) add(b.child)
  }
  for (const b of request.table?.buffers ?? []) add(b)
  return [...out]
}

export async function writeParquetBytes(request: WasmWriteRequest): Promise<WasmWriteResult> {
  const ipc = request.ipc ?? ipcOf(request.table as ColumnarTable)
  const table = pw.Table.fromIPCStream(ipc)
  let builder = new pw.WriterPropertiesBuilder()
    .setCompression(COMPRESSION[request.compression])
    .setWriterVersion(pw.WriterVersion.V1)
    .setMaxRowGroupSize(request.rowGroupRows)
    .setCreatedBy('kfs')
  if (request.keyValueMetadata !== undefined) builder = builder.setKeyValueMetadata(new Map(Object.entries(request.keyValueMetadata)))
  for (const name of request.plainColumns ?? []) builder = builder.setColumnDictionaryEnabled(name, false).setColumnEncoding(name, pw.Encoding.PLAIN)
  const bytes = pw.writeParquet(table, builder.build())
  return { bytes, columnSizes: await columnSizesOf(bytes, request.columnCount) }
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
