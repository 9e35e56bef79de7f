/**
 * Reading a feature table back as rows per entity, in archive order (FeatureRowReader.readFeatureRows,
 * ports/feature-rows.ts; tests). `snapshotId`: undefined = current, null = none (empty).
 */
import type { FeatureRow, FeatureViewDef } from '../../../features/types.ts'
import type { ViewVersion } from '../../../ports/offline.ts'
import { entityShardOf, type EntityShard, type FeatureTableStats } from '../../../ports/feature-rows.ts'
import type { ObjectStore } from '../../../ports/object-store.ts'
import { createYielder } from '../../../core/event-loop.ts'
import type { ParquetBatch } from '../parquet/index.ts'
import { loadTableOrNone } from './damaged-table.ts'
import { currentSchema } from './table-metadata.ts'
import { featureTablePath } from './table-paths.ts'
import { manifestsOf, type IcebergTable } from './iceberg-table.ts'
import type { ManifestFile } from './manifests.ts'
import { dataFilesOf, decodeLongBound, liveEntriesOfManifest, readDataFileBatches, snapshotOf, type LiveEntry } from './table-reader.ts'
import { tableRowToStampedRow } from './table-schemas.ts'

/** What a read holds after each batch it read (tests observe the bound with it). */
export interface FeatureRowsProgress {
  /** Rows read so far, of every shard. */
  readonly rowsRead: number
  /** Rows held: those of the shard's entities read so far. */
  readonly rowsHeld: number
}

/**
 * The rows of the entities of `shard` (default: all), streamed a batch at a time: a row of another
 * shard is skipped on its entity key alone, before it is decoded, so a pass holds its shard's rows
 * and never the table's.
 */
export async function readFeatureRowsByEntity(
  store: ObjectStore,
  view: FeatureViewDef,
  snapshotId?: string | null,
  options: { readonly shard?: EntityShard; readonly observe?: (progress: FeatureRowsProgress) => void } = {},
): Promise<Map<string, FeatureRow[]>> {
  const { index, of } = checkedShard(options.shard)
  const table = await loadTableOrNone(store, featureTablePath(view))
  const byEntity = new Map<string, PlacedRow[]>()
  if (table && snapshotId !== null) {
    let rowsRead = 0
    let rowsHeld = 0
    for (const file of await dataFilesOf(table, snapshotId === undefined ? undefined : BigInt(snapshotId))) {
      for await (const batch of readDataFileBatches(table, file, { longAs: 'bigint' })) {
        const keys = batch.columns.entity_key as readonly string[]
        for (let i = 0; i < batch.numRows; i++) {
          if (of > 1 && entityShardOf(keys[i]!, of) !== index) continue
          const placed = placedRowOf(view, rowAt(batch, i))
          const list = byEntity.get(placed.row.entityKey) ?? []
          list.push(placed)
          byEntity.set(placed.row.entityKey, list)
          rowsHeld++
        }
        rowsRead += batch.numRows
        options.observe?.({ rowsRead, rowsHeld })
      }
    }
  }
  // A stable sort: rows equal in seq and as_of stay in the order the files hold them.
  return new Map([...byEntity].map(([k, list]) => [k, list.sort(compareArchiveOrder).map((x) => x.row)]))
}

/** The shard a read asked for (default: every entity, shard 0 of 1), refused when it names none. */
export function checkedShard(shard: EntityShard | undefined): EntityShard {
  const { index, of } = shard ?? { index: 0, of: 1 }
  if (!Number.isSafeInteger(of) || of < 1 || !Number.isSafeInteger(index) || index < 0 || index >= of) throw new RangeError(`no shard ${index} of ${of}`)
  return { index, of }
}

/** Row `i` of a batch as a table row (column name → value). */
export function rowAt(batch: ParquetBatch, i: number): Record<string, unknown> {
  const row: Record<string, unknown> = {}
  for (const name in batch.columns) row[name] = batch.columns[name]![i]
  return row
}

/** A feature row with its archive position: `seq` (null in a table written without one) and as_of. */
export interface PlacedRow {
  readonly seq: bigint | null
  readonly row: FeatureRow
}

/** A table row as read (longs as bigints) as a feature row with its place in archive order. */
export function placedRowOf(view: FeatureViewDef, raw: Readonly<Record<string, unknown>>): PlacedRow {
  const row = tableRowToStampedRow(view, raw)
  const values = row.values.map(unBig)
  const seq = raw.seq === null || raw.seq === undefined ? null : BigInt(raw.seq as bigint)
  return { seq, row: row.deleted ? { entityKey: row.entityKey, asOfMs: row.asOfMs, values, deleted: true } : { entityKey: row.entityKey, asOfMs: row.asOfMs, values } }
}

/**
 * Archive order (ports/feature-rows.ts): by seq, a null seq before every other (as the training
 * join's tie key, adapters/duckdb/tie-key.ts: a table's rows without one were written before it
 * had one), then by as_of; 0 for rows the files' order decides.
 */
export function compareArchiveOrder(a: PlacedRow, b: PlacedRow): number {
  return compareArchivePlace(a.seq, a.row.asOfMs, b.seq, b.row.asOfMs)
}

/** compareArchiveOrder on the two rows' seq and as_of alone. */
export function compareArchivePlace(aSeq: bigint | null, aAsOfMs: number, bSeq: bigint | null, bAsOfMs: number): number {
  if (aSeq !== bSeq) {
    if (aSeq === null) return -1
    if (bSeq === null) return 1
    return aSeq < bSeq ? -1 : 1
  }
  return aAsOfMs - bAsOfMs
}

function unBig<T>(v: T): T {
  if (typeof v === 'bigint') return Number(v) as T
  if (Array.isArray(v)) return v.map((x) => (typeof x === 'bigint' ? Number(x) : x)) as T
  return v
}

/** The `as_of` field's id in every feature table (table-schemas.ts). */
const AS_OF_ID = 2

/** What one manifest's live entries add to a feature table's stats. */
interface ManifestStats {
  readonly rows: number
  /** The largest `as_of` upper bound of its files, in microseconds. */
  readonly newest: bigint | undefined
  /** Null counts by field id, summed over its files. */
  readonly nulls: ReadonlyMap<number, number>
}

/**
 * The stats of the manifests each table's current snapshot listed when last asked. A manifest is
 * written once under a name of its own and never changed, so its stats are read once: `kfs serve`
 * asks for every view's stats every 15 s while a catalog page is open, and reading every manifest
 * each time decoded every data file's entry of the table — a file per checkpoint per partition,
 * 241,920 after a week of four partitions, seconds of the server's thread per view and refresh.
 * Only the manifests of the snapshot last read are kept, so it holds ~100 entries a table.
 */
export class FeatureTableStatsCache {
  readonly #byTable = new Map<string, ReadonlyMap<string, ManifestStats>>()

  /** The table's manifests' stats, read only for those not listed at the last call. */
  async statsOf(table: IcebergTable, manifests: readonly ManifestFile[]): Promise<ManifestStats[]> {
    const known = this.#byTable.get(table.path)
    const current = new Map<string, ManifestStats>()
    const yieldNowAndThen = createYielder(4)
    for (const m of manifests) current.set(m.manifestPath, known?.get(m.manifestPath) ?? manifestStatsOf(await liveEntriesOfManifest(table, m, yieldNowAndThen)))
    this.#byTable.set(table.path, current)
    return [...current.values()]
  }
}

function manifestStatsOf(entries: readonly LiveEntry[]): ManifestStats {
  let rows = 0
  let newest: bigint | undefined
  const nulls = new Map<number, number>()
  for (const { dataFile } of entries) {
    rows += dataFile.recordCount
    const bound = decodeLongBound(dataFile.upperBounds?.get(AS_OF_ID))
    if (bound !== undefined && (newest === undefined || bound > newest)) newest = bound
    for (const [id, n] of dataFile.nullValueCounts ?? []) nulls.set(id, (nulls.get(id) ?? 0) + n)
  }
  return { rows, newest, nulls }
}

/**
 * A view version's current snapshot (or the pinned one) in numbers, from the manifests alone (no data file is opened):
 * the newest `as_of` (the data files' upper bounds), the row count and each feature's nulls (the
 * files' column statistics); undefined for a table that does not exist or has no snapshot.
 */
export async function featureTableStatsOf(
  store: ObjectStore,
  view: ViewVersion & Pick<FeatureViewDef, 'features'>,
  cache: FeatureTableStatsCache = new FeatureTableStatsCache(),
  snapshotId?: string | null,
): Promise<FeatureTableStats | undefined> {
  const table = snapshotId === null ? undefined : await loadTableOrNone(store, featureTablePath(view))
  const snapshot = table === undefined ? undefined : snapshotOf(table, snapshotId === undefined ? undefined : BigInt(snapshotId!))
  if (!table || snapshot === undefined) return undefined
  // A pinned snapshot's manifests are read apart: the cache keeps the current one's (a status page's).
  if (snapshotId !== undefined) cache = new FeatureTableStatsCache()
  // Lists are left out: their statistics count null elements, not null lists.
  const fieldIds = new Map(currentSchema(table.metadata).fields.filter((f) => typeof f.type === 'string').map((f) => [f.name, f.id]))
  let newest: bigint | undefined
  let rows = 0
  const nulls: Record<string, number> = Object.fromEntries(view.features.filter((f) => fieldIds.has(f.name)).map((f) => [f.name, 0]))
  for (const stats of await cache.statsOf(table, await manifestsOf(table, snapshot))) {
    rows += stats.rows
    if (stats.newest !== undefined && (newest === undefined || stats.newest > newest)) newest = stats.newest
    for (const name of Object.keys(nulls)) nulls[name] = (nulls[name] ?? 0) + (stats.nulls.get(fieldIds.get(name)!) ?? 0)
  }
  // Bounds of a timestamptz column are microseconds.
  return { ...(newest === undefined ? {} : { newestAsOfMs: Number(newest / 1000n) }), rows, nullsByFeature: nulls }
}
