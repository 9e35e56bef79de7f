/**
 * Reading a feature table back as rows per entity, in archive order (FeatureRowReader.readFeatureRows,
 * ports/feature-rows.ts; tests). `snapshotId`: undefined = current, null = none (empty).
 */
import type { FeatureRow, FeatureViewDef } from '../../../features/types.ts'
import type { ViewVersion } from '../../../ports/offline.ts'
import type { ObjectStore } from '../../../ports/object-store.ts'
import { loadTableIfExists } from './iceberg-table.ts'
import { featureTablePath } from './table-paths.ts'
import { dataFilesOf, decodeLongBound, readRows, snapshotOf } from './table-reader.ts'
import { tableRowToStampedRow } from './table-schemas.ts'

export async function readFeatureRowsByEntity(store: ObjectStore, view: FeatureViewDef, snapshotId?: string | null): Promise<Map<string, FeatureRow[]>> {
  const table = await loadTableIfExists(store, featureTablePath(view))
  const byEntity = new Map<string, { seq: bigint; row: FeatureRow }[]>()
  if (table && snapshotId !== null) {
    const options = snapshotId === undefined ? { longAs: 'bigint' as const } : { longAs: 'bigint' as const, snapshotId: BigInt(snapshotId) }
    for await (const raw of readRows(table, options)) {
      const row = tableRowToStampedRow(view, raw)
      const list = byEntity.get(row.entityKey) ?? []
      const values = row.values.map(unBig)
      list.push({ seq: BigInt(raw.seq as bigint), row: row.deleted ? { entityKey: row.entityKey, asOfMs: row.asOfMs, values, deleted: true } : { entityKey: row.entityKey, asOfMs: row.asOfMs, values } })
      byEntity.set(row.entityKey, list)
    }
  }
  return new Map([...byEntity].map(([k, list]) => [k, list.sort((a, b) => (a.seq < b.seq ? -1 : a.seq > b.seq ? 1 : a.row.asOfMs - b.row.asOfMs)).map((x) => x.row)]))
}

function unBig<T>(v: T): T {
  if (typeof v === 'bigint') return Number(v) as T
  if (Array.isArray(v)) return v.map((x) => (typeof x === 'bigint' ? Number(x) : x)) as T
  return v
}

/** The `as_of` field's id in every feature table (table-schemas.ts). */
const AS_OF_ID = 2

/**
 * The newest `as_of` in a view version's current snapshot, from the data files' upper bounds in
 * the manifests alone (no data file is opened); undefined for a table that does not exist, has no
 * snapshot, or whose files carry no bound.
 */
export async function newestAsOfOfTable(store: ObjectStore, view: ViewVersion): Promise<number | undefined> {
  const table = await loadTableIfExists(store, featureTablePath(view))
  if (!table || snapshotOf(table) === undefined) return undefined
  let newest: bigint | undefined
  for (const file of await dataFilesOf(table)) {
    const bound = decodeLongBound(file.upperBounds?.get(AS_OF_ID))
    if (bound !== undefined && (newest === undefined || bound > newest)) newest = bound
  }
  // Bounds of a timestamptz column are microseconds.
  return newest === undefined ? undefined : Number(newest / 1000n)
}
