/**
 * Rebuilds the online store from the offline tables, for when it lost its data: the latest row
 * of every entity (greatest as_of, ties by archive order — what the conditional write would have
 * kept) is written back with conditional writes, so fresher live values are never clobbered and
 * TTLs are set anew from the view. `kfs replay --online-from-offline` runs it by hand; `kfs run`
 * runs it by itself when it sees the store lost rows (online-loss-watch.ts).
 */
import type { FeatureViewDef, StampedRow } from '../features/types.ts'
import type { FeatureRowReader } from '../ports/feature-rows.ts'
import type { OnlineStore } from '../ports/online-store.ts'

export async function reloadOnlineFromOffline(options: {
  readonly view: FeatureViewDef
  readonly online: OnlineStore
  /** The view's offline rows, read at the current snapshot. */
  readonly rows: Pick<FeatureRowReader, 'readFeatureRows'>
  readonly nowMs: number
  readonly batchSize?: number
  /**
   * Entities left out, asked just before each batch is written: those a live engine wrote since the
   * reload began hold a row at least as new as the table's (online-loss-watch.ts). Skipped ones are
   * counted in neither `written` nor `stale`.
   */
  readonly skip?: (entityKey: string) => boolean
}): Promise<{ entities: number; written: number; stale: number }> {
  const byEntity = await options.rows.readFeatureRows(options.view)
  const batchSize = options.batchSize ?? 1_000
  const skip = options.skip
  let batch: StampedRow[] = []
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
  for (const rows of byEntity.values()) {
    // Rows are in archive order and a key's as_of never decreases, so the last row is the latest.
    const latest = rows.at(-1)
    if (!latest) continue
    batch.push({ ...latest, createdAtMs: options.nowMs })
    if (batch.length >= batchSize) await flush()
  }
  await flush()
  return { entities: byEntity.size, written, stale }
}
