/**
 * The deterministic order of a snapshot's appends (docs/design.md §11): event time, then
 * primary-key bytes. A million rows sorted with a comparator cost seconds; here the event times
 * are radix-sorted (stable, a few linear passes over typed arrays) and only rows sharing an event
 * time are compared by key bytes.
 */
import { compareKeyBytes, compareKeysNative } from '../operators/task/key-order.ts'

const DIGIT_BITS = 16
const DIGITS = 1 << DIGIT_BITS
const TWO_32 = 2 ** 32

/**
 * `slots` reordered by (ts[slot], keys[slot] bytes). Event times are safe integers; a slot's
 * (time, key) pair is unique, so the order is total.
 */
export function orderByTimeThenKey(slots: Int32Array, ts: ArrayLike<number>, keys: readonly string[]): Int32Array {
  const n = slots.length
  if (n < 2) return slots.slice()
  let min = Infinity
  let max = -Infinity
  for (let i = 0; i < n; i++) {
    const t = ts[slots[i]!]!
    if (t < min) min = t
    if (t > max) max = t
  }
  // The offset from the smallest time fits 53 bits: split into two 32-bit halves, four 16-bit digits.
  const lo = new Uint32Array(n)
  const hi = new Uint32Array(n)
  for (let i = 0; i < n; i++) {
    const x = ts[slots[i]!]! - min
    const h = Math.floor(x / TWO_32)
    hi[i] = h
    lo[i] = x - h * TWO_32
  }
  const span = max - min
  let order = new Int32Array(n)
  for (let i = 0; i < n; i++) order[i] = i
  let spare = new Int32Array(n)
  const counts = new Int32Array(DIGITS)
  for (let pass = 0; pass < 4; pass++) {
    // Passes above the span's highest digit would leave the order as it is.
    if (pass > 0 && span < 2 ** (DIGIT_BITS * pass)) break
    const words = pass < 2 ? lo : hi
    const shift = (pass % 2) * DIGIT_BITS
    counts.fill(0)
    for (let i = 0; i < n; i++) counts[(words[i]! >>> shift) & (DIGITS - 1)]!++
    let sum = 0
    for (let d = 0; d < DIGITS; d++) {
      const c = counts[d]!
      counts[d] = sum
      sum += c
    }
    for (let i = 0; i < n; i++) {
      const at = order[i]!
      spare[counts[(words[at]! >>> shift) & (DIGITS - 1)]!++] = at
    }
    ;[order, spare] = [spare, order]
  }
  const out = new Int32Array(n)
  for (let i = 0; i < n; i++) out[i] = slots[order[i]!]!
  const manyTies = tiedInLongRuns(out, ts) * 4 >= n
  // The radix sort is stable: slots given in key order leave every run of one time in key order
  // (checked only when many rows share times: otherwise sorting the few runs costs less).
  if (manyTies && inKeyOrder(slots, keys)) return out
  const compare = keyComparator(slots, keys, manyTies)
  for (let from = 0; from < n;) {
    const t = ts[out[from]!]!
    let to = from + 1
    while (to < n && ts[out[to]!] === t) to++
    if (to - from > 1) sortRunByKey(out, from, to, compare)
    from = to
  }
  return out
}

/**
 * Slots by key bytes: JS's own string order when no key holds a surrogate or a unit above one
 * (where the two orders part, operators/task/key-order.ts), and then first by four units of each
 * key past the prefix all keys share, packed into two numbers in slot order: most ties are told
 * apart without reaching two strings scattered over the heap (when `manyTies`: many rows in runs
 * of one event time — whole seconds, a coarse clock).
 */
function keyComparator(slots: Int32Array, keys: readonly string[], manyTies: boolean): (a: number, b: number) => number {
  if (!manyTies) {
    // Few rows share an event time: packing prefixes would cost more than the comparisons it saves.
    for (let i = 0; i < slots.length; i++) if (hasHighUnit(keys[slots[i]!]!)) return (a, b) => compareKeyBytes(keys[a]!, keys[b]!)
    return (a, b) => compareKeysNative(keys[a]!, keys[b]!)
  }
  let size = 0
  const first = keys[slots[0]!]!
  let shared = first.length
  for (let i = 0; i < slots.length; i++) {
    const key = keys[slots[i]!]!
    if (hasHighUnit(key)) return (a, b) => compareKeyBytes(keys[a]!, keys[b]!)
    size = Math.max(size, slots[i]! + 1)
    let j = 0
    while (j < shared && j < key.length && key.charCodeAt(j) === first.charCodeAt(j)) j++
    shared = j
  }
  const head = new Uint32Array(size)
  const next = new Uint32Array(size)
  for (let i = 0; i < slots.length; i++) {
    const slot = slots[i]!
    const key = keys[slot]!
    // Units past the end count as 0, below any unit a key holds: a shorter key sorts first, as in full.
    head[slot] = ((unitAt(key, shared) << 16) | unitAt(key, shared + 1)) >>> 0
    next[slot] = ((unitAt(key, shared + 2) << 16) | unitAt(key, shared + 3)) >>> 0
  }
  return (a, b) => {
    if (head[a] !== head[b]) return head[a]! < head[b]! ? -1 : 1
    if (next[a] !== next[b]) return next[a]! < next[b]! ? -1 : 1
    return compareKeysNative(keys[a]!, keys[b]!)
  }
}

/** How many slots of `out` (in time order) sit in runs of more than 16 sharing an event time. */
function tiedInLongRuns(out: Int32Array, ts: ArrayLike<number>): number {
  let tied = 0
  for (let from = 0; from < out.length;) {
    const t = ts[out[from]!]!
    let to = from + 1
    while (to < out.length && ts[out[to]!] === t) to++
    if (to - from > 16) tied += to - from
    from = to
  }
  return tied
}

/**
 * Whether `slots` are in key-byte order already (a snapshot written in primary-key order, as
 * databases export tables): JS's string order is the bytes' when no key holds a surrogate or a
 * unit above one. A key may repeat (rows of one key at other times).
 */
function inKeyOrder(slots: Int32Array, keys: readonly string[]): boolean {
  let prev = keys[slots[0]!]!
  if (hasHighUnit(prev)) return false
  for (let i = 1; i < slots.length; i++) {
    const key = keys[slots[i]!]!
    if (key < prev || hasHighUnit(key)) return false
    prev = key
  }
  return true
}

const unitAt = (key: string, i: number): number => (i < key.length ? key.charCodeAt(i) : 0)

/** A surrogate or a unit above them (a loop: a regex test per key costs ten times as much). */
function hasHighUnit(key: string): boolean {
  for (let i = 0; i < key.length; i++) if (key.charCodeAt(i) >= 0xd800) return true
  return false
}

/**
 * Slots [from, to) of `out` by key: quicksort (median of three) down to runs of 16, then insertion
 * sort. In JS rather than TypedArray#sort with a comparator, whose call from native code per
 * comparison costs more than the comparison (runs of hundreds of rows sharing an event time are
 * common: times in whole seconds, or a coarse clock).
 */
function sortRunByKey(out: Int32Array, from: number, to: number, compare: (a: number, b: number) => number): void {
  while (to - from > 16) {
    const mid = (from + to) >>> 1
    // Median of three to out[mid], then partition around it (Hoare).
    if (compare(out[mid]!, out[from]!) < 0) swap(out, mid, from)
    if (compare(out[to - 1]!, out[mid]!) < 0) {
      swap(out, to - 1, mid)
      if (compare(out[mid]!, out[from]!) < 0) swap(out, mid, from)
    }
    const pivot = out[mid]!
    let i = from
    let j = to - 1
    for (;;) {
      while (compare(out[i]!, pivot) < 0) i++
      while (compare(out[j]!, pivot) > 0) j--
      if (i >= j) break
      swap(out, i, j)
      i++
      j--
    }
    // Recurse into the smaller side, loop on the larger: the stack stays logarithmic.
    if (j + 1 - from < to - (j + 1)) {
      sortRunByKey(out, from, j + 1, compare)
      from = j + 1
    } else {
      sortRunByKey(out, j + 1, to, compare)
      to = j + 1
    }
  }
  for (let i = from + 1; i < to; i++) {
    const slot = out[i]!
    let j = i - 1
    while (j >= from && compare(out[j]!, slot) > 0) {
      out[j + 1] = out[j]!
      j--
    }
    out[j + 1] = slot
  }
}

function swap(out: Int32Array, a: number, b: number): void {
  const t = out[a]!
  out[a] = out[b]!
  out[b] = t
}
