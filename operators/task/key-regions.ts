/**
 * The numeric tiles of every hop group of a key in ONE region of consecutive doubles, in paged
 * Float64 slabs. A decay row or an event reads the key's record and then this one region — two
 * or three adjacent cache lines for a typical key — where one region per hop group cost a line
 * or more per group, each in its own slab, in no particular order.
 *
 * Layout of a key's region: the groups one after another in `order` (longest window first),
 * each group's tiles ascending by tile index, `strides[g]` doubles a tile (the tile index, then
 * the group's numeric columns and mirrors, tile-layout.ts). A group's offset in the region is
 * the sum of the tiles × stride of the groups before it: no per-group start is stored. Inserting
 * or evicting a tile of group g shifts the rest of the region; an event adds a tile to most
 * groups, so the groups that hold the most tiles (the longest windows) go first and the short
 * ones, which also evict most often, last: their shifts move few doubles.
 *
 * Metadata, per key id at `id·metaStride + metaBase` of a shared Int32Array (the key record,
 * key-state.ts): the region's first double, its size class + 1 (0: no region), then each
 * group's tile count in group order.
 *
 * Size classes (4, 8, … 32 doubles, then ×1.25 steps) serve the whole key: a region that is full
 * moves up a class, one with two classes of slack moves down, freed regions go to per-class free
 * lists and the slab compacts once free doubles exceed an eighth of the live ones (as in
 * tile-slab.ts, which compacts at a quarter; its object regions stay per group: only events and
 * multi-event tiles reach them). Compaction slides the regions down in place, in address order.
 */
import { metaByStart } from './meta-by-start.ts'
import { classCaps, freePageTail } from './tile-slab.ts'

const META_START = 0
const META_CLASS = 1
const META_COUNTS = 2

/** Classes are multiples of this many doubles (half a line, a tile of the narrowest group). */
const CLASS_UNIT = 4

/**
 * Compaction once free doubles exceed live ones ÷ this: with every group in one region a key's
 * moves free regions of many sizes, which the free lists reuse less well than one group's; at a
 * quarter (tile-slab.ts) they held ~20 % of the pages at the end of a bench run (1,032 B a key,
 * over the 1 KiB budget), at an eighth ~4 %. Finer classes (eighths) would cut the class slack
 * from ~12 % to ~4 % too, but read 0.85 in the A/B: more moves.
 */
const COMPACT_FREE_DIVISOR = 8

export class KeyRegions {
  /** Doubles per tile, per group. */
  readonly strides: Int32Array
  /** Physical order of the groups in a region. */
  readonly order: Int32Array
  readonly pageBits: number
  readonly pageMask: number
  readonly pages: Float64Array[] = []
  meta: Int32Array = new Int32Array(0)
  metaStride = 0
  metaBase = 0
  readonly #inits: readonly Float64Array[]
  readonly #caps: Int32Array
  readonly #classOf: Int16Array
  readonly #free: number[][]
  #top = 0
  #freeDoubles = 0
  #liveDoubles = 0

  /** Ints of metadata a key needs for `groups` hop groups. */
  static metaInts(groups: number): number {
    return META_COUNTS + groups
  }

  /**
   * `numInits[g]`: the empty value of each numeric slot after the tile index, per group;
   * `spansMs[g]`: the group's longest window (maxTiles × hop), which orders the groups.
   */
  constructor(
    numInits: readonly (readonly number[])[],
    maxTiles: readonly number[],
    spansMs: readonly number[],
    minPageBits = 16,
  ) {
    this.strides = Int32Array.from(numInits, (init) => init.length + 1)
    this.#inits = numInits.map((init) => Float64Array.from(init))
    this.order = Int32Array.from(
      numInits.map((_, g) => g).sort((a, b) => (spansMs[b] as number) - (spansMs[a] as number) || a - b),
    )
    // An insert may precede the eviction it causes: a group holds up to maxTiles + 1 tiles.
    let most = 0
    maxTiles.forEach((m, g) => (most += (m + 1) * (this.strides[g] as number)))
    const caps = classCaps(Math.ceil(most / CLASS_UNIT)).map((c) => c * CLASS_UNIT)
    this.#caps = Int32Array.from(caps)
    this.#classOf = new Int16Array(most + 1)
    for (let n = 1, c = 0; n <= most; n++) {
      while ((caps[c] as number) < n) c++
      this.#classOf[n] = c
    }
    this.#free = caps.map(() => [])
    let bits = minPageBits
    while (1 << bits < (caps[caps.length - 1] as number)) bits++
    this.pageBits = bits
    this.pageMask = (1 << bits) - 1
  }

  /** Uses a shared metadata array (zero-filled for ids never seen); see the file comment. */
  bindMeta(meta: Int32Array, stride: number, base: number): void {
    this.meta = meta
    this.metaStride = stride
    this.metaBase = base
  }

  /** Double accounting (for tests and memory figures). */
  stats(): { liveDoubles: number; freeDoubles: number; pageDoubles: number } {
    return {
      liveDoubles: this.#liveDoubles,
      freeDoubles: this.#freeDoubles,
      pageDoubles: this.pages.length * (this.pageMask + 1),
    }
  }

  /** Tiles of group `g` held by key `id`. */
  count(id: number, g: number): number {
    return this.meta[id * this.metaStride + this.metaBase + META_COUNTS + g] as number
  }

  /** Offset in `pageOf(id)` of key `id`'s region: its first group in `order` starts there. */
  startOf(id: number): number {
    return (this.meta[id * this.metaStride + this.metaBase + META_START] as number) & this.pageMask
  }

  /** The page holding key `id`'s region (meaningless while it holds no tile). */
  pageOf(id: number): Float64Array {
    return this.pages[(this.meta[id * this.metaStride + this.metaBase + META_START] as number) >>> this.pageBits] as Float64Array
  }

  /** Anything, so that the loads of `warm` are not dead code. */
  warmSink = 0

  /**
   * Reads one double of every cache line of the regions of keys `ids`. Run over a batch of keys
   * (a due timer bucket) before any of them is worked on, the loads are independent of each
   * other, so the CPU overlaps their misses instead of taking them one key at a time.
   */
  warm(ids: readonly number[]): void {
    const meta = this.meta
    let sum = 0
    for (let k = 0; k < ids.length; k++) {
      const m = (ids[k] as number) * this.metaStride + this.metaBase
      if ((meta[m + META_CLASS] as number) === 0) continue
      const start = meta[m + META_START] as number
      const page = this.pages[start >>> this.pageBits] as Float64Array
      const b = start & this.pageMask
      for (let i = b, end = b + this.#usedIn(m); i < end; i += 8) sum += page[i] as number
    }
    this.warmSink = sum
  }

  /** Offset in `pageOf(id)` of group `g`'s first tile of key `id`. */
  baseOf(id: number, g: number): number {
    const m = id * this.metaStride + this.metaBase
    return ((this.meta[m + META_START] as number) & this.pageMask) + this.#offsetIn(m, g)
  }

  /** Doubles before group `g` in the region whose metadata is at `m`. */
  #offsetIn(m: number, g: number): number {
    const order = this.order
    let off = 0
    for (let i = 0; i < order.length; i++) {
      const h = order[i] as number
      if (h === g) return off
      off += (this.meta[m + META_COUNTS + h] as number) * (this.strides[h] as number)
    }
    return off
  }

  /** Doubles used by the region whose metadata is at `m`. */
  #usedIn(m: number): number {
    let used = 0
    for (let h = 0; h < this.strides.length; h++) used += (this.meta[m + META_COUNTS + h] as number) * (this.strides[h] as number)
    return used
  }

  /** Inserts an empty tile with index `k` at tile position `pos` of group `g` of key `id`. */
  insert(id: number, g: number, pos: number, k: number): void {
    const at = this.openTiles(id, g, pos, 1)
    const page = this.pageOf(id)
    page[at] = k
    const init = this.#inits[g] as Float64Array
    for (let j = 0; j < init.length; j++) page[at + 1 + j] = init[j] as number
  }

  /**
   * Makes room for `count` tiles at tile position `pos` of group `g` of key `id`, left for the
   * caller to fill (snapshot restore fills a whole group this way); returns the first one's
   * offset in `pageOf(id)`.
   */
  openTiles(id: number, g: number, pos: number, count: number): number {
    if (this.#freeDoubles > this.pageMask && this.#freeDoubles * COMPACT_FREE_DIVISOR > this.#liveDoubles) this.#compact()
    const meta = this.meta
    const m = id * this.metaStride + this.metaBase
    const c = (meta[m + META_CLASS] as number) - 1
    const used = this.#usedIn(m)
    const at = this.#offsetIn(m, g) + pos * (this.strides[g] as number)
    const gap = count * (this.strides[g] as number)
    if (c >= 0 && used + gap <= (this.#caps[c] as number)) {
      const start = meta[m + META_START] as number
      const page = this.pages[start >>> this.pageBits] as Float64Array
      const b = start & this.pageMask
      for (let i = b + used - 1, end = b + at; i >= end; i--) page[i + gap] = page[i] as number
    } else {
      const to = this.#classOf[used + gap] as number
      const from = meta[m + META_START] as number
      const dst = this.#alloc(to)
      if (used > 0) this.#copy(from, dst, at, used, gap)
      if (c >= 0) this.#release(from, c)
      meta[m + META_START] = dst
      meta[m + META_CLASS] = to + 1
    }
    meta[m + META_COUNTS + g] = (meta[m + META_COUNTS + g] as number) + count
    return ((meta[m + META_START] as number) & this.pageMask) + at
  }

  /** Drops the first `count` tiles of group `g` of key `id`. */
  dropFront(id: number, g: number, count: number): void {
    const meta = this.meta
    const m = id * this.metaStride + this.metaBase
    const c = (meta[m + META_CLASS] as number) - 1
    const start = meta[m + META_START] as number
    const used = this.#usedIn(m)
    const at = this.#offsetIn(m, g)
    const gap = count * (this.strides[g] as number)
    const keep = used - gap
    meta[m + META_COUNTS + g] = (meta[m + META_COUNTS + g] as number) - count
    if (keep === 0) {
      this.#release(start, c)
      meta[m + META_CLASS] = 0
      return
    }
    const fit = this.#classOf[keep] as number
    if (fit + 2 <= c) {
      const dst = this.#alloc(fit)
      this.#copy(start, dst, at, used, -gap)
      this.#release(start, c)
      meta[m + META_START] = dst
      meta[m + META_CLASS] = fit + 1
      return
    }
    const page = this.pages[start >>> this.pageBits] as Float64Array
    const b = start & this.pageMask
    for (let i = b + at, end = b + keep; i < end; i++) page[i] = page[i + gap] as number
  }

  /** Frees every tile of key `id`. */
  clear(id: number): void {
    const m = id * this.metaStride + this.metaBase
    const c = (this.meta[m + META_CLASS] as number) - 1
    if (c >= 0) this.#release(this.meta[m + META_START] as number, c)
    this.meta[m + META_CLASS] = 0
    for (let g = 0; g < this.strides.length; g++) this.meta[m + META_COUNTS + g] = 0
  }

  /**
   * Copies the `used` doubles of the region at `src` to the one at `dst`, the doubles from `at`
   * on moved by `shift` (> 0: a gap opened there; < 0: that many doubles at `at` dropped).
   */
  #copy(src: number, dst: number, at: number, used: number, shift: number): void {
    const sp = this.pages[src >>> this.pageBits] as Float64Array
    const dp = this.pages[dst >>> this.pageBits] as Float64Array
    const sb = src & this.pageMask
    const db = dst & this.pageMask
    for (let i = 0; i < at; i++) dp[db + i] = sp[sb + i] as number
    for (let i = shift < 0 ? at - shift : at; i < used; i++) dp[db + i + shift] = sp[sb + i] as number
  }

  #alloc(c: number): number {
    const cap = this.#caps[c] as number
    this.#liveDoubles += cap
    const free = this.#free[c] as number[]
    if (free.length > 0) {
      this.#freeDoubles -= cap
      return free.pop() as number
    }
    let top = this.#top
    const room = this.pageMask + 1 - (top & this.pageMask)
    if (room < cap) {
      // Classes, page sizes and so tops are multiples of CLASS_UNIT: the whole tail goes to the free lists.
      this.#freeDoubles += freePageTail(top, room, this.#caps, this.#free)
      top += room
    }
    if (top >>> this.pageBits >= this.pages.length) this.pages.push(new Float64Array(this.pageMask + 1))
    this.#top = top + cap
    return top
  }

  #release(start: number, c: number): void {
    ;(this.#free[c] as number[]).push(start)
    const cap = this.#caps[c] as number
    this.#freeDoubles += cap
    this.#liveDoubles -= cap
  }

  /**
   * Slides every region down, in address order, to the lowest address it fits at, at the
   * tightest class for its doubles; the pages left empty at the end are dropped. Each live
   * double is read and written once, front to back, in pages already held — copying regions
   * into fresh pages in key order read them at random and paid for a fresh set of pages.
   *
   * A region never moves up: it lands at or below its own start, in its own page or an earlier
   * one (its class is at most its old one, so if it does not fit in what is left of a page, it
   * was not in that page), and no later region starts below its old end.
   */
  #compact(): void {
    const meta = this.meta
    const pages = this.pages
    const bits = this.pageBits
    const mask = this.pageMask
    const live = metaByStart(meta, this.metaBase, this.metaStride, META_START, META_CLASS)
    for (const list of this.#free) list.length = 0
    this.#freeDoubles = 0
    this.#liveDoubles = 0
    let top = 0
    for (let i = 0; i < live.length; i++) {
      const m = live[i] as number
      const used = this.#usedIn(m)
      const c = this.#classOf[used] as number
      const cap = this.#caps[c] as number
      const room = mask + 1 - (top & mask)
      if (room < cap) {
        // Nothing is left to move out of this tail (see above): it goes to the free lists.
        this.#freeDoubles += freePageTail(top, room, this.#caps, this.#free)
        top += room
      }
      const src = meta[m + META_START] as number
      if (src !== top) {
        const sp = pages[src >>> bits] as Float64Array
        const dp = pages[top >>> bits] as Float64Array
        const sb = src & mask
        const db = top & mask
        if (sp === dp) sp.copyWithin(db, sb, sb + used)
        else for (let j = 0; j < used; j++) dp[db + j] = sp[sb + j] as number
      }
      meta[m + META_START] = top
      meta[m + META_CLASS] = c + 1
      this.#liveDoubles += cap
      top += cap
    }
    this.#top = top
    pages.length = (top + mask) >>> bits
  }
}
