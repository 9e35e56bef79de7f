/** Per-key operator state of one view: clock, timer, tiles per hop group, lifetime accumulators. */
import type { TimedKey } from './timer-queue.ts'
import { insertAt } from '../aggregators/insert-at.ts'

/**
 * A tile: `[k, acc0, acc1, …]` — the tile index then one accumulator per column of its hop group.
 * A flat array rather than an object holding an array: one allocation per tile, not two.
 */
export type Tile = unknown[]

export function tileIndexOf(tile: Tile): number {
  return tile[0] as number
}

export class KeyState implements TimedKey {
  readonly key: string
  /** The key's clock c (DESIGN §3): max of accepted event times and emitted boundaries. */
  c: number
  timerMs = Number.NaN
  dropped = false
  /** Per hop group, the non-empty tiles ascending by index. */
  readonly groups: Tile[][]
  readonly life: unknown[] | null

  constructor(key: string, c: number, groups: Tile[][], life: unknown[] | null) {
    this.key = key
    this.c = c
    this.groups = groups
    this.life = life
  }
}

/** The tile `k` of `groups[g]`, inserting an empty one (from `init(k)`) when absent. */
export function tileFor(groups: Tile[][], g: number, k: number, init: (k: number) => Tile): Tile {
  const tiles = groups[g] as Tile[]
  let i = tiles.length
  while (i > 0 && ((tiles[i - 1] as Tile)[0] as number) > k) i--
  const before = tiles[i - 1]
  if (before !== undefined && before[0] === k) return before
  const tile = init(k)
  groups[g] = insertAt(tiles, i, tile)
  return tile
}

/** Index of the first tile with index ≥ k (tiles.length if none). */
export function firstTileFrom(tiles: readonly Tile[], k: number): number {
  let lo = 0
  let hi = tiles.length
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    if (((tiles[mid] as Tile)[0] as number) < k) lo = mid + 1
    else hi = mid
  }
  return lo
}
