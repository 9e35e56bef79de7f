/**
 * Rows a feature table already holds, so a slot does not append them again (docs/semantics.md §14,
 * "A view dropped and added again", "A checkpoint older than the tables"). Each checkpoint's commit
 * records, per writer and partition, the archive position its rows reach (roll-forward.ts,
 * `kfs.rows-through.…`). A slot recomputes rows a table may hold already in two cases: a view the
 * partition's checkpoint does not know is caught up from the archive — from offset 0, or from its
 * backfill's position — but may have run before (a deploy dropped it and a rollback brings it back;
 * or it was adopted from its backfill, dropped, and re-added); and a slot restored from a checkpoint
 * older than its tables' newest commit (a checkpoint store restored from a backup, the newest record
 * deleted or lost) recomputes every row between the two. Rows come out in archive order and are
 * deterministic, whoever wrote them, so every view keeps offline only the rows at or past the
 * highest such position of its table, and none of the dead letters of the records before it. The
 * online store takes every row again: its writes are conditional on `as_of`, so the rows it holds
 * stay, and it ends with each key's last row.
 */
import type { FeatureRow, FeatureViewDef } from '../features/types.ts'
import type { OfflineCatalog } from '../ports/offline.ts'
import type { DeadLetter } from '../ports/dead-letters.ts'
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

/** What the tables a slot writes hold of its partition: read once, when the slot is restored. */
export interface HeldByTables {
  /**
   * Per view of the slot, in its order: the position before which the view's table holds its rows of
   * the partition, by whichever writer (the live group, the view's backfill); undefined when it holds
   * none, or the view has no offline table.
   */
  readonly rowsThrough: readonly (bigint | undefined)[]
  /** The offset before which the topic's archive holds the partition's records; undefined when the slot does not archive, or it holds none. */
  readonly archivedThrough: bigint | undefined
  /** The highest checkpoint seq of `writer` (the slot's own marker name) those tables were committed with; 0 for none. */
  readonly committedSeq: number
}

/**
 * Reads the last snapshot of every table the slot writes — each offline view's feature table and,
 * when it archives, the topic's archive — once: the positions they hold of `topic`/`partition`.
 */
export async function heldByTables(
  catalog: OfflineCatalog,
  at: {
    readonly topic: string
    readonly partition: number
    readonly views: readonly FeatureViewDef[]
    readonly archive: boolean
  },
  writer: string,
): Promise<HeldByTables> {
  // A marker name is `<group>/<topic>/<partition>`; a topic name holds no '/'.
  const suffix = `/${at.topic}/${at.partition}`
  let committedSeq = 0
  const through = async (tableId: string): Promise<bigint | undefined> => {
    const last = (await catalog.snapshots(tableId)).at(-1)
    if (last === undefined) return undefined
    committedSeq = Math.max(committedSeq, last.markers[writer] ?? 0)
    let highest: bigint | undefined
    for (const [name, position] of Object.entries(last.rowsThrough)) {
      if (!name.endsWith(suffix)) continue
      const value = BigInt(position)
      if (highest === undefined || value > highest) highest = value
    }
    return highest
  }
  const rowsThrough: (bigint | undefined)[] = []
  for (const view of at.views)
    rowsThrough.push(view.offline ? await through(catalog.tableId({ kind: 'feature', view })) : undefined)
  // An archive commit records its checkpoint's next offset (`kfs.offset.…`), read as that offset's position.
  const archived = at.archive ? await through(catalog.tableId({ kind: 'archive', topic: at.topic })) : undefined
  return { rowsThrough, archivedThrough: archived === undefined ? undefined : archived >> 21n, committedSeq }
}

/**
 * What one view's table holds of the partition, as a filter of the view's output: rows before
 * `rowsThrough` and the view's dead letters of records before its offset are dropped (a checkpoint
 * that reached it was published, and a publish waits for the dead letters before its cut). A view
 * emits rows and refusals in archive order, so the first one at or past the position ends the
 * filter: from then on the output passes untouched, at no cost.
 */
export class HeldOutput {
  #rowsFrom: bigint | undefined
  #lettersFrom: bigint | undefined

  constructor(rowsThrough: bigint | undefined) {
    this.#rowsFrom = rowsThrough === undefined || rowsThrough === 0n ? undefined : rowsThrough
    const offset = rowsThrough === undefined ? 0n : rowsThrough >> 21n
    this.#lettersFrom = offset === 0n ? undefined : offset
  }

  /** `keep`, taking only the rows at or past the held position. */
  keeper(keep: RowKeeper | undefined): RowKeeper | undefined {
    if (keep === undefined || this.#rowsFrom === undefined) return keep
    return {
      push: (row, createdAtMs, offset, rowIndex) => {
        const from = this.#rowsFrom
        if (from !== undefined) {
          if (rowPosition(offset, rowIndex) < from) return
          this.#rowsFrom = undefined
        }
        keep.push(row, createdAtMs, offset, rowIndex)
      },
    }
  }

  /** `letters` (the view's refusals, in offset order) without those of records before the held offset. */
  letters(letters: DeadLetter[]): DeadLetter[] {
    const from = this.#lettersFrom
    if (from === undefined || letters.length === 0) return letters
    const kept = letters.filter((l) => BigInt(l.offset) >= from)
    if (kept.length > 0) this.#lettersFrom = undefined
    return kept
  }
}
