/**
 * Per-key operator state of one view, stored by dense key id (struct of arrays) rather than one
 * object per key: the hot loop touches a few flat arrays instead of chasing a key object, its
 * tile list and one array per tile.
 *
 * Layout, per key id:
 * - `clock[id]` (the key's clock c, DESIGN §3) and `timer[id]` (its one timer, NaN = none);
 * - per hop group g, `num[g][id]`: the key's non-empty tiles ascending, flattened as
 *   `[k, n0, n1, …, k', n0', …]` — the tile index then the plain-number accumulators
 *   (count/sum/min/max columns); V8 keeps such arrays as unboxed doubles;
 * - per hop group g with other columns, `obj[g][id]`: the same tiles' other accumulators
 *   (sketches, last_n lists…), flattened the same way without the tile index;
 * - `life[id]`: the lifetime accumulators (null when the view has none).
 * Tile arrays are rebuilt at exact length on insert/evict (they are short), never grown in place.
 *
 * Ids of dropped keys are reused; a stale timer entry cannot fire for the new owner because a
 * timer entry is live only while it equals `timer[id]` (timer-queue.ts).
 */

const HIGH_UNIT = /[\uD800-\uFFFF]/
const EMPTY_NUM: readonly number[] = []
const EMPTY_OBJ: readonly unknown[] = []

export class KeyTable {
  readonly ids = new Map<string, number>()
  keyOf: string[] = []
  clock = new Float64Array(1024)
  timer = new Float64Array(1024)
  /** 1 while the key's timer is a loss boundary (a decay row is due there), 0 for a drop timer. */
  lossTimer = new Uint8Array(1024)
  /**
   * False while no key holds a UTF-16 unit ≥ U+D800: then UTF-16 order is UTF-8 byte order and
   * keys can be compared with the engine's native `<` (key-order.ts).
   */
  hasHighKeys = false
  readonly num: (readonly number[])[][]
  readonly obj: (readonly unknown[])[][]
  readonly life: (unknown[] | null)[] = []
  readonly #free: number[] = []
  #next = 0

  constructor(groupCount: number) {
    this.num = Array.from({ length: groupCount }, () => [])
    this.obj = Array.from({ length: groupCount }, () => [])
  }

  get size(): number {
    return this.ids.size
  }

  /** A fresh id for `key` with clock `c`, no tiles and no timer. */
  add(key: string, c: number, life: unknown[] | null): number {
    let id = this.#free.pop()
    if (id === undefined) {
      id = this.#next++
      if (id >= this.clock.length) this.#grow()
      for (let g = 0; g < this.num.length; g++) {
        ;(this.num[g] as (readonly number[])[]).push(EMPTY_NUM)
        ;(this.obj[g] as (readonly unknown[])[]).push(EMPTY_OBJ)
      }
      this.keyOf.push(key)
      this.life.push(life)
    } else {
      for (let g = 0; g < this.num.length; g++) {
        ;(this.num[g] as (readonly number[])[])[id] = EMPTY_NUM
        ;(this.obj[g] as (readonly unknown[])[])[id] = EMPTY_OBJ
      }
      this.keyOf[id] = key
      this.life[id] = life
    }
    this.clock[id] = c
    this.timer[id] = Number.NaN
    this.lossTimer[id] = 0
    if (!this.hasHighKeys && HIGH_UNIT.test(key)) this.hasHighKeys = true
    this.ids.set(key, id)
    return id
  }

  drop(id: number): void {
    this.ids.delete(this.keyOf[id] as string)
    this.timer[id] = Number.NaN
    for (let g = 0; g < this.num.length; g++) {
      ;(this.num[g] as (readonly number[])[])[id] = EMPTY_NUM
      ;(this.obj[g] as (readonly unknown[])[])[id] = EMPTY_OBJ
    }
    this.life[id] = null
    this.keyOf[id] = ''
    this.#free.push(id)
  }

  #grow(): void {
    const clock = new Float64Array(this.clock.length * 2)
    clock.set(this.clock)
    this.clock = clock
    const timer = new Float64Array(this.timer.length * 2)
    timer.set(this.timer)
    this.timer = timer
    const lossTimer = new Uint8Array(this.lossTimer.length * 2)
    lossTimer.set(this.lossTimer)
    this.lossTimer = lossTimer
  }
}

/** Index (in tiles) of the first tile with index ≥ k in a flat tile array of `stride`. */
export function firstTileFrom(tiles: readonly number[], stride: number, k: number): number {
  let lo = 0
  let hi = tiles.length / stride
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    if ((tiles[mid * stride] as number) < k) lo = mid + 1
    else hi = mid
  }
  return lo
}
