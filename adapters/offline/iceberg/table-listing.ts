/**
 * Every Iceberg table kfs keeps in its object store, named (issue #17 item 5, docs/design.md §6–§7).
 * The store is the truth: a table exists iff it has metadata under `warehouse/features/*` or
 * `warehouse/archive/*` (table-paths.ts), so view versions no longer in the module and archives of
 * internal re-key topics are listed too. Names are Iceberg identifiers in one namespace, `kfs`:
 * a view version's table is `<view>_v<N>` (its path's last part), an archive `archive_<topic>`
 * with every character that is not a letter, digit or `_` made `_` — engines split identifiers on
 * `.`, and topic names (re-key topics always) carry dots.
 */
import type { ObjectStore } from '../../../ports/object-store.ts'
import { loadTableIfExists, metadataKey, tableLocation } from './iceberg-table.ts'
import { JOIN_KEYS_PROPERTY } from './join-key-columns.ts'
import { currentSchema, type TableMetadata } from './table-metadata.ts'

export const KFS_NAMESPACE = 'kfs'

export interface StoredTable {
  /** Table name inside the `kfs` namespace, e.g. `user_clicks_v1`, `archive_clicks`. */
  readonly name: string
  readonly kind: 'feature' | 'archive'
  /** Store key prefix, e.g. `warehouse/features/user_clicks_v1`. */
  readonly path: string
  /** Table location URI where the table is now (its metadata's until a commit records a moved data folder: table-locations.ts). */
  readonly location: string
  /** The current `v<N>.metadata.json` URI: what a catalog's `metadata-location` holds. */
  readonly metadataLocation: string
  /** Store key of that file. */
  readonly metadataKey: string
  /** A feature table's view version. */
  readonly view?: { readonly name: string; readonly version: number }
  /** An archive table's topic. */
  readonly topic?: string
  /** A feature table's typed join-key columns, in entity-key order; none in tables created before kfs 0.2. */
  readonly joinKeys?: readonly JoinKeyColumnType[]
}

export interface JoinKeyColumnType {
  readonly name: string
  /** The column's Iceberg type: `string` or `long`. */
  readonly type: string
}

const TABLE_KEY = /^(warehouse\/(features|archive)\/[^/]+)\/metadata\//

/** The table paths present in the store, sorted (one listing of `warehouse/`). */
export async function listTablePaths(store: ObjectStore): Promise<string[]> {
  const paths = new Set<string>()
  for (const key of await store.list('warehouse/')) {
    const m = TABLE_KEY.exec(key)
    if (m !== null) paths.add(m[1]!)
  }
  return [...paths].sort()
}

export function archiveTableName(topic: string): string {
  return `archive_${topic.replace(/[^A-Za-z0-9_]/g, '_')}`
}

/**
 * Every table with its current metadata; names made unique (`_2`, `_3`… in path order) if two
 * topics sanitize alike. A path with objects under `metadata/` but no table metadata that can be
 * found (deleted, or answered "not found") is a damaged table: passed to `onDamaged`, which may
 * throw (`kfs tables`: a listing without it would be a wrong answer), and otherwise left out.
 */
export async function listStoredTables(
  store: ObjectStore,
  options: { readonly onDamaged?: (path: string) => void } = {},
): Promise<StoredTable[]> {
  const tables: StoredTable[] = []
  const taken = new Set<string>()
  for (const path of await listTablePaths(store)) {
    const table = await loadTableIfExists(store, path)
    if (table === undefined) {
      options.onDamaged?.(path)
      continue
    }
    const base = path.slice(path.lastIndexOf('/') + 1)
    const props = table.metadata.properties
    const kind = path.startsWith('warehouse/features/') ? 'feature' : 'archive'
    const topic = kind === 'archive' ? (props['kfs.topic'] ?? base) : undefined
    let name = topic === undefined ? base : archiveTableName(topic)
    for (let n = 2; taken.has(name); n++) name = `${topic === undefined ? base : archiveTableName(topic)}_${n}`
    taken.add(name)
    const key = metadataKey(path, table.version)
    const view = kind === 'feature' ? viewOf(props, base) : undefined
    tables.push({
      name,
      kind,
      path,
      location: tableLocation(table),
      metadataLocation: store.uriOf(key),
      metadataKey: key,
      ...(view === undefined ? {} : { view }),
      ...(topic === undefined ? {} : { topic }),
      ...(kind === 'feature' ? { joinKeys: joinKeysOf(table.metadata) } : {}),
    })
  }
  return tables
}

function viewOf(props: Readonly<Record<string, string>>, base: string): { name: string; version: number } | undefined {
  const version = Number(props['kfs.version'])
  if (props['kfs.view'] !== undefined && Number.isSafeInteger(version)) return { name: props['kfs.view'], version }
  const m = /^(.+)_v(\d+)$/.exec(base)
  return m === null ? undefined : { name: m[1]!, version: Number(m[2]) }
}

/** The columns `kfs.join-keys` names that the current schema has (a hand-edited table may lack some). */
function joinKeysOf(metadata: TableMetadata): JoinKeyColumnType[] {
  const names = metadata.properties[JOIN_KEYS_PROPERTY]
  if (names === undefined || names === '') return []
  const fields = currentSchema(metadata).fields
  return names.split(',').flatMap((name) => {
    const field = fields.find((f) => f.name === name)
    return field === undefined || typeof field.type !== 'string' ? [] : [{ name, type: field.type }]
  })
}
