/**
 * The data files of a feature table at one snapshot, as local paths an engine can open
 * (FeatureRowReader.pinFeatureFiles, ports/feature-rows.ts): a local object store's files are used
 * in place; any other store's (S3, memory) are copied into a temp directory first. Pinning the
 * snapshot id is what makes a training set rebuildable. What the writer vouches for about the
 * snapshot's rows comes along (writer-facts.ts), read from its summary and manifests alone.
 */
import { mkdir, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { FeatureStoreError } from '../../../core/errors.ts'
import type { ObjectStore } from '../../../ports/object-store.ts'
import type { PinnedFeatureFiles } from '../../../ports/feature-rows.ts'
import { loadTableOrNone } from './damaged-table.ts'
import { keyOfTableUri } from './iceberg-table.ts'
import { currentSchema } from './table-metadata.ts'
import { dataFilesOf, snapshotOf } from './table-reader.ts'
import { tieKeyBoundsOf } from './writer-facts.ts'

/**
 * `snapshotId`: `undefined` = the current snapshot; `null` = the table had no snapshot when the
 * training set was first built (so it reads as empty).
 */
export async function pinTable(store: ObjectStore, tableId: string, snapshotId: string | null | undefined, tempDir: string): Promise<PinnedFeatureFiles> {
  if (snapshotId === null) return { snapshotId: null, files: [] }
  // No table yet reads as empty; a damaged one (refused here) read so would give every label a null where it has rows.
  const table = await loadTableOrNone(store, tableId)
  if (table === undefined) {
    if (snapshotId !== undefined) throw new FeatureStoreError('NOT_FOUND', `table ${tableId} is gone; the training set cannot be rebuilt`, { context: { table: tableId } })
    return { snapshotId: null, files: [] }
  }
  if (snapshotId !== undefined && !table.metadata.snapshots.some((s) => String(s['snapshot-id']) === snapshotId)) {
    // Expired (kfs compact keeps the snapshots recorded training sets pinned, but not those of a
    // set recorded elsewhere or pinned by hand): refused, never read at another snapshot.
    throw new FeatureStoreError(
      'NOT_FOUND',
      `snapshot ${snapshotId} of table ${tableId} is no longer kept (snapshot expiry removed it, or it never was one of this table's): the training set cannot be rebuilt with the rows it was built from`,
      { context: { table: tableId, snapshotId } },
    )
  }
  const snapshot = snapshotOf(table, snapshotId === undefined ? undefined : BigInt(snapshotId))
  if (snapshot === undefined) return { snapshotId: null, files: [] }
  const id = snapshot['snapshot-id']
  const files = await dataFilesOf(table, id)
  const tieKeyBounds = tieKeyBoundsOf(currentSchema(table.metadata), snapshot.summary, files)
  const local = store.rootUri.startsWith('file://')
  const paths: string[] = []
  let n = 0
  for (const f of files) {
    // The file's place in this store, not the path its metadata was written with: in a moved data
    // folder that is gone, in a copy it is the original's (table-locations.ts).
    const key = keyOfTableUri(table, f.filePath)
    if (local) {
      const path = store.uriOf(key).slice('file://'.length)
      // The engine opens it later, and says only "No files found" (a bug's stack trace, to the CLI).
      if (!(await isFile(path))) throw missingDataFile(tableId, f.filePath)
      paths.push(path)
      continue
    }
    const bytes = await store.get(key)
    if (bytes === undefined) throw missingDataFile(tableId, f.filePath)
    const dir = join(tempDir, tableId.replaceAll('/', '_'))
    await mkdir(dir, { recursive: true })
    const path = join(dir, `${n++}.parquet`)
    await writeFile(path, bytes)
    paths.push(path)
  }
  return { snapshotId: String(id), files: paths, ...(tieKeyBounds === undefined ? {} : { tieKeyBounds }) }
}

function missingDataFile(tableId: string, file: string): FeatureStoreError {
  return new FeatureStoreError('OBJECT_NOT_FOUND', `data file ${file} of ${tableId} is missing`, {
    context: { table: tableId, file },
  })
}

/** Whether `path` is a file; a path that is not there (or a directory) is not, any other failure is the system's error. */
async function isFile(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile()
  } catch (err: unknown) {
    const code = (err as { code?: unknown }).code
    if (code === 'ENOENT' || code === 'ENOTDIR') return false
    throw err
  }
}
