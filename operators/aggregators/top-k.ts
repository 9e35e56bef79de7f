/**
 * top_k(k): the k most frequent non-null values of the window with their counts, as two features
 * — the values (a list of the field's type) and, with the suffix `_counts`, their counts (long[]),
 * index by index. Order: count descending, ties by value ascending — numbers before strings,
 * numbers numerically, strings by code point (= UTF-8 byte) order. Empty → [] and [].
 *
 * Why two lists: they are the smallest faithful form the value model already carries everywhere
 * (online codecs, Iceberg, serving JSON, Parquet training sets all take long/double/string lists);
 * a map or a list of pairs would be a new value type in every one of them.
 *
 * Accumulator: the distinct values with their counts, sorted by value, flattened as
 * `[value, count, value, count, …]` (no object per entry; −0 counts as 0). It is exact while it
 * holds at most TOP_K_CAPACITY = 1024 distinct values, so a window's top k is exact whenever the
 * window holds at most 1024 distinct values. Beyond that the accumulator becomes a Misra–Gries
 * summary of 1024 counters (Agarwal et al., "Mergeable summaries", 2012): the 1025th largest count
 * is subtracted from every count and the values left at zero are dropped. Then every reported
 * count is at most N/1025 below the true one (N: the values folded in) and every value more
 * frequent than N/1025 is kept. Memory: at most 1024 entries per tile or window accumulator.
 * Like every fold, the result depends only on the fold order, which the engine fixes (and on
 * nothing at all while exact).
 *
 * Encoding: uvarint entry count, then per entry (ascending value) u8 tag + f64|str value, uvarint count.
 */
import { InvariantViolation } from '../../core/errors.ts'
import type { FeatureValue } from '../../features/types.ts'
import { defineAggregation, scalarTypeOf, sizeParam, type Computation } from './contract.ts'
import { SCALARS } from './input-check.ts'
import { readScalar, writeScalar, type AggInput, type Aggregator } from './types.ts'

/** The most distinct values an accumulator keeps exactly (see above). */
export const TOP_K_CAPACITY = 1024
/** The largest k a definition may ask for (a row holds 2k values). */
export const MAX_TOP_K = 100

/** Values and counts, ascending by value: value at 2i, count at 2i + 1. */
export type TopKAcc = (number | string)[]

/** Code point order of two strings (UTF-16 order differs only for surrogates vs U+E000–U+FFFF). */
function compareStrings(a: string, b: string): number {
  const n = Math.min(a.length, b.length)
  for (let i = 0; i < n; i++) {
    let x = a.charCodeAt(i)
    let y = b.charCodeAt(i)
    if (x === y) continue
    // Surrogates (D800–DFFF) encode code points above FFFF: they sort after E000–FFFF.
    if (x >= 0xd800 && y >= 0xd800) {
      x = x >= 0xe000 ? x - 0x800 : x + 0x2000
      y = y >= 0xe000 ? y - 0x800 : y + 0x2000
    }
    return x - y
  }
  return a.length - b.length
}

/** The documented order of values: numbers (ascending) before strings (code point order). */
export function compareValues(a: AggInput, b: AggInput): number {
  if (typeof a === 'number') return typeof b === 'number' ? (a < b ? -1 : a > b ? 1 : 0) : -1
  return typeof b === 'number' ? 1 : compareStrings(a, b)
}

/** Index of the first entry whose value is ≥ v. */
function lowerBound(acc: TopKAcc, v: AggInput): number {
  let lo = 0
  let hi = acc.length / 2
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    if (compareValues(acc[2 * mid] as AggInput, v) < 0) lo = mid + 1
    else hi = mid
  }
  return lo
}

/** Misra–Gries: beyond the capacity, subtract the (capacity+1)-th largest count and drop what reaches 0. */
function reduce(acc: TopKAcc): TopKAcc {
  const entries = acc.length / 2
  if (entries <= TOP_K_CAPACITY) return acc
  const counts = new Float64Array(entries)
  for (let i = 0; i < entries; i++) counts[i] = acc[2 * i + 1] as number
  counts.sort()
  const cut = counts[entries - 1 - TOP_K_CAPACITY] as number
  const out: TopKAcc = []
  for (let i = 0; i < acc.length; i += 2) {
    const left = (acc[i + 1] as number) - cut
    if (left > 0) out.push(acc[i] as AggInput, left)
  }
  return out
}

/** The ranks of the k most frequent entries: count descending, then value ascending (entry order). */
function topEntries(acc: TopKAcc, k: number): number[] {
  const entries = Array.from({ length: acc.length / 2 }, (_, i) => i)
  // Stable: equal counts keep the ascending value order of the accumulator.
  entries.sort((x, y) => (acc[2 * y + 1] as number) - (acc[2 * x + 1] as number))
  return entries.slice(0, k)
}

export function topKKernel(k: number): Aggregator<TopKAcc> {
  if (!Number.isSafeInteger(k) || k < 1) throw new InvariantViolation(`top_k needs a positive whole k, got ${k}`)
  return {
    name: 'top_k',
    accEncoding: `uvarint entries (≤ ${TOP_K_CAPACITY}), then per entry ascending u8 tag + f64|str value, uvarint count`,
    input: SCALARS,
    init: () => [],
    add: (acc, value) => {
      const v = value === 0 ? 0 : value
      const i = lowerBound(acc, v)
      if (2 * i < acc.length && compareValues(acc[2 * i] as AggInput, v) === 0) {
        acc[2 * i + 1] = (acc[2 * i + 1] as number) + 1
        return acc
      }
      // Rebuilt at exact length: a grown array keeps slack, and there is one per tile.
      const out: TopKAcc = new Array<number | string>(acc.length + 2)
      for (let j = 0; j < 2 * i; j++) out[j] = acc[j] as number | string
      out[2 * i] = v
      out[2 * i + 1] = 1
      for (let j = 2 * i; j < acc.length; j++) out[j + 2] = acc[j] as number | string
      return reduce(out)
    },
    merge: (into, from) => {
      if (from.length === 0) return into
      if (into.length === 0) return from.slice()
      const out: TopKAcc = []
      let i = 0
      let j = 0
      while (i < into.length || j < from.length) {
        const order = i >= into.length ? 1 : j >= from.length ? -1 : compareValues(into[i] as AggInput, from[j] as AggInput)
        if (order < 0) {
          out.push(into[i] as AggInput, into[i + 1] as number)
          i += 2
        } else if (order > 0) {
          out.push(from[j] as AggInput, from[j + 1] as number)
          j += 2
        } else {
          out.push(into[i] as AggInput, (into[i + 1] as number) + (from[j + 1] as number))
          i += 2
          j += 2
        }
      }
      return reduce(out)
    },
    finish: (acc) => topEntries(acc, k).map((e) => acc[2 * e] as AggInput) as FeatureValue,
    encode: (acc, w) => {
      w.uvarint(acc.length / 2)
      for (let i = 0; i < acc.length; i += 2) {
        writeScalar(w, acc[i] as AggInput)
        w.uvarint(acc[i + 1] as number)
      }
    },
    decode: (r) => {
      const n = r.uvarint()
      const acc: TopKAcc = new Array<number | string>(2 * n)
      for (let i = 0; i < n; i++) {
        acc[2 * i] = readScalar(r)
        acc[2 * i + 1] = r.uvarint()
      }
      return acc
    },
  }
}

/** The same accumulator, finished as the counts of the top k values. */
function topKCounts(kernel: Aggregator<TopKAcc>, k: number): Aggregator<TopKAcc> {
  return { ...kernel, finish: (acc) => topEntries(acc, k).map((e) => acc[2 * e + 1] as number) }
}

export const topK = defineAggregation({
  op: 'top_k',
  summary: 'the k most frequent values (count descending, ties by value) and, as <name>_counts, their counts; empty → []',
  field: 'required',
  fields: 'scalar',
  params: [sizeParam('top_k', 'k', MAX_TOP_K, `how many values to report (1 to ${MAX_TOP_K})`, 5)],
  outputs: [
    { name: 'values', suffix: '', type: (kind) => `${scalarTypeOf(kind)}[]` },
    { name: 'counts', suffix: '_counts', type: () => 'long[]' },
  ],
  label: (p: { readonly k: number }) => `top_${p.k}`,
  compute: (p: { readonly k: number }, output): Computation => {
    const kernel = topKKernel(p.k)
    return { column: kernel, finisher: output === 0 ? kernel : topKCounts(kernel, p.k) }
  },
  listSize: (p: { readonly k: number }) => ({ max: p.k, phrase: `top ${p.k} strings`, knob: "top_k's k" }),
})
