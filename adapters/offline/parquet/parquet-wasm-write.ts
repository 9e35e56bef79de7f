/** The wasm half of writing a Parquet file; runs in the encode worker or, as a fallback, in-process. */
import * as pw from 'parquet-wasm/node'

export interface WasmWriteRequest {
  /** The table as an Arrow IPC stream. */
  readonly ipc: Uint8Array
  readonly compression: 'zstd' | 'snappy' | 'none'
  readonly rowGroupRows: number
  readonly keyValueMetadata?: Readonly<Record<string, string>>
  readonly columnCount: number
}

export interface WasmWriteResult {
  readonly bytes: Uint8Array
  /** Per column: compressed bytes summed over row groups (Iceberg `column_sizes`). */
  readonly columnSizes: number[]
}

const COMPRESSION = { zstd: pw.Compression.ZSTD, snappy: pw.Compression.SNAPPY, none: pw.Compression.UNCOMPRESSED } as const

export async function writeParquetBytes(request: WasmWriteRequest): Promise<WasmWriteResult> {
  const table = pw.Table.fromIPCStream(request.ipc)
  let builder = new pw.WriterPropertiesBuilder()
    .setCompression(COMPRESSION[request.compression])
    .setWriterVersion(pw.WriterVersion.V1)
    .setMaxRowGroupSize(request.rowGroupRows)
    .setCreatedBy('kfs')
  if (request.keyValueMetadata !== undefined) builder = builder.setKeyValueMetadata(new Map(Object.entries(request.keyValueMetadata)))
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
