/**
 * How the Redis store's writer splits packed rows into script calls of ROWS_PER_CALL rows: in
 * order on a single node; per hash slot on a Cluster, where one script call must stay in one slot.
 */
import type { FeatureRow } from '../../../features/types.ts'
import { redisKeySlot } from './key-slot.ts'
import { ROWS_PER_CALL } from './write-row-script.ts'

export interface PackedRow {
  readonly row: FeatureRow
  readonly key: string
  readonly packed: string
}

export function chunksInOrder(rows: readonly PackedRow[]): PackedRow[][] {
  const chunks: PackedRow[][] = []
  for (let i = 0; i < rows.length; i += ROWS_PER_CALL) chunks.push(rows.slice(i, i + ROWS_PER_CALL))
  return chunks
}

/** Chunks whose keys share a hash slot, as a Cluster requires of one script call. */
export function chunksBySlot(rows: readonly PackedRow[]): PackedRow[][] {
  const bySlot = new Map<number, PackedRow[]>()
  for (const row of rows) {
    const slot = redisKeySlot(row.key)
    const group = bySlot.get(slot)
    if (group) group.push(row)
    else bySlot.set(slot, [row])
  }
  const chunks: PackedRow[][] = []
  for (const group of bySlot.values()) chunks.push(...chunksInOrder(group))
  return chunks
}
