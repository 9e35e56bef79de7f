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
  // Equal event times: by key bytes — JS's own string order when no key holds a surrogate or a
  // unit above one (where the two orders part, operators/task/key-order.ts).
  let compare = compareKeysNative
  for (let i = 0; i < n; i++) {
    if (HIGH_UNIT.test(keys[out[i]!]!)) {
      compare = compareKeyBytes
      break
    }
  }
  for (let from = 0; from < n; ) {
    const t = ts[out[from]!]!
    let to = from + 1
    while (to < n && ts[out[to]!] === t) to++
    if (to - from > 1) sortRunByKey(out, from, to, keys, compare)
    from = to
  }
  return out
}

const HIGH_UNIT = /[\uD800-\uFFFF]/

/** Insertion sort for the usual handful; TypedArray#sort's setup costs more than that. */
function sortRunByKey(out: Int32Array, from: number, to: number, keys: readonly string[], compare: (a: string, b: string) => number): void {
  if (to - from > 16) {
    out.subarray(from, to).sort((a, b) => compare(keys[a]!, keys[b]!))
    return
  }
  for (let i = from + 1; i < to; i++) {
    const slot = out[i]!
    const key = keys[slot]!
    let j = i - 1
    while (j >= from && compare(keys[out[j]!]!, key) > 0) {
      out[j + 1] = out[j]!
      j--
    }
    out[j + 1] = slot
  }
}
