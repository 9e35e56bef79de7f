/**
 * Rebuilds the online store from the offline tables, for when it lost its data: the latest row
 * of every entity (greatest as_of, ties by archive order — what the conditional write would have
 * kept) is written back with conditional writes, so fresher live values are never clobbered and
 * TTLs are set anew from the view. `kfs replay --online-from-offline` runs it by hand; `kfs run`
 * runs it by itself when it sees the store lost rows (online-loss-watch.ts).
 *
 * Memory: a feature table is its view's whole history (a row per emission), so the rows are never
 * read whole: each pass streams the table and holds one row per entity of one shard
 * (FeatureRowReader.readLatestFeatureRows), at most `maxEntitiesPerPass` of them. The first pass
 * takes every entity; a pass that finds more gives up and its shard is split, into as many shards
 * as the part of the table it read before giving up says (it saw more than the bound in a fraction
 * f of the rows, so about 1/f times as many in all: a fraction taken early overestimates, which only
 * costs a pass more). A table whose entities fit is read once, as before; a bigger one is read in
 * about entities / bound passes plus the ones given up. The bound is counted in entities, not read
 * from the manifests' row counts: those count a busy view's hundreds of rows per entity, and a pass
 * per bound's worth of rows would read such a table hundreds of times.
 */
import type { FeatureViewDef, StampedRow } from '../features/types.ts'
import type { EntityShard, FeatureRowReader } from '../ports/feature-rows.ts'
import type { OnlineStore } from '../ports/online-store.ts'

/**
 * Entities held by a pass by default: a row of a few features held is a few hundred bytes, so a
 * pass holds some hundreds of MB at most.
 */
export const DEFAULT_MAX_ENTITIES_PER_PASS = 500_000

/** Splits past this many shards would no longer split anything (the shard hash has 32 bits). */
const MOST_SHARDS = 2 ** 32

export async function reloadOnlineFromOffline(options: {
  readonly view: FeatureViewDef
  readonly online: OnlineStore
  /** The view's offline rows, read at the current snapshot (each pass reads the one current then). */
  readonly rows: Pick<FeatureRowReader, 'readLatestFeatureRows'>
  readonly nowMs: number
  readonly batchSize?: number
  /** The most entities one pass over the table holds (default DEFAULT_MAX_ENTITIES_PER_PASS). */
  readonly maxEntitiesPerPass?: number
  /**
   * Entities left out, asked just before each batch is written: those a live engine wrote since the
   * reload began hold a row at least as new as the table's (online-loss-watch.ts). Skipped ones are
   * counted in neither `written` nor `stale`.
   */
  readonly skip?: (entityKey: string) => boolean
}): Promise<{ entities: number; written: number; stale: number }> {
  const batchSize = options.batchSize ?? 1_000
  const maxEntities = options.maxEntitiesPerPass ?? DEFAULT_MAX_ENTITIES_PER_PASS
  if (!(maxEntities >= 1)) throw new RangeError(`maxEntitiesPerPass must be at least 1, not ${maxEntities}`)
  const skip = options.skip
  let batch: StampedRow[] = []
  let entities = 0
  let written = 0
  let stale = 0
  const flush = async () => {
    // Decided in the same turn as the write is sent: a live write begun after it lands after it.
    const rows = skip === undefined ? batch : batch.filter((row) => !skip(row.entityKey))
    batch = []
    if (rows.length === 0) return
    const result = await options.online.writeRows(options.view, rows)
    written += result.written
    stale += result.stale
  }
  // Every pass reads the snapshot current when it starts: an entity is in one shard only, so each
  // gets the latest row of some snapshot, which conditional writes keep from clobbering a fresher one.
  const shards: EntityShard[] = [{ index: 0, of: 1 }]
  for (let shard = shards.shift(); shard !== undefined; shard = shards.shift()) {
    const pass = await options.rows.readLatestFeatureRows(options.view, { shard, maxEntities })
    if (!pass.complete) {
      shards.unshift(...splitShard(shard, pass.rowsRead, pass.rowsInTable))
      continue
    }
    entities += pass.rows.size
    for (const latest of pass.rows.values()) {
      batch.push({ ...latest, createdAtMs: options.nowMs })
      if (batch.length >= batchSize) await flush()
    }
    await flush()
  }
  return { entities, written, stale }
}

/** Shard i of n as k shards of k·n (i + j·n, j < k: together exactly shard i), k ≈ rows / rows read. */
export function splitShard(shard: EntityShard, rowsRead: number, rowsInTable: number): EntityShard[] {
  const wanted = Math.max(2, Math.ceil(rowsInTable / Math.max(1, rowsRead)))
  const k = Math.min(wanted, Math.floor(MOST_SHARDS / shard.of))
  if (k < 2)
    throw new Error(
      `online reload: shard ${shard.index} of ${shard.of} holds more entities than one pass may, and cannot be split further`,
    )
  return Array.from({ length: k }, (_, j) => ({ index: shard.index + j * shard.of, of: k * shard.of }))
}
