/**
 * How the Redis store's writer splits packed rows into script calls of ROWS_PER_CALL rows: in
 * order on a single node; per hash slot on a Cluster, where one script call must stay in one slot.
 * On a single node the calls go out in pipelines of CALLS_PER_PIPELINE, and both the packing and
 * the sending let the event loop run between slices (`yieldNowAndThen`, core/event-loop.ts).
 */
import calculateSlot from 'cluster-key-slot'
import type { StampedRow } from '../../../features/types.ts'
import { ROWS_PER_CALL } from './write-row-script.ts'

export interface PackedRow {
  readonly row: StampedRow
  readonly key: string
  readonly packed: string
}

/**
 * Script calls per pipeline. One pipeline is written to the socket in one synchronous step (its
 * commands joined into one string); a backlog of thousands of rows after a stall used to go out as
 * one, so packing and writing it (~15 µs a row) was one macrotask of tens of milliseconds during
 * which no other partition's batch, Redis reply or timer ran. 16 calls of 32 rows: ~8 ms at most.
 */
export const CALLS_PER_PIPELINE = 16

/** Rows packed between two chances to yield (packing is ~7 µs a row). */
const ROWS_PER_PACK_SLICE = 256

/** `rows` packed in order, `yieldNowAndThen` awaited between slices of ROWS_PER_PACK_SLICE. */
export async function packInSlices<T>(
  rows: readonly T[],
  pack: (row: T) => PackedRow,
  yieldNowAndThen: () => Promise<void>,
): Promise<PackedRow[]> {
  const packed: PackedRow[] = []
  for (let i = 0; i < rows.length; i++) {
    if (i > 0 && i % ROWS_PER_PACK_SLICE === 0) await yieldNowAndThen()
    packed.push(pack(rows[i]!))
  }
  return packed
}

/** `items` in consecutive slices of `size` (the last may be shorter). */
export function slicesOf<T>(items: readonly T[], size: number): T[][] {
  const slices: T[][] = []
  for (let i = 0; i < items.length; i += size) slices.push(items.slice(i, i + size))
  return slices
}

export function chunksInOrder(rows: readonly PackedRow[]): PackedRow[][] {
  return slicesOf(rows, ROWS_PER_CALL)
}

/** Chunks whose keys share a hash slot, as a Cluster requires of one script call. */
export function chunksBySlot(rows: readonly PackedRow[]): PackedRow[][] {
  const bySlot = new Map<number, PackedRow[]>()
  for (const row of rows) {
    const slot = calculateSlot(row.key)
    const group = bySlot.get(slot)
    if (group) group.push(row)
    else bySlot.set(slot, [row])
  }
  const chunks: PackedRow[][] = []
  for (const group of bySlot.values()) chunks.push(...chunksInOrder(group))
  return chunks
}
