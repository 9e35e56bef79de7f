/**
 * Walks over one key's tiles that need no feature reads: the next loss boundary (the key's timer)
 * and the eviction of tiles that no window reaches any more. The groups are visited in their
 * order in the key's region (key-regions.ts), each one's tiles starting where the last ended, so
 * a walk reads the region front to back and computes no group offset.
 */
import type { KeyTable } from './key-state.ts'
import type { GroupLayout } from './tile-layout.ts'
import { firstTileAt } from './tile-slab.ts'

/** Earliest boundary > c at which some window of key `id` loses a non-empty tile; NaN if none. */
export function nextLossOf(table: KeyTable, layouts: readonly GroupLayout[], id: number): number {
  let next = Number.NaN
  const c = table.clockOf(id)
  const regions = table.regions
  const order = regions.order
  const tiles = regions.pageOf(id)
  let groupAt = regions.startOf(id)
  for (let oi = 0; oi < order.length; oi++) {
    const g = order[oi] as number
    const lay = layouts[g] as GroupLayout
    const count = regions.count(id, g)
    if (count === 0) continue
    const ns = lay.numStride
    const base = groupAt
    groupAt += count * ns
    const top = Math.floor(c / lay.hopMs)
    for (const spec of lay.specs) {
      const i = firstTileAt(tiles, base, count, ns, top + 1 - spec.tiles)
      if (i === count) continue
      const b = ((tiles[base + i * ns] as number) + spec.tiles) * lay.hopMs
      if (!(b >= next)) next = b
    }
  }
  return next
}

/** Drops key `id`'s tiles that no window reaches at its clock. */
export function evictTiles(table: KeyTable, layouts: readonly GroupLayout[], id: number): void {
  const c = table.clockOf(id)
  const regions = table.regions
  const order = regions.order
  let groupAt = regions.startOf(id)
  for (let oi = 0; oi < order.length; oi++) {
    const g = order[oi] as number
    const lay = layouts[g] as GroupLayout
    const count = regions.count(id, g)
    if (count === 0) continue
    const keepFrom = firstTileAt(regions.pageOf(id), groupAt, count, lay.numStride, Math.floor(c / lay.hopMs) + 1 - lay.maxTiles)
    if (keepFrom === 0) {
      groupAt += count * lay.numStride
      continue
    }
    regions.dropFront(id, g, keepFrom)
    table.objSlabs[g]?.dropFront(id, keepFrom)
    // The region may have moved down a class: the next group starts after this one's kept tiles.
    groupAt = regions.baseOf(id, g) + (count - keepFrom) * lay.numStride
  }
}
