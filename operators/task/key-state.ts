/**
 * Per-key operator state of one view, stored by dense key id (struct of arrays) rather than one
 * object per key: the hot loop touches a few flat arrays instead of chasing a key object, its
 * tile list and one array per tile.
 *
 * Layout, per key id:
 * - `clock[id]` (the key's clock c, DESIGN §3) and `timer[id]` (its one timer, NaN = none);
 * - per hop group g, the key's non-empty tiles ascending in `slabs[g]` (tile-slab.ts): per tile
 *   the tile index and the plain-number accumulators (count/sum/min/max columns) as doubles,
 *   and the other accumulators (sketches, last_n lists…) as objects;
 * - `life[id]`: the lifetime accumulators (null when the view has none).
 *
 * Ids of dropped keys are reused; a stale timer entry cannot fire for the new owner because a
 * timer entry is live only while it equals `timer[id]` (timer-queue.ts).
 */
import { TileSlab } from './tile-slab.ts'
import { NUM_MAX, NUM_MIN, type GroupLayout } from './tile-layout.ts'

const HIGH_UNIT = /[\uD800-\uFFFF]/

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
  readonly slabs: readonly TileSlab[]
  readonly life: (unknown[] | null)[] = []
  readonly #free: number[] = []
  #next = 0

  constructor(layouts: readonly GroupLayout[]) {
    this.slabs = layouts.map((lay) => new TileSlab(Array.from(lay.numKind, (kind) => (kind === NUM_MIN || kind === NUM_MAX ? Number.NaN : 0)), lay.objAggs, lay.maxTiles))
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
      this.keyOf.push(key)
      this.life.push(life)
    } else {
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
    for (const slab of this.slabs) slab.clear(id)
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
    for (const slab of this.slabs) slab.ensureIds(this.clock.length)
  }
}
