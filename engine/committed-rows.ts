/**
 * Rows a feature table already holds, so a catch-up does not append them again (docs/semantics.md
 * §14, "A view dropped and added again"). A view the partition's checkpoint does not know is caught
 * up from the archive — from offset 0, or from its backfill's position — but the view may have been
 * running before: a deploy dropped it, and a rollback brings it back; or it was adopted from its
 * backfill, dropped, and re-added. Its table then holds the rows it committed then. Each checkpoint's
 * commit records, per writer and partition, the archive position its rows reach (roll-forward.ts,
 * `kfs.rows-through.…`); a catch-up recomputes every row in archive order and keeps offline only
 * the rows at or past the highest such position. The online store takes every row again: its
 * writes are conditional on `as_of`, so the rows it holds stay, and it ends with each key's last row.
 */
import type { FeatureRow, FeatureViewDef } from '../features/types.ts'
import type { OfflineCatalog } from '../ports/offline.ts'
import type { PartitionCheckpoint } from './checkpoint-store.ts'

/** The seq column's saturation (docs/semantics.md §12): past it, rows at one offset share a position. */
const MAX_ROW_INDEX = 0x1fffff

/** Where a view's rows of one partition are kept: the slot's buffer for the next checkpoint. */
export interface RowKeeper {
  push(row: FeatureRow, createdAtMs: number, offset: string, rowIndex: number): void
}

/** The archive position of the `rowIndex`-th row emitted at `offset`: `offset · 2^21 + index`. */
export function rowPosition(offset: string, rowIndex: number): bigint {
  return (BigInt(offset) << 21n) + BigInt(Math.min(rowIndex, MAX_ROW_INDEX))
}

/**
 * Per feature table `record` stages, where the record's rows of that view end: its next offset and
 * the rows its view emitted there already (`rowsAtNextOffset`), as `kfs.rows-through.<name>`.
 */
export function rowsThroughSummaries(
  record: PartitionCheckpoint,
  catalog: OfflineCatalog,
  name: string,
): Map<string, Record<string, string>> {
  const out = new Map<string, Record<string, string>>()
  for (const saved of record.views) {
    const at = saved.view.lastIndexOf('@')
    const view = { name: saved.view.slice(0, at), version: Number(saved.view.slice(at + 1)) }
    const position = rowPosition(record.nextOffset, saved.rowsAtNextOffset ?? 0)
    out.set(catalog.tableId({ kind: 'feature', view }), { [`kfs.rows-through.${name}`]: position.toString() })
  }
  return out
}

/**
 * The position before which `view`'s table holds its rows of `topic`/`partition`, by whichever
 * writer (the live group, the view's backfill); undefined when it holds none.
 */
export async function committedRowsThrough(
  catalog: OfflineCatalog,
  view: FeatureViewDef,
  topic: string,
  partition: number,
): Promise<bigint | undefined> {
  if (!view.offline) return undefined
  const last = (await catalog.snapshots(catalog.tableId({ kind: 'feature', view }))).at(-1)
  if (last === undefined) return undefined
  // A marker name is `<group>/<topic>/<partition>`; a topic name holds no '/'.
  const suffix = `/${topic}/${partition}`
  let through: bigint | undefined
  for (const [name, position] of Object.entries(last.rowsThrough)) {
    if (!name.endsWith(suffix)) continue
    const value = BigInt(position)
    if (through === undefined || value > through) through = value
  }
  return through
}

/** `keep`, taking only the rows at or past `through` (the ones before it are in the table). */
export function skippingCommitted(keep: RowKeeper | undefined, through: bigint | undefined): RowKeeper | undefined {
  if (keep === undefined || through === undefined || through === 0n) return keep
  return {
    push(row, createdAtMs, offset, rowIndex) {
      if (rowPosition(offset, rowIndex) >= through) keep.push(row, createdAtMs, offset, rowIndex)
    },
  }
}
