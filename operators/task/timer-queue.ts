/**
 * Event-time timers of one view: at most one live timer per key id (`timerOf(id)` in the key
 * table), stored in buckets of ids by boundary time plus a min-heap of the distinct bucket
 * times. Re-scheduling a key leaves its old entry behind; an entry is live only while it equals
 * the key's `timerOf(id)` (lazy deletion), so no per-key search is ever needed, and a dropped key
 * (timer NaN) or a reused id never fires from a stale entry.
 *
 * Guarantees: `popDue(watermarkMs)` hands out the earliest due bucket's live ids sorted by key
 * bytes, each once; work is O(log buckets) per bucket plus a sort of the bucket's ids — never a
 * scan over all keys.
 */
import { compareKeyBytes, compareKeysNative } from './key-order.ts'
import { TIME_PREFIX, type KeyTable } from './key-state.ts'

export class TimerQueue {
  readonly #buckets = new Map<number, number[]>()
  readonly #times: number[] = []
  readonly #table: KeyTable
  /**
   * The bucket scheduled into last, and its time: an event's key and a due bucket's keys mostly
   * go to the same next boundary one after another, and a `Map` lookup by a time (a double, not a
   * small integer) is hashed each time. Cleared when that bucket is handed out.
   */
  #lastMs = Number.NaN
  #lastBucket: number[] | undefined = undefined

  constructor(table: KeyTable) {
    this.#table = table
  }

  get size(): number {
    return this.#times.length
  }

  schedule(id: number, atMs: number): void {
    this.#table.setTimer(id, atMs)
    if (Number.isNaN(atMs) || atMs === Infinity) return
    const last = this.#lastBucket
    if (atMs === this.#lastMs && last !== undefined) {
      last.push(id)
      return
    }
    let bucket = this.#buckets.get(atMs)
    if (bucket !== undefined) {
      bucket.push(id)
    } else {
      bucket = [id]
      this.#buckets.set(atMs, bucket)
      this.#pushTime(atMs)
    }
    this.#lastMs = atMs
    this.#lastBucket = bucket
  }

  /** Earliest bucket due at `watermarkMs`, its live ids sorted by key bytes; undefined if none. */
  popDue(watermarkMs: number): { atMs: number; ids: number[] } | undefined {
    const table = this.#table
    for (;;) {
      const atMs = this.#times[0]
      if (atMs === undefined || atMs > watermarkMs) return undefined
      this.#popTime()
      const bucket = this.#buckets.get(atMs) as number[]
      this.#buckets.delete(atMs)
      if (atMs === this.#lastMs) {
        this.#lastMs = Number.NaN
        this.#lastBucket = undefined
      }
      let n = 0
      for (let i = 0; i < bucket.length; i++) {
        const id = bucket[i] as number
        if (table.timerOf(id) === atMs) bucket[n++] = id
      }
      if (n === 0) continue
      bucket.length = n
      if (n > 1) {
        const keyOf = table.keyOf
        if (table.hasHighKeys) {
          bucket.sort((a, b) => compareKeyBytes(keyOf[a] as string, keyOf[b] as string))
        } else {
          sortByPrefix(bucket, 0, n - 1, table.times, table.stride, keyOf)
        }
        // An id may sit twice in one bucket (re-scheduled back to the same time).
        let m = 1
        for (let i = 1; i < n; i++) if (bucket[i] !== bucket[m - 1]) bucket[m++] = bucket[i] as number
        bucket.length = m
      }
      return { atMs, ids: bucket }
    }
  }

  #pushTime(t: number): void {
    const h = this.#times
    let i = h.push(t) - 1
    while (i > 0) {
      const parent = (i - 1) >> 1
      if ((h[parent] as number) <= t) break
      h[i] = h[parent] as number
      i = parent
    }
    h[i] = t
  }

  #popTime(): void {
    const h = this.#times
    const lastT = h.pop() as number
    if (h.length === 0) return
    let i = 0
    for (;;) {
      const l = 2 * i + 1
      if (l >= h.length) break
      const r = l + 1
      const child = r < h.length && (h[r] as number) < (h[l] as number) ? r : l
      if ((h[child] as number) >= lastT) break
      h[i] = h[child] as number
      i = child
    }
    h[i] = lastT
  }
}

/** Sort prefixes of a bucket's ids, copied out of the key records once per sort (grows as needed). */
let prefixScratch = new Float64Array(1024)

/**
 * Sorts ids[lo..hi] by (sort prefix, key). The prefixes are first copied, in id order, into one
 * scratch array sorted alongside the ids: a comparison then reads two adjacent doubles instead of
 * two 64-byte key records strewn over the table (a bucket's records fill the L2 cache; its
 * prefixes the L1). Prefixes decide almost every comparison; key strings break ties.
 */
function sortByPrefix(
  ids: number[],
  lo: number,
  hi: number,
  times: Float64Array,
  stride: number,
  keyOf: readonly string[],
): void {
  if (prefixScratch.length <= hi) prefixScratch = new Float64Array(2 * (hi + 1))
  const pre = prefixScratch
  for (let i = lo; i <= hi; i++) pre[i] = times[stride * (ids[i] as number) + TIME_PREFIX] as number
  sortRange(ids, pre, lo, hi, keyOf)
}

/** Orders entries i, j of (ids, pre) by (sort prefix, key). */
function before(ids: number[], pre: Float64Array, i: number, j: number, keyOf: readonly string[]): boolean {
  const x = pre[i] as number
  const y = pre[j] as number
  if (x !== y) return x < y
  const a = ids[i] as number
  const b = ids[j] as number
  return a !== b && compareKeysNative(keyOf[a] as string, keyOf[b] as string) < 0
}

/**
 * Quicksort (median of three) over insertion-sorted short runs, of ids and their prefixes
 * together. Hand-written because Array#sort calls a comparator closure per comparison, which
 * made this sort a twentieth of the operators' time.
 */
function sortRange(ids: number[], pre: Float64Array, lo: number, hi: number, keyOf: readonly string[]): void {
  while (hi - lo > 16) {
    const mid = (lo + hi) >>> 1
    if (before(ids, pre, mid, lo, keyOf)) swap(ids, pre, mid, lo)
    if (before(ids, pre, hi, lo, keyOf)) swap(ids, pre, hi, lo)
    if (before(ids, pre, hi, mid, keyOf)) swap(ids, pre, hi, mid)
    // The pivot is parked at hi − 1 (its place may move while partitioning).
    swap(ids, pre, mid, hi - 1)
    const p = hi - 1
    let i = lo
    let j = hi - 1
    for (;;) {
      while (before(ids, pre, ++i, p, keyOf));
      while (before(ids, pre, p, --j, keyOf));
      if (i >= j) break
      swap(ids, pre, i, j)
    }
    swap(ids, pre, i, hi - 1)
    // ids[i] is the pivot, in place. Recurse into the smaller side, loop on the larger: stack
    // depth stays logarithmic.
    if (i - lo < hi - i) {
      sortRange(ids, pre, lo, i - 1, keyOf)
      lo = i + 1
    } else {
      sortRange(ids, pre, i + 1, hi, keyOf)
      hi = i - 1
    }
  }
  for (let i = lo + 1; i <= hi; i++) {
    const id = ids[i] as number
    const x = pre[i] as number
    let j = i - 1
    while (
      j >= lo &&
      ((pre[j] as number) !== x
        ? x < (pre[j] as number)
        : id !== ids[j] && compareKeysNative(keyOf[id] as string, keyOf[ids[j] as number] as string) < 0)
    ) {
      ids[j + 1] = ids[j] as number
      pre[j + 1] = pre[j] as number
      j--
    }
    ids[j + 1] = id
    pre[j + 1] = x
  }
}

function swap(ids: number[], pre: Float64Array, i: number, j: number): void {
  const t = ids[i] as number
  ids[i] = ids[j] as number
  ids[j] = t
  const u = pre[i] as number
  pre[i] = pre[j] as number
  pre[j] = u
}
