/**
 * Each entity's latest row of a feature table, streamed (FeatureRowReader.readLatestFeatureRows,
 * ports/feature-rows.ts): the snapshot's data files are read one batch at a time and only the best
 * row so far of each entity of the shard is kept — the row readFeatureRowsByEntity (./feature-rows.ts)
 * would give last: greatest archive position, and of rows equal in it the one read last. A feature
 * table is its view's whole history, a row per emission, so reading it whole to keep one row per
 * entity held hundreds of rows for each row kept (the online reload ran out of memory on big tables).
 */
import type { FeatureRow, FeatureViewDef } from '../../../features/types.ts'
import { entityShardOf, type LatestFeatureRows, type LatestFeatureRowsOptions } from '../../../ports/feature-rows.ts'
import type { ObjectStore } from '../../../ports/object-store.ts'
import { createYielder } from '../../../core/event-loop.ts'
import { loadTableOrNone } from './damaged-table.ts'
import { checkedShard, compareArchivePlace, placedRowOf, rowAt } from './feature-rows.ts'
import { featureTablePath } from './table-paths.ts'
import { dataFilesOf, readDataFileBatches } from './table-reader.ts'

/** What a pass holds after each batch it read (tests observe the bound with it). */
export interface LatestRowsProgress {
  /** Rows read so far, of every shard. */
  readonly rowsRead: number
  /** Entities held, each with one row. */
  readonly entitiesHeld: number
}

export async function readLatestFeatureRowsOf(
  store: ObjectStore,
  view: FeatureViewDef,
  options: LatestFeatureRowsOptions = {},
  observe?: (progress: LatestRowsProgress) => void,
): Promise<LatestFeatureRows> {
  const { index, of } = checkedShard(options.shard)
  const maxEntities = options.maxEntities ?? Infinity
  // Two maps, not one of {seq, row}: the rows map is the answer as it stands, no copy at the end.
  const rows = new Map<string, FeatureRow>()
  const seqs = new Map<string, bigint | null>()
  const table = await loadTableOrNone(store, featureTablePath(view))
  if (table === undefined || options.snapshotId === null) return { complete: true, rows }
  const files = await dataFilesOf(table, options.snapshotId === undefined ? undefined : BigInt(options.snapshotId))
  const rowsInTable = files.reduce((n, f) => n + f.recordCount, 0)
  // A pass is seconds of CPU on a big table, run inside a live engine: it lets the engine in now and then.
  const yieldNowAndThen = createYielder(4)
  let rowsRead = 0
  for (const file of files) {
    for await (const batch of readDataFileBatches(table, file, { longAs: 'bigint' })) {
      const keys = batch.columns.entity_key as readonly string[]
      const seqColumn = batch.columns.seq as readonly (bigint | null | undefined)[] | undefined
      const asOfs = batch.columns.as_of as readonly number[]
      for (let i = 0; i < batch.numRows; i++) {
        const key = keys[i]!
        if (of > 1 && entityShardOf(key, of) !== index) continue
        const raw = seqColumn?.[i]
        const seq = raw === null || raw === undefined ? null : BigInt(raw)
        const held = rows.get(key)
        if (held === undefined) {
          if (rows.size >= maxEntities) return { complete: false, rowsRead: rowsRead + i + 1, rowsInTable }
        } else if (compareArchivePlace(seq, asOfs[i]!, seqs.get(key)!, held.asOfMs) < 0) continue
        // Not earlier in archive order: on a tie the row read later wins, as readFeatureRows' stable sort has it.
        rows.set(key, placedRowOf(view, rowAt(batch, i)).row)
        seqs.set(key, seq)
      }
      rowsRead += batch.numRows
      observe?.({ rowsRead, entitiesHeld: rows.size })
      await yieldNowAndThen()
    }
  }
  return { complete: true, rows }
}
