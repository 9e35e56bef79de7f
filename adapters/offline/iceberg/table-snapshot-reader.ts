/**
 * TableSnapshotReader (ports/table-snapshots.ts) for `{ format: 'iceberg', table }`: a foreign
 * Iceberg v2 table (written by Spark, PyIceberg, Trino…) on the object store, read at one snapshot
 * (docs/design.md §11).
 *
 * Strategy: resolve the current metadata file (foreign-table-location.ts), pick the snapshot
 * (`at` = its id, else the current one), then manifest list → manifests → the live data files
 * (status added or existing), with kfs's own Avro and metadata decoders. Rows are decoded file by
 * file with the ParquetCodec port, so memory is one data file plus one row group.
 *
 * Only copy-on-write tables read: a live delete file (position or equality deletes, i.e.
 * merge-on-read) would need applying to the data files' rows, which kfs does not do, so such a
 * snapshot is refused rather than read with rows it should not have.
 */
import { FeatureStoreError, SourceError } from '../../../core/errors.ts'
import type { TableLocation } from '../../../features/types.ts'
import type { ObjectStore } from '../../../ports/object-store.ts'
import type { ParquetCodec } from '../../../ports/parquet-codec.ts'
import type { TableColumn, TableRow, TableSnapshot, TableSnapshotReader } from '../../../ports/table-snapshots.ts'
import { columnsOfSchema, fileNamesOf, rowsOfBatch, type ForeignField } from './foreign-table-columns.ts'
import { resolveTableMetadata, storeKeyOf } from './foreign-table-location.ts'
import { decodeManifest, decodeManifestList, type DataFile } from './manifests.ts'
import { parseTableMetadata, specById, type Snapshot, type TableMetadata } from './table-metadata.ts'

export interface IcebergTableSnapshotReaderOptions {
  readonly store: ObjectStore
  readonly parquet: ParquetCodec
}

const MERGE_ON_READ = 'merge-on-read deletes are not supported: compact the table first (e.g. Spark rewrite_data_files with delete-file-threshold=1, or an overwrite)'

function parseForeignMetadata(bytes: Uint8Array, where: string): TableMetadata {
  try {
    return parseTableMetadata(bytes)
  } catch (err: unknown) {
    // The parser's reason (which field, which format version) without the path it does not know.
    const why = err instanceof FeatureStoreError ? `: ${err.message}` : ''
    throw new SourceError('SCHEMA_INCOMPATIBLE', `${where} is not Iceberg format-v2 table metadata${why}`, { cause: err, context: { where } })
  }
}

function snapshotAt(meta: TableMetadata, at: string | undefined, where: string): Snapshot {
  if (at === undefined) {
    const id = meta['current-snapshot-id']
    const current = id < 0n ? undefined : meta.snapshots.find((s) => s['snapshot-id'] === id)
    if (current === undefined) throw new SourceError('NOT_FOUND', `Iceberg table ${where} has no snapshot yet`, { context: { where } })
    return current
  }
  if (!/^-?\d+$/.test(at.trim())) throw new SourceError('BAD_REQUEST', `Iceberg snapshot id must be an integer, got "${at}"`, { context: { at } })
  const id = BigInt(at.trim())
  const found = meta.snapshots.find((s) => s['snapshot-id'] === id)
  if (found === undefined) {
    const known = meta.snapshots.map((s) => String(s['snapshot-id'])).slice(-5)
    throw new SourceError('NOT_FOUND', `Iceberg table ${where} has no snapshot ${at} (latest: ${known.join(', ') || 'none'})`, { context: { where, at } })
  }
  return found
}

/** The snapshot's own schema (the one it was written with), else the table's current one. */
function schemaFieldsOf(meta: TableMetadata, snapshot: Snapshot, where: string): readonly ForeignField[] {
  const schemaId = snapshot['schema-id'] ?? meta['current-schema-id']
  const schema = meta.schemas.find((s) => s['schema-id'] === schemaId)
  if (schema === undefined) throw new SourceError('SCHEMA_INCOMPATIBLE', `Iceberg table ${where} names a missing schema ${schemaId}`, { context: { where, schemaId } })
  return schema.fields as readonly ForeignField[]
}

async function readObject(store: ObjectStore, uri: string, what: string, where: string): Promise<Uint8Array> {
  const bytes = await store.get(storeKeyOf(store, uri))
  if (bytes === undefined) throw new SourceError('OBJECT_NOT_FOUND', `Iceberg table ${where}: ${what} ${uri} is missing`, { context: { where, uri } })
  return bytes
}

/** Live data files of a snapshot, manifests in manifest-list order, entries in manifest order. */
async function liveDataFiles(store: ObjectStore, meta: TableMetadata, snapshot: Snapshot, where: string): Promise<DataFile[]> {
  const manifests = decodeManifestList(await readObject(store, snapshot['manifest-list'], 'manifest list', where), snapshot['manifest-list'])
  // Checked before reading any data manifest: a delete manifest with a live entry means deletes apply.
  if (manifests.some((m) => m.content !== 0 && m.addedFilesCount + m.existingFilesCount > 0)) {
    throw new SourceError('SCHEMA_INCOMPATIBLE', `Iceberg table ${where}, snapshot ${snapshot['snapshot-id']}: ${MERGE_ON_READ}`, { context: { where } })
  }
  const files: DataFile[] = []
  for (const m of manifests) {
    if (m.content !== 0) continue
    const bytes = await readObject(store, m.manifestPath, 'manifest', where)
    for (const entry of decodeManifest(bytes, specById(meta, m.partitionSpecId), m.manifestPath)) {
      if (entry.status !== 2) files.push(entry.dataFile)
    }
  }
  return files
}

function rowCountOf(snapshot: Snapshot): number | undefined {
  const total = snapshot.summary['total-records']
  return total !== undefined && /^\d+$/.test(total) ? Number(total) : undefined
}

export function createIcebergTableSnapshotReader(options: IcebergTableSnapshotReaderOptions): TableSnapshotReader {
  const { store, parquet } = options
  return {
    async open(location: TableLocation, at?: string): Promise<TableSnapshot> {
      if (location.format !== 'iceberg') throw new SourceError('BAD_REQUEST', `the Iceberg reader cannot read a ${location.format} location`)
      const resolved = await resolveTableMetadata(store, location.table)
      const where = store.uriOf(resolved.key)
      const metadata = parseForeignMetadata(resolved.bytes, where)
      const snapshot = snapshotAt(metadata, at, where)
      const fields = schemaFieldsOf(metadata, snapshot, where)
      const columns: readonly TableColumn[] = columnsOfSchema(fields)
      // Listed at open, so a missing manifest or a merge-on-read snapshot is refused before ingest starts.
      const files = await liveDataFiles(store, metadata, snapshot, where)
      return {
        id: String(snapshot['snapshot-id']),
        where,
        columns,
        rowCount: rowCountOf(snapshot),
        async *rows(): AsyncGenerator<readonly TableRow[]> {
          for (const file of files) {
            const bytes = await readObject(store, file.filePath, 'data file', where)
            try {
              const fileNames = fileNamesOf(fields, parquet.columnTypes(bytes))
              const read = { columns: [...fileNames.values()] }
              // The compact read where there is one: its longs beyond 2^53 are bigints (an Avro long holds them), not a failure of the file.
              for await (const batch of parquet.readCompactBatches?.(bytes, read) ?? parquet.readBatches(bytes, read)) {
                if (batch.numRows > 0) yield rowsOfBatch(columns, batch, fileNames)
              }
            } catch (err: unknown) {
              // Only the codec runs in here: whatever it throws is the file's fault, named as such.
              throw new SourceError('BAD_REQUEST', `Iceberg table ${where}: data file ${file.filePath} is not a Parquet file kfs can read (${err instanceof Error ? err.message : String(err)})`, {
                cause: err,
                context: { where, uri: file.filePath },
              })
            }
          }
        },
      }
    },
  }
}
