/**
 * The offline side's adapters, chosen in one place: Iceberg tables on the object store behind the
 * writer, archive, feature-row and compaction ports; Parquet behind the codec; DuckDB behind the
 * point-in-time join. Another offline store is wired here and nowhere else.
 */
import { join } from 'node:path'
import type { FeatureRowReader } from '../ports/feature-rows.ts'
import type { ObjectStore } from '../ports/object-store.ts'
import type { OfflineSink } from '../ports/offline.ts'
import type { OfflineCompactor } from '../ports/offline-compaction.ts'
import type { SnapshotLogReader } from '../ports/snapshot-log.ts'
import type { ParquetCodec } from '../ports/parquet-codec.ts'
import type { LabelReader } from '../ports/label-reader.ts'
import type { PointInTimeJoiner } from '../ports/point-in-time-joiner.ts'
import type { TrainingEngine } from '../ports/training-engine.ts'
import type { TableColumn, TableSnapshotReader } from '../ports/table-snapshots.ts'
import type { Clock } from '../core/clock.ts'
import type { TableLocation } from '../features/types.ts'
import { createFileTableReader } from '../adapters/tables/file-table-reader.ts'
import { IcebergOfflineSink } from '../adapters/offline/iceberg/offline-sink.ts'
import type { AutomaticExpiry } from '../adapters/offline/iceberg/automatic-expiry.ts'
import type { CompactionScheduler } from '../adapters/offline/iceberg/automatic-compaction.ts'
import { createIcebergTableSnapshotReader } from '../adapters/offline/iceberg/table-snapshot-reader.ts'
import { createParquetCodec } from '../adapters/offline/parquet/parquet-codec.ts'

/** Everything kfs does with its offline tables: write and archive, read back, compact, time travel. */
export type OfflineStore = OfflineSink & FeatureRowReader & OfflineCompactor & SnapshotLogReader

export interface OfflineAdapterOptions {
  /** Encode Parquet on the shared worker thread (KfsConfig.parquetWorker); default true. */
  readonly parquetWorker?: boolean
}

/**
 * `clock`: what the tables' commit retries back off on (the runtime's); the system clock by default.
 * `storeRetryAttempts`: the bound of `store`'s own retries, when its calls are retried already
 * (IcebergOfflineSinkOptions). `snapshotExpiry`: expire old snapshots every so many commits.
 * `automaticCompaction`: compact old day partitions of the feature tables and old archive files after commits.
 */
export function createOfflineStore(
  store: ObjectStore,
  options: OfflineAdapterOptions & { readonly clock?: Clock; readonly storeRetryAttempts?: number; readonly snapshotExpiry?: AutomaticExpiry; readonly automaticCompaction?: CompactionScheduler } = {},
): OfflineStore {
  return new IcebergOfflineSink(store, {
    ...(options.parquetWorker === undefined ? {} : { parquetWorker: options.parquetWorker }),
    ...(options.snapshotExpiry === undefined ? {} : { snapshotExpiry: options.snapshotExpiry }),
    ...(options.automaticCompaction === undefined ? {} : { automaticCompaction: options.automaticCompaction }),
    ...(options.clock === undefined ? {} : { clock: options.clock }),
    ...(options.storeRetryAttempts === undefined ? {} : { storeRetryAttempts: options.storeRetryAttempts }),
  })
}

/** What training sets and skew reports need besides the registry (training/create-training-set.ts). */
export interface TrainingAdapters {
  readonly featureRows: FeatureRowReader
  readonly parquet: ParquetCodec
  readonly createJoiner: (tempDir: string) => Promise<PointInTimeJoiner>
  /** Label files of any Parquet types (pandas, polars, Spark) and typed CSV labels (ports/label-reader.ts). */
  readonly openLabelReader: () => Promise<LabelReader>
  /** A label reader and a joiner on one engine, for a whole training-set build (ports/training-engine.ts). */
  readonly openTrainingEngine: (tempDir: string) => Promise<TrainingEngine>
}

export function trainingAdapters(featureRows: FeatureRowReader, options: OfflineAdapterOptions = {}): TrainingAdapters {
  return {
    featureRows,
    parquet: createParquetCodec(options.parquetWorker === undefined ? {} : { worker: options.parquetWorker }),
    // Loaded on first use: DuckDB is a native module that only training sets and skew reports need.
    createJoiner: async (tempDir) => (await import('../adapters/duckdb/duckdb-joiner.ts')).createDuckDbJoiner({ tempDirectory: join(tempDir, 'spill') }),
    openLabelReader: async () => (await import('../adapters/duckdb/duckdb-label-reader.ts')).createDuckDbLabelReader(),
    openTrainingEngine: async (tempDir) => (await import('../adapters/duckdb/duckdb-training-engine.ts')).createDuckDbTrainingEngine({ tempDirectory: join(tempDir, 'spill') }),
  }
}

/**
 * The reader of a table source's snapshots (`kfs ingest`, docs/design.md §11): Parquet and CSV
 * files through adapters/tables (Parquet decoded by the codec above). `columns` are the declared
 * row's, which type CSV cells; relative paths are resolved from `cwd`.
 */
export function tableSnapshotReader(
  location: TableLocation,
  options: OfflineAdapterOptions & { readonly columns: readonly TableColumn[]; readonly cwd: string; readonly store: ObjectStore },
): TableSnapshotReader {
  // An Iceberg table lives on the configured object store, beside kfs's own tables.
  if (location.format === 'iceberg') return createIcebergTableSnapshotReader({ store: options.store, parquet: createParquetCodec(options.parquetWorker === undefined ? {} : { worker: options.parquetWorker }) })
  return createFileTableReader({
    parquet: createParquetCodec(options.parquetWorker === undefined ? {} : { worker: options.parquetWorker }),
    columns: options.columns,
    cwd: options.cwd,
  })
}
