/**
 * Iceberg format-v2 tables on an ObjectStore (docs/design.md §6–§7): create/load, append commits with
 * optimistic concurrency, data-file writing, reading and time travel, compaction, and the table
 * schemas of the engine. Depends on core/, ports/ (types) and adapters/offline/parquet only.
 */
export { createTable, loadTable, loadTableIfExists, refreshTable, tableLocation, metadataKey, type IcebergTable, type CommitOptions, type CommitResult, type CommitStatus, type CreateTableOptions } from './iceberg-table.ts'
export { appendFiles, type AppendOptions } from './append-files.ts'
export { writeDataFiles, partitionOf, partitionPath, formatDay, type TableRow, type WriteDataFilesOptions } from './data-file-writer.ts'
export { listSnapshots, snapshotOf, dataFilesOf, liveEntriesOf, readRows, readDataFileRowBatches, readDataFileBatches, decodeLongBound, type ReadRowsOptions } from './table-reader.ts'
export { compactPartitions, type CompactionOptions, type CompactionResult } from './compaction.ts'
export { expireSnapshots, snapshotsToKeep, type ExpiryOptions, type ExpiryResult } from './snapshot-expiry.ts'
export {
  featureTableSchema,
  featureTablePartitionSpec,
  featureRowToTableRow,
  tableRowToStampedRow,
  RAW_ARCHIVE_SCHEMA,
  RAW_ARCHIVE_PARTITION_SPEC,
  archiveFilesInOffsetOrder,
  type ArchiveRow,
} from './table-schemas.ts'
export { dayPartitionSpec, UNPARTITIONED, type IcebergSchema, type IcebergField, type PartitionSpec } from './iceberg-schema.ts'
export { type DataFile } from './manifests.ts'
export { type Snapshot, type TableMetadata, currentSnapshot } from './table-metadata.ts'
