/**
 * Reading kfs Iceberg tables: snapshots, the live data files of a snapshot (manifest list →
 * manifests → entries with status existing/added), and rows streamed file by file, row group by
 * row group (bounded memory). Time travel = pass a snapshot id.
 */
import { FeatureStoreError, SinkWriteError } from '../../../core/errors.ts'
import { createYielder, runStepsYielding } from '../../../core/event-loop.ts'
import { readParquetBatches, rowsOfBatch, type ParquetBatch, type ParquetReadOptions } from '../parquet/index.ts'
import { keyOfTableUri, manifestsOf, type IcebergTable } from './iceberg-table.ts'
import { decodeManifestSteps, type DataFile, type ManifestEntry, type ManifestFile } from './manifests.ts'
import { currentSnapshot, specById, type Snapshot } from './table-metadata.ts'

export function listSnapshots(table: IcebergTable): readonly Snapshot[] {
  return table.metadata.snapshots
}

/** The snapshot with this id, or the current one; undefined for a table with no snapshot. */
export function snapshotOf(table: IcebergTable, snapshotId?: bigint): Snapshot | undefined {
  if (snapshotId === undefined) return currentSnapshot(table.metadata)
  const s = table.metadata.snapshots.find((x) => x['snapshot-id'] === snapshotId)
  // A read pinned to a snapshot (a backfill, verify-parity, a replay --snapshot-id) that expiry has
  // removed since is refused by name — never read at another snapshot.
  if (s === undefined)
    throw new SinkWriteError('OBJECT_NOT_FOUND', `table ${table.path} has no snapshot ${snapshotId} (snapshot expiry removed it, or it never was one of this table's)`, {
      context: { table: table.path, snapshotId: String(snapshotId) },
    })
  return s
}

export interface LiveEntry extends ManifestEntry {
  /** Effective data sequence number (inherited from the manifest when the entry has none). */
  readonly dataSequenceNumber: bigint
  readonly specId: number
}

/** Live (existing or added) entries of a snapshot, manifests in manifest-list order. */
export async function liveEntriesOf(table: IcebergTable, snapshotId?: bigint): Promise<LiveEntry[]> {
  const out: LiveEntry[] = []
  const yieldNowAndThen = createYielder(4)
  for (const m of await manifestsOf(table, snapshotOf(table, snapshotId))) for (const e of await liveEntriesOfManifest(table, m, yieldNowAndThen)) out.push(e)
  return out
}

/**
 * Live entries of one manifest of the table, in its order. Decoding pauses now and then
 * (`yieldNowAndThen`): a merged manifest is tens of thousands of entries, seconds of CPU that a
 * live engine catching a view up from the archive, or a server, must not spend in one go.
 */
export async function liveEntriesOfManifest(table: IcebergTable, m: ManifestFile, yieldNowAndThen: () => Promise<void> = createYielder(4)): Promise<LiveEntry[]> {
  if (m.content !== 0) throw new SinkWriteError('SINK_REJECTED', 'delete manifests are not supported by the kfs reader')
  const bytes = await table.store.get(keyOfTableUri(table, m.manifestPath))
  if (bytes === undefined) throw new SinkWriteError('OBJECT_NOT_FOUND', `manifest ${m.manifestPath} is missing`)
  const spec = specById(table.metadata, m.partitionSpecId)
  const out: LiveEntry[] = []
  for (const e of await runStepsYielding(decodeManifestSteps(bytes, spec, m.manifestPath), yieldNowAndThen)) {
    if (e.status === 2) continue
    out.push({ ...e, dataSequenceNumber: e.sequenceNumber ?? m.sequenceNumber, specId: m.partitionSpecId })
  }
  return out
}

export async function dataFilesOf(table: IcebergTable, snapshotId?: bigint): Promise<DataFile[]> {
  return (await liveEntriesOf(table, snapshotId)).map((e) => e.dataFile)
}

async function fileBytes(table: IcebergTable, file: DataFile): Promise<Uint8Array> {
  const bytes = await table.store.get(keyOfTableUri(table, file.filePath))
  if (bytes === undefined) throw new SinkWriteError('OBJECT_NOT_FOUND', `data file ${file.filePath} is missing`, { context: { file: file.filePath } })
  return bytes
}

/**
 * `read`'s items, where a failure to decode the file (bytes damaged on disk or in transit: the
 * Parquet reader's own error, "External: Error strings stripped" at best) is reported as that
 * file's, named — not as an unexpected error of whatever command was reading the table.
 */
async function* decodedFrom<T>(file: DataFile, read: AsyncIterable<T>): AsyncGenerator<T> {
  try {
    yield* read
  } catch (err: unknown) {
    // kfs's own refusals of a value (a long beyond 2^53 read as a number) keep their code, and say which file.
    if (err instanceof FeatureStoreError) throw new SinkWriteError(err.code, `data file ${file.filePath}: ${err.message}`, { cause: err, context: { ...err.context, file: file.filePath } })
    throw new SinkWriteError('DATA_CORRUPT', `data file ${file.filePath} does not read as Parquet (${err instanceof Error ? err.message : String(err)}): the file is damaged; restore it from a copy`, {
      cause: err,
      context: { file: file.filePath },
    })
  }
}

export async function* readDataFileBatches(table: IcebergTable, file: DataFile, options: ParquetReadOptions = {}): AsyncGenerator<ParquetBatch> {
  const bytes = await fileBytes(table, file)
  yield* decodedFrom(file, readParquetBatches(bytes, options))
}

/** A data file's rows, a batch of them at a time. */
export async function* readDataFileRowBatches(table: IcebergTable, file: DataFile, options: ParquetReadOptions = {}): AsyncGenerator<Record<string, unknown>[]> {
  for await (const batch of readDataFileBatches(table, file, options)) yield rowsOfBatch(batch)
}

export interface ReadRowsOptions extends ParquetReadOptions {
  readonly snapshotId?: bigint
  /** Keep only files whose partition tuple passes (e.g. a day range); cheap pruning. */
  readonly partitionFilter?: (partition: readonly (number | null)[]) => boolean
}

/** All rows of a snapshot, file by file in manifest order. */
export async function* readRows(table: IcebergTable, options: ReadRowsOptions = {}): AsyncGenerator<Record<string, unknown>> {
  for (const file of await dataFilesOf(table, options.snapshotId)) {
    if (options.partitionFilter !== undefined && !options.partitionFilter(file.partition)) continue
    // Rows taken out of a batch here, not yielded through a generator per row for each layer: a
    // verify-parity of a big table reads millions of them.
    for await (const rows of readDataFileRowBatches(table, file, options)) for (const row of rows) yield row
  }
}

/** Decodes an 8-byte little-endian long/timestamptz bound (µs for timestamptz). */
export function decodeLongBound(bytes: Uint8Array | undefined): bigint | undefined {
  if (bytes === undefined || bytes.length !== 8) return undefined
  return new DataView(bytes.buffer, bytes.byteOffset, 8).getBigInt64(0, true)
}
