/**
 * approx_percentile(q): a deterministic DDSketch (Masson et al. 2019) with relative accuracy
 * α = 1 %; empty → null.
 *
 * The answer for quantile q over n values is an estimate of x[r], r = ⌊q·(n−1)⌋ (0-based, sorted
 * ascending), guaranteed |answer − x[r]| ≤ α·|x[r]| (up to float rounding of the bucket
 * boundaries), except for (a) |x| < 1e−9, counted as 0, and (b) values of magnitude below
 * (largest magnitude of the same sign)·γ^−2047 ≈ largest/6.7e17, folded into the lowest kept
 * bucket. Bucket i of a sign holds magnitudes in (γ^(i−1), γ^i], γ = (1+α)/(1−α).
 *
 * Exact mergeability: each value lands in bucket max(i, imax − 2047) of its sign, where imax is
 * the largest index seen. That is a function of the multiset alone (folding is monotone in
 * imax), and counts are integers, so add/merge order never matters: merge of tiles == the
 * sketch of all values, bucket for bucket.
 *
 * Encoding: uvarint zeroCount, then for the positive and the negative store: uvarint n, then n ×
 * (svarint index, uvarint count), indices ascending.
 */
import { InvariantViolation } from '../../core/errors.ts'
import type { Aggregator } from './types.ts'
import { defineAggregation, mainOutput } from './contract.ts'
import { SUMMABLE_NUMBERS } from './input-check.ts'

export const PERCENTILE_RELATIVE_ACCURACY = 0.01
const GAMMA = (1 + PERCENTILE_RELATIVE_ACCURACY) / (1 - PERCENTILE_RELATIVE_ACCURACY)
const LOG_GAMMA = Math.log(GAMMA)
const MIN_MAGNITUDE = 1e-9
const MAX_BUCKETS = 2048

export interface BucketStore {
  idx: number[]
  cnt: number[]
}

export interface DdAcc {
  pos: BucketStore
  neg: BucketStore
  zero: number
}

function bucketIndex(magnitude: number): number {
  return Math.ceil(Math.log(magnitude) / LOG_GAMMA)
}

function bucketValue(i: number): number {
  return (2 * GAMMA ** i) / (GAMMA + 1)
}

function storeAdd(s: BucketStore, i: number, c: number): void {
  const top = s.idx.length === 0 ? i : Math.max(i, s.idx[s.idx.length - 1] as number)
  const floor = top - MAX_BUCKETS + 1
  if (i < floor) i = floor
  let lo = 0
  let hi = s.idx.length
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    if ((s.idx[mid] as number) < i) lo = mid + 1
    else hi = mid
  }
  if (s.idx[lo] === i) {
    s.cnt[lo] = (s.cnt[lo] as number) + c
  } else {
    s.idx.splice(lo, 0, i)
    s.cnt.splice(lo, 0, c)
  }
  if ((s.idx[0] as number) < floor) foldBelow(s, floor)
}

/** Folds every bucket below `floor` into bucket `floor` (keeps the sketch at MAX_BUCKETS). */
function foldBelow(s: BucketStore, floor: number): void {
  let n = 0
  let moved = 0
  while (n < s.idx.length && (s.idx[n] as number) < floor) moved += s.cnt[n++] as number
  s.idx.splice(0, n)
  s.cnt.splice(0, n)
  if (s.idx[0] === floor) s.cnt[0] = (s.cnt[0] as number) + moved
  else {
    s.idx.unshift(floor)
    s.cnt.unshift(moved)
  }
}

function storeMerge(into: BucketStore, from: BucketStore): void {
  for (let k = 0; k < from.idx.length; k++) storeAdd(into, from.idx[k] as number, from.cnt[k] as number)
}

function countOf(s: BucketStore): number {
  let n = 0
  for (const c of s.cnt) n += c
  return n
}

export function ddQuantile(acc: DdAcc, q: number): number | null {
  const negCount = countOf(acc.neg)
  const n = negCount + acc.zero + countOf(acc.pos)
  if (n === 0) return null
  const r = Math.floor(q * (n - 1))
  let seen = 0
  for (let k = acc.neg.idx.length - 1; k >= 0; k--) {
    seen += acc.neg.cnt[k] as number
    if (seen > r) return -bucketValue(acc.neg.idx[k] as number)
  }
  seen += acc.zero
  if (seen > r) return 0
  for (let k = 0; k < acc.pos.idx.length; k++) {
    seen += acc.pos.cnt[k] as number
    if (seen > r) return bucketValue(acc.pos.idx[k] as number)
  }
  throw new InvariantViolation('ddsketch counts inconsistent')
}

function writeStore(s: BucketStore, w: import('../codec/bytes.ts').ByteWriter): void {
  w.uvarint(s.idx.length)
  for (let k = 0; k < s.idx.length; k++) {
    w.svarint(s.idx[k] as number)
    w.uvarint(s.cnt[k] as number)
  }
}

function readStore(r: import('../codec/bytes.ts').ByteReader): BucketStore {
  const n = r.uvarint()
  const s: BucketStore = { idx: [], cnt: [] }
  for (let k = 0; k < n; k++) {
    s.idx.push(r.svarint())
    s.cnt.push(r.uvarint())
  }
  return s
}

/** The sketch, finished at `quantile` (the quantile changes only `finish`: sketches are shared). */
export function approxPercentileKernel(quantile: number): Aggregator<DdAcc> {
  if (!(quantile >= 0 && quantile <= 1)) throw new InvariantViolation(`approx_percentile needs a quantile in [0, 1], got ${quantile}`)
  return {
    name: 'approx_percentile',
    accEncoding: 'uvarint zero count; positive then negative store: uvarint n, n × (svarint bucket, uvarint count)',
    input: SUMMABLE_NUMBERS,
    init: () => ({ pos: { idx: [], cnt: [] }, neg: { idx: [], cnt: [] }, zero: 0 }),
    add: (acc, value) => {
      const v = value as number
      const magnitude = Math.abs(v)
      if (magnitude < MIN_MAGNITUDE) acc.zero += 1
      else storeAdd(v > 0 ? acc.pos : acc.neg, bucketIndex(magnitude), 1)
      return acc
    },
    merge: (into, from) => {
      storeMerge(into.pos, from.pos)
      storeMerge(into.neg, from.neg)
      into.zero += from.zero
      return into
    },
    finish: (acc) => ddQuantile(acc, quantile),
    encode: (acc, w) => {
      w.uvarint(acc.zero)
      writeStore(acc.pos, w)
      writeStore(acc.neg, w)
    },
    decode: (r) => {
      const zero = r.uvarint()
      const pos = readStore(r)
      const neg = readStore(r)
      return { pos, neg, zero }
    },
  }
}

/** `p<quantile×100>` in place of the op (`amount_p95_1d`, `amount_p99_9_1d`): several quantiles of one field are common. */
function quantileLabel(q: number): string {
  return `p${String(Math.round(q * 1e6) / 1e4).replace('.', '_')}`
}

export const approxPercentile = defineAggregation({
  op: 'approx_percentile',
  summary: 'estimated q-quantile (DDSketch, 1 % relative accuracy); empty → null',
  field: 'required',
  fields: 'numeric',
  params: [
    {
      name: 'quantile',
      doc: 'the quantile q in [0, 1]',
      finishOnly: true,
      problem: (v) => (typeof v === 'number' && v >= 0 && v <= 1 ? undefined : 'approx_percentile needs quantile in [0, 1], e.g. quantile: 0.95'),
    },
  ],
  outputs: [mainOutput('double')],
  label: (p: { readonly quantile: number }) => quantileLabel(p.quantile),
  compute: (p: { readonly quantile: number }) => {
    const kernel = approxPercentileKernel(p.quantile)
    return { column: kernel, finisher: kernel }
  },
})
