/**
 * The ParquetCodec port (ports/parquet-codec.ts) over this folder's writer and reader. Field ids
 * are the columns' positions (1…n) and list elements take the ids after them, in column order (as
 * Iceberg assigns them): the files it writes are scratch and label files, not Iceberg data files,
 * so no table schema assigns them.
 */
import type { ParquetCodec } from '../../../ports/parquet-codec.ts'
import { parquetColumnTypes, parquetFileInfo, readCompactParquetBatches, readParquetBatches } from './parquet-file-reader.ts'
import { encodeParquetColumns } from './parquet-file-writer.ts'

export interface ParquetCodecOptions {
  /** Encode on the shared worker thread (default true); false: in-process, same bytes. */
  readonly worker?: boolean
}

export function createParquetCodec(options: ParquetCodecOptions = {}): ParquetCodec {
  const worker = options.worker === undefined ? {} : { worker: options.worker }
  return {
    async encode(columns, values, encodeOptions = {}) {
      let nextElementId = columns.length + 1
      const specs = columns.map((c, i) => ({
        name: c.name,
        type: c.type,
        fieldId: i + 1,
        required: c.required,
        ...(c.type.startsWith('list<') ? { elementId: nextElementId++ } : {}),
      }))
      return (await encodeParquetColumns(specs, values, { ...encodeOptions, ...worker })).bytes
    },
    columnTypes: (bytes) => parquetColumnTypes(bytes),
    readBatches: (bytes, readOptions = {}) => readParquetBatches(bytes, readOptions.columns === undefined ? {} : { columns: readOptions.columns }),
    readCompactBatches: (bytes, readOptions = {}) => readCompactParquetBatches(bytes, readOptions.columns),
    rowCount: async (bytes) => (await parquetFileInfo(bytes)).rows,
  }
}
