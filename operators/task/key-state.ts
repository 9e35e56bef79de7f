/**
 * Per-key operator state of one view, stored by dense key id (struct of arrays) rather than one
 * object per key: the hot loop touches a few flat arrays instead of chasing a key object, its
 * tile list and one array per tile.
 *
 * Layout, per key id (fields read together sit together: one cache line per array, not one
 * per field):
 * - `times[2·id]`: the key's clock c (docs/design.md §3); `times[2·id+1]`: its one timer (NaN = none);
 * - in one Int32Array: every hop group's region triple (tile-slab.ts) and the loss-timer flag;
 * - per hop group g, the key's non-empty tiles ascending in `slabs[g]` (tile-slab.ts): per tile
 *   the tile index and the unboxed accumulators (count/sum/min/max kernels) as doubles,
 *   and the other accumulators (sketches, last_n lists…) as objects;
 * - `life[id]`: the lifetime accumulators (null when the view has none).
 *
 * Ids of dropped keys are reused; a stale timer entry cannot fire for the new owner because a
 * timer entry is live only while it equals `timerOf(id)` (timer-queue.ts).
 */
import { TileSlab } from './tile-slab.ts'
import type { GroupLayout } from './tile-layout.ts'

const HIGH_UNIT = /[\uD800-\uFFFF]/

export class KeyTable {
  readonly ids = new Map<string, number>()
  keyOf: string[] = []
  /** Clock and timer of each key id, interleaved. */
  times: Float64Array = new Float64Array(2 * 1024)
  #capacity = 1024
  /**
   * False while no key holds a UTF-16 unit ≥ U+D800: then UTF-16 order is UTF-8 byte order and
   * keys can be compared with the engine's native `<` (key-order.ts).
   */
  hasHighKeys = false
  /**
   * Per key id, a number ordered like the key (while `hasHighKeys` is false): its three UTF-16
   * units after the prefix every key shares, each as unit + 1 (0 past the end), in 17 bits.
   * Sorting a timer bucket compares these first and reads key strings only on ties — most
   * comparisons then touch one dense array instead of two scattered strings.
   */
  sortPrefix: Float64Array = new Float64Array(1024)
  /** Length of the prefix shared by every key added so far (−1: no key yet), and one such key. */
  #sharedLen = -1
  #sharedOf = ''
  readonly slabs: readonly TileSlab[]
  readonly life: (unknown[] | null)[] = []
  readonly #free: number[] = []
  #next = 0

  /** Per key id: every slab's region triple (tile-slab.ts `meta`), then the loss-timer flag. */
  #meta: Int32Array
  readonly #metaStride: number
  readonly #lossAt: number

  constructor(layouts: readonly GroupLayout[]) {
    this.slabs = layouts.map((lay) => new TileSlab(lay.numInits, lay.objInits, lay.maxTiles))
    this.#lossAt = 3 * layouts.length
    this.#metaStride = this.#lossAt + 1
    this.#meta = new Int32Array(this.#metaStride * this.#capacity)
    this.slabs.forEach((slab, g) => slab.bindMeta(this.#meta, this.#metaStride, 3 * g))
  }

  clockOf(id: number): number {
    return this.times[2 * id] as number
  }

  setClock(id: number, c: number): void {
    this.times[2 * id] = c
  }

  timerOf(id: number): number {
    return this.times[2 * id + 1] as number
  }

  setTimer(id: number, atMs: number): void {
    this.times[2 * id + 1] = atMs
  }

  /** True while the key's timer is a loss boundary (a decay row is due there), not a drop timer. */
  isLossTimer(id: number): boolean {
    return this.#meta[id * this.#metaStride + this.#lossAt] === 1
  }

  setLossTimer(id: number, isLoss: boolean): void {
    this.#meta[id * this.#metaStride + this.#lossAt] = isLoss ? 1 : 0
  }

  get size(): number {
    return this.ids.size
  }

  /** A fresh id for `key` with clock `c`, no tiles and no timer. */
  add(key: string, c: number, life: unknown[] | null): number {
    let id = this.#free.pop()
    if (id === undefined) {
      id = this.#next++
      if (id >= this.#capacity) this.#grow()
      this.keyOf.push(key)
      this.life.push(life)
    } else {
      this.keyOf[id] = key
      this.life[id] = life
    }
    this.setClock(id, c)
    this.setTimer(id, Number.NaN)
    this.setLossTimer(id, false)
    if (!this.hasHighKeys && HIGH_UNIT.test(key)) this.hasHighKeys = true
    this.ids.set(key, id)
    this.#noteShared(key)
    this.sortPrefix[id] = sortPrefixOf(key, this.#sharedLen)
    return id
  }

  drop(id: number): void {
    this.ids.delete(this.keyOf[id] as string)
    this.setTimer(id, Number.NaN)
    for (const slab of this.slabs) slab.clear(id)
    this.life[id] = null
    this.keyOf[id] = ''
    this.#free.push(id)
  }

  /** Shrinks the shared prefix to fit `key`; every key's sort prefix follows a change. */
  #noteShared(key: string): void {
    if (this.#sharedLen < 0) {
      this.#sharedLen = key.length
      this.#sharedOf = key
      return
    }
    const ref = this.#sharedOf
    let n = 0
    while (n < this.#sharedLen && n < key.length && ref.charCodeAt(n) === key.charCodeAt(n)) n++
    if (n === this.#sharedLen) return
    this.#sharedLen = n
    for (const [k, id] of this.ids) this.sortPrefix[id] = sortPrefixOf(k, n)
  }

  #grow(): void {
    this.#capacity *= 2
    const sortPrefix = new Float64Array(this.#capacity)
    sortPrefix.set(this.sortPrefix)
    this.sortPrefix = sortPrefix
    const times = new Float64Array(2 * this.#capacity)
    times.set(this.times)
    this.times = times
    const meta = new Int32Array(this.#metaStride * this.#capacity)
    meta.set(this.#meta)
    this.#meta = meta
    this.slabs.forEach((slab, g) => slab.bindMeta(meta, this.#metaStride, 3 * g))
  }
}

const UNIT_SPAN = 0x20000

/** Units `from`, `from+1`, `from+2` of `key` as one number that orders like the units. */
function sortPrefixOf(key: string, from: number): number {
  let p = 0
  for (let i = from; i < from + 3; i++) p = p * UNIT_SPAN + (i < key.length ? key.charCodeAt(i) + 1 : 0)
  return p
}
