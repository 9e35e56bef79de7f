/**
 * Parquet files — Iceberg's data files and the ParquetCodec port (ports/parquet-codec.ts): the only
 * folder that imports parquet-wasm and apache-arrow. Depends on core/ and ports/ only; knows
 * nothing about Iceberg beyond field ids.
 */
export { type ParquetColumn, type ParquetColumnType, type ParquetScalarType } from './parquet-schema.ts'
export { type ColumnStats, type ColumnValues } from './arrow-columns.ts'
export { encodeParquetFile, encodeParquetColumns, readParquetFooter, type EncodedParquetFile, type ParquetWriteOptions } from './parquet-file-writer.ts'
export { readParquetBatches, readParquetRows, rowsOfBatch, parquetFileInfo, parquetColumnTypes, type ParquetBatch, type ParquetReadOptions } from './parquet-file-reader.ts'
export { createParquetCodec, type ParquetCodecOptions } from './parquet-codec.ts'
