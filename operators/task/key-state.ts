/**
 * Per-key operator state of one view, stored by dense key id (struct of arrays) rather than one
 * object per key: the hot loop touches a few flat arrays instead of chasing a key object, its
 * tile list and one array per tile.
 *
 * Layout, per key id (fields read together sit together):
 * - one record, a multiple of 32 bytes long — 64 for views of up to three hop groups: as
 *   doubles (`times`), the key's clock c (docs/design.md §3), its one timer (NaN = none) and its
 *   sort prefix; then as 32-bit integers (the same bytes seen through `#meta`), the flags (loss
 *   timer, touched since the last checkpoint), the key's numeric region (start, size class,
 *   tiles per hop group: key-regions.ts) and, per hop group with object columns, its object
 *   region triple (tile-slab.ts) — all a due timer, an event or a decay row reads before the
 *   tiles, in one or two adjacent cache lines (JS cannot ask for a line-aligned buffer) instead
 *   of one line per array;
 * - ONE numeric region for all hop groups (`regions`, key-regions.ts): per group the key's
 *   non-empty tiles ascending, per tile the tile index and the unboxed accumulators
 *   (count/sum/min/max kernels) and mirrors as doubles — a decay row reading only numeric tiles
 *   loads the record and this one region;
 * - per hop group g with object columns, the other accumulators (sketches, last_n lists…) of
 *   the same tiles, in the same positions, in `objSlabs[g]` (tile-slab.ts, objects only);
 * - `life[id]`: the lifetime accumulators (null when the view has none).
 *
 * Ids of dropped keys are reused; a stale timer entry cannot fire for the new owner because a
 * timer entry is live only while it equals `timerOf(id)` (timer-queue.ts).
 *
 * Change tracking (incremental checkpoints, docs/semantics.md §8): every step that changes a key's
 * state — an accepted event, a due timer, an eviction, a drop, a restore — also sets its clock or
 * timer, or adds or drops the key, so those four mark the key touched; `takeTouched` hands the
 * touched keys to the checkpoint and starts over. Marking reads a flag of the record the call
 * writes anyway, so it costs no load of its own.
 */
import { KeyRegions } from './key-regions.ts'
import { TileSlab } from './tile-slab.ts'
import type { GroupLayout } from './tile-layout.ts'

const HIGH_UNIT = /[\uD800-\uFFFF]/
/** A unit outside the 7-bit range a narrow sort prefix packs (unit + 1 ≤ 0x7F). */
const WIDE_UNIT = /[^\u0000-\u007E]/

/** Places in a key record: doubles (clock, timer, sort prefix), then int32s from REC_INTS on. */
export const TIME_CLOCK = 0
export const TIME_TIMER = 1
export const TIME_PREFIX = 2
const REC_INTS = 6
/** The record's flags: bit 0 the loss timer, bit 1 touched since the last `takeTouched`. */
const INT_FLAGS = REC_INTS
const FLAG_LOSS = 1
const FLAG_TOUCHED = 2
const INT_REGION = REC_INTS + 1

/**
 * Record bytes: 28, the numeric region's metadata (8 + 4 per group) and 12 per group with object
 * columns, rounded up to 32 (64 for three groups one of which has objects).
 */
function recordBytes(groups: number, objectGroups: number): number {
  return Math.ceil((4 * (INT_REGION + KeyRegions.metaInts(groups)) + 12 * objectGroups) / 32) * 32
}

/** The keys a checkpoint delta holds (state-delta.ts), in no particular order. */
export interface TouchedKeys {
  /** Keys touched since the last checkpoint and live now: the delta writes their whole entry. */
  readonly changed: string[]
  /** Keys dropped since the last checkpoint and not live now: the delta names them removed. */
  readonly removed: string[]
  /** False when no key of either list can hold a UTF-16 unit ≥ U+D800 (key-order.ts). */
  readonly mayHoldWideUnits: boolean
}

export class KeyTable {
  readonly ids = new Map<string, number>()
  keyOf: string[] = []
  /** The key records seen as doubles: clock, timer, sort prefix at `stride·id + TIME_*`. */
  times: Float64Array
  /** Doubles per record. */
  readonly stride: number
  #capacity = 1024
  /**
   * False while no key holds a UTF-16 unit ≥ U+D800: then UTF-16 order is UTF-8 byte order and
   * keys can be compared with the engine's native `<` (key-order.ts).
   */
  hasHighKeys = false
  /**
   * The sort prefix (`times[stride·id + TIME_PREFIX]`) is a number ordered like the key (while
   * `hasHighKeys` is false): its UTF-16 units after the prefix every key shares, each as unit + 1
   * (0 past the end) — seven units of 7 bits while every key is ASCII below U+007F (`user-123456`
   * is then told apart whole), else three of 17 bits. Sorting a timer bucket compares these
   * first and reads key strings only on ties: comparisons touch the record the timer check has
   * just loaded, not two scattered strings.
   */
  #narrow = true
  /** Length of the prefix shared by every key added so far (−1: no key yet), and one such key. */
  #sharedLen = -1
  #sharedOf = ''
  /** Every hop group's numeric tiles, one region per key. */
  readonly regions: KeyRegions
  /** Per hop group: its object tiles (null: the group has no object column). */
  readonly objSlabs: readonly (TileSlab | null)[]
  readonly life: (unknown[] | null)[] = []
  readonly #free: number[] = []
  #next = 0
  /** The ids touched since the last `takeTouched` (FLAG_TOUCHED set), and keys dropped since. */
  #touchedIds: number[] = []
  #droppedKeys: string[] = []
  /** More keys dropped than the table ever held ids: the list stops growing, the next checkpoint is full. */
  #lostTrack = false

  /** The same records seen as int32s: the flags and the regions' metadata. */
  #meta: Int32Array
  readonly #metaStride: number

  constructor(layouts: readonly GroupLayout[]) {
    this.regions = new KeyRegions(
      layouts.map((lay) => lay.numInits),
      layouts.map((lay) => lay.maxTiles),
      layouts.map((lay) => lay.maxTiles * lay.hopMs),
    )
    this.objSlabs = layouts.map((lay) => (lay.objStride > 0 ? new TileSlab(null, lay.objInits, lay.maxTiles) : null))
    const bytes = recordBytes(layouts.length, layouts.filter((lay) => lay.objStride > 0).length)
    this.stride = bytes / 8
    this.#metaStride = bytes / 4
    this.times = new Float64Array(this.stride * this.#capacity)
    this.#meta = new Int32Array(this.times.buffer)
    this.#bindSlabs()
  }

  #bindSlabs(): void {
    this.regions.bindMeta(this.#meta, this.#metaStride, INT_REGION)
    let at = INT_REGION + KeyRegions.metaInts(this.objSlabs.length)
    for (const slab of this.objSlabs) {
      if (slab === null) continue
      slab.bindMeta(this.#meta, this.#metaStride, at)
      at += 3
    }
  }

  clockOf(id: number): number {
    return this.times[this.stride * id + TIME_CLOCK] as number
  }

  setClock(id: number, c: number): void {
    this.#markTouched(id)
    this.times[this.stride * id + TIME_CLOCK] = c
  }

  timerOf(id: number): number {
    return this.times[this.stride * id + TIME_TIMER] as number
  }

  setTimer(id: number, atMs: number): void {
    this.#markTouched(id)
    this.times[this.stride * id + TIME_TIMER] = atMs
  }

  /** True while the key's timer is a loss boundary (a decay row is due there), not a drop timer. */
  isLossTimer(id: number): boolean {
    return ((this.#meta[this.#metaStride * id + INT_FLAGS] as number) & FLAG_LOSS) !== 0
  }

  setLossTimer(id: number, isLoss: boolean): void {
    const at = this.#metaStride * id + INT_FLAGS
    const flags = this.#meta[at] as number
    this.#meta[at] = isLoss ? flags | FLAG_LOSS : flags & ~FLAG_LOSS
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
    this.times[this.stride * id + TIME_PREFIX] = sortPrefixOf(key, this.#sharedLen, this.#narrow)
    return id
  }

  drop(id: number): void {
    if (this.#droppedKeys.length >= this.#capacity) {
      this.#lostTrack = true
      this.#droppedKeys = []
    }
    if (!this.#lostTrack) this.#droppedKeys.push(this.keyOf[id] as string)
    this.ids.delete(this.keyOf[id] as string)
    this.setTimer(id, Number.NaN)
    this.regions.clear(id)
    for (const slab of this.objSlabs) slab?.clear(id)
    this.life[id] = null
    this.keyOf[id] = ''
    this.#free.push(id)
  }

  #markTouched(id: number): void {
    const at = this.#metaStride * id + INT_FLAGS
    const flags = this.#meta[at] as number
    if ((flags & FLAG_TOUCHED) !== 0) return
    this.#meta[at] = flags | FLAG_TOUCHED
    this.#touchedIds.push(id)
  }

  #clearTouched(id: number): void {
    this.#meta[this.#metaStride * id + INT_FLAGS] = (this.#meta[this.#metaStride * id + INT_FLAGS] as number) & ~FLAG_TOUCHED
  }

  /**
   * Every key touched since the last call (or since tracking started): those live now (`changed`)
   * and those dropped since and not added again (`removed`, each once); undefined when tracking
   * was lost (only a full snapshot then captures the changes). Starts tracking afresh. Arrays, not
   * a set of key strings: the cut of a checkpoint takes them with the event loop stopped, and
   * every touched id is listed once already (its flag), as is every live key (one id per key).
   */
  takeTouched(): TouchedKeys | undefined {
    const lost = this.#lostTrack
    const changed: string[] = []
    for (const id of this.#touchedIds) {
      this.#clearTouched(id)
      const key = this.keyOf[id] as string
      if (!lost && this.ids.get(key) === id) changed.push(key)
    }
    // A key dropped and added again since is live, and its new id was touched by the add: changed.
    const dropped = this.#droppedKeys.filter((key) => !this.ids.has(key))
    const removed = dropped.length < 2 ? dropped : [...new Set(dropped)]
    this.#touchedIds = []
    this.#droppedKeys = []
    this.#lostTrack = false
    return lost ? undefined : { changed, removed, mayHoldWideUnits: this.hasHighKeys }
  }

  /** Starts tracking afresh without collecting what was touched (after a full snapshot or a restore). */
  forgetTouched(): void {
    for (const id of this.#touchedIds) this.#clearTouched(id)
    this.#touchedIds = []
    this.#droppedKeys = []
    this.#lostTrack = false
  }

  /**
   * Shrinks the shared prefix to fit `key`, and widens the prefix units at the first key beyond
   * 7 bits; every key's sort prefix follows a change.
   */
  #noteShared(key: string): void {
    const wide = this.#narrow && WIDE_UNIT.test(key)
    if (wide) this.#narrow = false
    if (this.#sharedLen < 0) {
      this.#sharedLen = key.length
      this.#sharedOf = key
      return
    }
    const ref = this.#sharedOf
    let n = 0
    while (n < this.#sharedLen && n < key.length && ref.charCodeAt(n) === key.charCodeAt(n)) n++
    if (n === this.#sharedLen && !wide) return
    this.#sharedLen = n
    for (const [k, id] of this.ids) this.times[this.stride * id + TIME_PREFIX] = sortPrefixOf(k, n, this.#narrow)
  }

  #grow(): void {
    this.#capacity *= 2
    const times = new Float64Array(this.stride * this.#capacity)
    times.set(this.times)
    this.times = times
    this.#meta = new Int32Array(times.buffer)
    this.#bindSlabs()
  }
}

/** Units from `from` on of `key` as one exact double (< 2^53) that orders like the units. */
function sortPrefixOf(key: string, from: number, narrow: boolean): number {
  const span = narrow ? 0x80 : 0x20000
  const end = from + (narrow ? 7 : 3)
  let p = 0
  for (let i = from; i < end; i++) p = p * span + (i < key.length ? key.charCodeAt(i) + 1 : 0)
  return p
}
