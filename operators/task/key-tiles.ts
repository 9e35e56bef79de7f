/**
 * A walk over one key's tiles that needs no feature reads: the next loss boundary (the key's
 * timer); eviction is part of the evaluation's walk (view-runner.ts `evaluate`). The groups are
 * visited in their order in the key's region (key-regions.ts), each one's tiles starting where the
 * last ended, so a walk reads the region front to back and computes no group offset.
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
