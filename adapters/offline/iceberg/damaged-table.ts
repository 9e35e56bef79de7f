/**
 * A table with objects under its path but no table metadata that can be found (its
 * `v<N>.metadata.json` files deleted, or answered "not found") is damaged, not absent: reading it
 * as no table gives an empty answer where it holds rows, and creating a table there would put an
 * empty one over its files. Callers that would treat "no table" as empty or create one load
 * through loadTableOrNone.
 */
import { FeatureStoreError } from '../../../core/errors.ts'
import type { ObjectStore } from '../../../ports/object-store.ts'
import { loadTableIfExists, type IcebergTable } from './iceberg-table.ts'

export function damagedTableError(path: string): FeatureStoreError {
  return new FeatureStoreError(
    'OBJECT_NOT_FOUND',
    `table ${path} has files but no table metadata that can be found: it is damaged; restore its metadata from a copy`,
    { context: { table: path } },
  )
}

/**
 * The table at `path`; undefined when nothing is stored there; damagedTableError when files are
 * there but no metadata. Loaded once more before that verdict: a creator racing this read may have
 * written its first metadata since.
 */
export async function loadTableOrNone(store: ObjectStore, path: string): Promise<IcebergTable | undefined> {
  const table = await loadTableIfExists(store, path)
  if (table !== undefined) return table
  if ((await store.list(`${path}/`)).length === 0) return undefined
  const created = await loadTableIfExists(store, path)
  if (created !== undefined) return created
  throw damagedTableError(path)
}
