/**
 * The tiles of one hop group for every key of a view, in paged slabs instead of one array per
 * key: numeric accumulators in Float64Array pages, other accumulators in plain-array pages, and
 * per key id only (first slot, tile count, size class) in typed arrays.
 *
 * Strategy:
 * 1. A key's tiles sit in one region of consecutive slots (slot = one tile: `ns` doubles — the
 *    tile index then the numeric columns — and `os` objects). Tiles stay ascending by index.
 * 2. Regions come in size classes (1…8 tiles, then ×1.25 steps); a region that is full moves
 *    to the next class, one that has shrunk two classes below its own moves down. Freed regions
 *    go to a free list of their class, so the slabs do not fragment and memory follows the live
 *    tiles (≤ 25 % slack per key, no per-key array headers).
 * 3. Inserting or evicting tiles shifts the region in place: the hot loop allocates nothing and
 *    a key's tiles of a group are contiguous in memory.
 * 4. Pages have a fixed number of slots and a region never crosses a page, so the slabs grow by
 *    whole pages without copying and a slot's page is `slot >>> pageBits`.
 * 5. Free lists alone would keep the regions keys have grown out of (keys grow together, so
 *    nobody takes them back): once free slots exceed a quarter of the live ones, the slab is
 *    compacted — every region copied, at its tightest class, into fresh pages. Each compaction
 *    follows at least live/4 releases, so its cost is amortised O(1) per insert.
 *
 * Evicted or freed object slots are cleared so that dropped accumulators can be collected.
 */

/** Region capacities in tiles: 1…8, then 10, 12, 14, 16, 20, 24, 28, 32, 40, … up to `atLeast`. */
export function classCaps(atLeast: number): number[] {
  const caps = [1, 2, 3, 4, 5, 6, 7, 8]
  for (let p = 8; (caps[caps.length - 1] as number) < atLeast; p *= 2) caps.push(p + p / 4, p + p / 2, p + (3 * p) / 4, 2 * p)
  return caps
}

export class TileSlab {
  /** Numeric stride: tile index + numeric columns (0: objects only, key-regions.ts holds the numbers). */
  readonly ns: number
  /** Object stride: object columns (0: none). */
  readonly os: number
  readonly pageBits: number
  readonly pageMask: number
  readonly num: Float64Array[] = []
  readonly obj: unknown[][] = []
  /**
   * Per key id, at `id·metaStride + metaBase`: first slot of its region, tiles held, size class
   * + 1 (0: no region). The key table interleaves every group's triple (and more) in one array,
   * so a key's metadata is one cache line, not one line per field and group.
   */
  meta: Int32Array = new Int32Array(3 * 1024)
  metaStride = 3
  metaBase = 0
  readonly #caps: Int32Array
  readonly #classOf: Int8Array
  readonly #free: number[][]
  readonly #numInit: Float64Array
  readonly #objInits: readonly (() => unknown)[]
  #top = 0
  /** Slots in free lists, and slots of live regions. */
  #freeSlots = 0
  #liveSlots = 0

  /**
   * `numInit`: the empty value of each numeric column (null: no numeric part, not even the tile
   * index — the view keeps its numbers in key-regions.ts); `objInits`: makes each object slot's
   * empty value; `minPageBits`: log2 of the slots per page (tests use tiny pages).
   */
  constructor(numInit: readonly number[] | null, objInits: readonly (() => unknown)[], maxTiles: number, minPageBits = 14) {
    this.ns = numInit === null ? 0 : numInit.length + 1
    this.os = objInits.length
    this.#numInit = Float64Array.from(numInit ?? [])
    this.#objInits = objInits
    // An insert may precede the eviction it causes: a region holds up to maxTiles + 1 tiles.
    const caps = classCaps(maxTiles + 1)
    this.#caps = Int32Array.from(caps)
    this.#classOf = new Int8Array(maxTiles + 2)
    for (let n = 1, c = 0; n < this.#classOf.length; n++) {
      while ((caps[c] as number) < n) c++
      this.#classOf[n] = c
    }
    this.#free = caps.map(() => [])
    let bits = minPageBits
    while (1 << bits < (caps[caps.length - 1] as number)) bits++
    this.pageBits = bits
    this.pageMask = (1 << bits) - 1
  }

  /** Slot accounting (for tests and memory figures). */
  stats(): { liveSlots: number; freeSlots: number; pageSlots: number } {
    return { liveSlots: this.#liveSlots, freeSlots: this.#freeSlots, pageSlots: this.num.length * (this.pageMask + 1) }
  }

  /** Tiles held by key `id`. */
  count(id: number): number {
    return this.meta[id * this.metaStride + this.metaBase + 1] as number
  }

  /** First slot of key `id`'s region (meaningless while it holds no tile). */
  slotOf(id: number): number {
    return this.meta[id * this.metaStride + this.metaBase] as number
  }

  /** Uses a shared metadata array (zero-filled for ids never seen); see `meta`. */
  bindMeta(meta: Int32Array, stride: number, base: number): void {
    this.meta = meta
    this.metaStride = stride
    this.metaBase = base
  }

  /** Makes room for key ids below `size` in the slab's own metadata array. */
  ensureIds(size: number): void {
    if (size * this.metaStride <= this.meta.length) return
    const meta = new Int32Array(size * this.metaStride)
    meta.set(this.meta)
    this.meta = meta
  }

  /** Inserts an empty tile with index `k` at tile position `pos` of key `id`; returns its slot. */
  insert(id: number, pos: number, k: number): number {
    if (this.#freeSlots > this.pageMask && this.#freeSlots * 4 > this.#liveSlots) this.#compact()
    const meta = this.meta
    const m = id * this.metaStride + this.metaBase
    const n = meta[m + 1] as number
    const c = (meta[m + 2] as number) - 1
    const ns = this.ns
    const os = this.os
    let slot: number
    if (c >= 0 && n < (this.#caps[c] as number)) {
      slot = meta[m] as number
      const page = this.num[slot >>> this.pageBits] as Float64Array
      const base = (slot & this.pageMask) * ns
      for (let i = base + n * ns - 1, end = base + pos * ns; i >= end; i--) page[i + ns] = page[i] as number
      if (os > 0) {
        const opage = this.obj[slot >>> this.pageBits] as unknown[]
        const obase = (slot & this.pageMask) * os
        for (let i = obase + n * os - 1, end = obase + pos * os; i >= end; i--) opage[i + os] = opage[i]
      }
    } else {
      const to = this.#classOf[n + 1] as number
      const from = meta[m] as number
      slot = this.#alloc(to)
      if (n > 0) this.#copy(from, 0, n, slot, pos)
      if (c >= 0) this.#release(from, c, n)
      meta[m] = slot
      meta[m + 2] = to + 1
    }
    const page = this.num[slot >>> this.pageBits] as Float64Array
    const at = (slot & this.pageMask) * ns + pos * ns
    if (ns > 0) page[at] = k
    const init = this.#numInit
    for (let j = 0; j < init.length; j++) page[at + 1 + j] = init[j] as number
    if (os > 0) {
      const opage = this.obj[slot >>> this.pageBits] as unknown[]
      const oat = (slot & this.pageMask) * os + pos * os
      for (let j = 0; j < os; j++) opage[oat + j] = (this.#objInits[j] as () => unknown)()
    }
    meta[m + 1] = n + 1
    return slot
  }

  /** Drops the first `count` tiles of key `id`. */
  dropFront(id: number, count: number): void {
    const meta = this.meta
    const m = id * this.metaStride + this.metaBase
    const n = meta[m + 1] as number
    const keep = n - count
    const slot = meta[m] as number
    const c = (meta[m + 2] as number) - 1
    if (keep === 0) {
      this.#release(slot, c, n)
      meta[m + 1] = 0
      meta[m + 2] = 0
      return
    }
    const fit = this.#classOf[keep] as number
    if (fit + 2 <= c) {
      const to = this.#alloc(fit)
      this.#copy(slot, count, keep, to, -1)
      this.#release(slot, c, n)
      meta[m] = to
      meta[m + 1] = keep
      meta[m + 2] = fit + 1
      return
    }
    const ns = this.ns
    const page = this.num[slot >>> this.pageBits] as Float64Array
    const base = (slot & this.pageMask) * ns
    for (let i = base, end = base + keep * ns, d = count * ns; i < end; i++) page[i] = page[i + d] as number
    const os = this.os
    if (os > 0) {
      const opage = this.obj[slot >>> this.pageBits] as unknown[]
      const obase = (slot & this.pageMask) * os
      for (let i = obase, end = obase + keep * os, d = count * os; i < end; i++) opage[i] = opage[i + d]
      for (let i = obase + keep * os, end = obase + n * os; i < end; i++) opage[i] = undefined
    }
    meta[m + 1] = keep
  }

  /** Frees every tile of key `id`. */
  clear(id: number): void {
    const m = id * this.metaStride + this.metaBase
    const c = (this.meta[m + 2] as number) - 1
    if (c >= 0) this.#release(this.meta[m] as number, c, this.meta[m + 1] as number)
    this.meta[m + 1] = 0
    this.meta[m + 2] = 0
  }

  /** A region for `count` tiles, filled by the caller (snapshot restore); returns its slot. */
  allocate(id: number, count: number): number {
    this.clear(id)
    if (count === 0) return 0
    const c = this.#classOf[count] as number
    const slot = this.#alloc(c)
    const m = id * this.metaStride + this.metaBase
    this.meta[m] = slot
    this.meta[m + 1] = count
    this.meta[m + 2] = c + 1
    return slot
  }

  /**
   * Copies `count` tiles from tile `from` of the region at slot `src` to the start of the region
   * at slot `dst`, leaving a one-tile gap before source tile `gapAt` (−1: no gap).
   */
  #copy(src: number, from: number, count: number, dst: number, gapAt: number): void {
    const ns = this.ns
    const os = this.os
    const sp = this.num[src >>> this.pageBits] as Float64Array
    const dp = this.num[dst >>> this.pageBits] as Float64Array
    const sb = (src & this.pageMask) * ns + from * ns
    const db = (dst & this.pageMask) * ns
    const split = gapAt < 0 ? count : gapAt
    for (let i = 0; i < split * ns; i++) dp[db + i] = sp[sb + i] as number
    for (let i = split * ns; i < count * ns; i++) dp[db + i + ns] = sp[sb + i] as number
    if (os === 0) return
    const so = this.obj[src >>> this.pageBits] as unknown[]
    const dobj = this.obj[dst >>> this.pageBits] as unknown[]
    const sob = (src & this.pageMask) * os + from * os
    const dob = (dst & this.pageMask) * os
    for (let i = 0; i < split * os; i++) dobj[dob + i] = so[sob + i]
    for (let i = split * os; i < count * os; i++) dobj[dob + i + os] = so[sob + i]
  }

  #alloc(c: number): number {
    const cap = this.#caps[c] as number
    this.#liveSlots += cap
    const free = this.#free[c] as number[]
    if (free.length > 0) {
      this.#freeSlots -= cap
      return free.pop() as number
    }
    let top = this.#top
    const room = this.pageMask + 1 - (top & this.pageMask)
    if (room < cap) {
      this.#freeSlots += freePageTail(top, room, this.#caps, this.#free)
      top += room
    }
    const page = top >>> this.pageBits
    if (page >= this.num.length) {
      this.num.push(new Float64Array((this.pageMask + 1) * this.ns))
      this.obj.push(this.os > 0 ? new Array<unknown>((this.pageMask + 1) * this.os).fill(undefined) : [])
    }
    this.#top = top + cap
    return top
  }

  #release(slot: number, c: number, n: number): void {
    const os = this.os
    if (os > 0) {
      const opage = this.obj[slot >>> this.pageBits] as unknown[]
      const obase = (slot & this.pageMask) * os
      for (let i = obase, end = obase + n * os; i < end; i++) opage[i] = undefined
    }
    ;(this.#free[c] as number[]).push(slot)
    const cap = this.#caps[c] as number
    this.#freeSlots += cap
    this.#liveSlots -= cap
  }

  /** Copies every region, at the tightest class for its tiles, into fresh pages. */
  #compact(): void {
    const oldNum = this.num.splice(0)
    const oldObj = this.obj.splice(0)
    for (const list of this.#free) list.length = 0
    this.#top = 0
    this.#freeSlots = 0
    this.#liveSlots = 0
    const ns = this.ns
    const os = this.os
    const meta = this.meta
    for (let m = this.metaBase; m < meta.length; m += this.metaStride) {
      if (meta[m + 2] === 0) continue
      const n = meta[m + 1] as number
      const src = meta[m] as number
      const c = this.#classOf[n] as number
      const dst = this.#alloc(c)
      const sp = oldNum[src >>> this.pageBits] as Float64Array
      const dp = this.num[dst >>> this.pageBits] as Float64Array
      const sb = (src & this.pageMask) * ns
      const db = (dst & this.pageMask) * ns
      for (let i = 0; i < n * ns; i++) dp[db + i] = sp[sb + i] as number
      if (os > 0) {
        const so = oldObj[src >>> this.pageBits] as unknown[]
        const dobj = this.obj[dst >>> this.pageBits] as unknown[]
        const sob = (src & this.pageMask) * os
        const dob = (dst & this.pageMask) * os
        for (let i = 0; i < n * os; i++) dobj[dob + i] = so[sob + i]
      }
      meta[m] = dst
      meta[m + 2] = c + 1
    }
  }
}

/**
 * The tail of a page, `room` slots from `top` on, would not fit the region wanted: hands it to
 * the free lists of the largest classes that fit (`caps` ascending); returns the slots handed
 * over (all of them when the smallest class is 1).
 */
export function freePageTail(top: number, room: number, caps: Int32Array, free: number[][]): number {
  let rest = room
  for (let k = caps.length - 1; k >= 0 && rest > 0; k--) {
    const kc = caps[k] as number
    while (rest >= kc) {
      ;(free[k] as number[]).push(top)
      top += kc
      rest -= kc
    }
  }
  return room - rest
}

/** Scans below this many tiles, binary search from it on. */
const SCAN_TILES = 16

/**
 * Index (in tiles) of the first tile with index ≥ k among `count` tiles at `base` of a page.
 * A key's region is usually cold and short (one to a dozen tiles): a forward scan reads it from
 * its first line on, and its loads do not wait on each other's comparisons, where a binary
 * search's probes are dependent misses on lines in no particular order.
 */
export function firstTileAt(page: Float64Array, base: number, count: number, stride: number, k: number): number {
  if (count < SCAN_TILES) {
    let i = 0
    while (i < count && (page[base + i * stride] as number) < k) i++
    return i
  }
  let lo = 0
  let hi = count
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    if ((page[base + mid * stride] as number) < k) lo = mid + 1
    else hi = mid
  }
  return lo
}
