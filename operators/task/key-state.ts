/** Per-key operator state of one view: clock, timer, tiles per hop group, lifetime accumulators. */
import type { TimedKey } from './timer-queue.ts'

export interface Tile {
  readonly k: number
  readonly accs: unknown[]
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

/** Index of the tile `k` in `tiles`, inserting an empty one (from `init`) when absent. */
export function tileFor(tiles: Tile[], k: number, init: () => unknown[]): Tile {
  let i = tiles.length
  while (i > 0 && (tiles[i - 1] as Tile).k > k) i--
  const before = tiles[i - 1]
  if (before !== undefined && before.k === k) return before
  const tile = { k, accs: init() }
  if (i === tiles.length) tiles.push(tile)
  else tiles.splice(i, 0, tile)
  return tile
}

/** Index of the first tile with index ≥ k (tiles.length if none). */
export function firstTileFrom(tiles: readonly Tile[], k: number): number {
  let lo = 0
  let hi = tiles.length
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    if ((tiles[mid] as Tile).k < k) lo = mid + 1
    else hi = mid
  }
  return lo
}
