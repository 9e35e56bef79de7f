/**
 * variance: population variance of finite numbers, Σ(x − mean)² / n, or with `sample: true` the
 * sample variance, Σ(x − mean)² / (n − 1). Empty → null; the sample variance of one value → null.
 *
 * Accumulator (the `moments` kernel, shared with stddev): count n, a shift K (the first value the
 * accumulator saw), the mean of x − K and M2 = Σ(x − mean)², updated with Welford's method, x by
 * x, and merged with the parallel formula of Chan, Golub and LeVeque: δ = mean_b − mean_a,
 * mean = mean_a + δ·n_b/n, M2 = M2_a + M2_b + δ²·n_a·n_b/n. Neither subtracts two large sums,
 * and the shift keeps the running mean near zero when values cluster, as they do when they sit
 * far from zero: x − K is then exact (Sterbenz), so 1e9 + noise keeps the full precision of its
 * spread. test/unit/operators/variance.test.ts measures the error against exact arithmetic:
 * a few 2^−53 relative, where Σx² − (Σx)²/n is off by orders of magnitude.
 *
 * Inputs are bounded by ±2^476 (≈1.95e143): Σ(x − mean)² ≤ n·2^952 stays below 2^1015 for any
 * n < 2^63, so no accumulator or emitted value can overflow (docs/semantics.md §1).
 *
 * Encoding: uvarint n, f64 shift, f64 mean, f64 M2.
 */
import type { FeatureValue } from '../../features/types.ts'
import { defineAggregation, mainOutput } from './contract.ts'
import type { InputRule } from './input-check.ts'
import type { Aggregator } from './types.ts'

export interface Moments {
  n: number
  /** The first value seen (0 while empty); `mean` is the mean of x − shift. */
  shift: number
  mean: number
  m2: number
}

/** 2^476: the largest magnitude the moments kernel takes (see above). */
export const MAX_MOMENT_MAGNITUDE = 2 ** 476

const MOMENT_NUMBERS: InputRule = Object.freeze({
  kind: 'number',
  maxMagnitude: MAX_MOMENT_MAGNITUDE,
  bound: Object.freeze({ text: '±2^476 (≈1.95e143)', why: 'so that no sum of squares can overflow' }),
})

export const momentsKernel: Aggregator<Moments> = {
  name: 'moments',
  accEncoding: 'uvarint n, f64 shift, f64 mean of x − shift, f64 M2 (shifted Welford)',
  input: MOMENT_NUMBERS,
  init: () => ({ n: 0, shift: 0, mean: 0, m2: 0 }),
  add: (acc, value) => {
    if (acc.n === 0) acc.shift = value as number
    const y = (value as number) - acc.shift
    acc.n += 1
    const delta = y - acc.mean
    acc.mean += delta / acc.n
    acc.m2 += delta * (y - acc.mean)
    return acc
  },
  merge: (into, from) => {
    if (from.n === 0) return into
    if (into.n === 0) {
      // A copy: `from` stays owned by its tile.
      into.n = from.n
      into.shift = from.shift
      into.mean = from.mean
      into.m2 = from.m2
      return into
    }
    const n = into.n + from.n
    // The difference of the two means, shifts first (exact when they are close).
    const delta = from.shift - into.shift + (from.mean - into.mean)
    into.mean += delta * (from.n / n)
    into.m2 += from.m2 + delta * delta * ((into.n * from.n) / n)
    into.n = n
    return into
  },
  finish: (acc) => varianceOf(acc, false),
  encode: (acc, w) => {
    w.uvarint(acc.n)
    w.f64(acc.shift)
    w.f64(acc.mean)
    w.f64(acc.m2)
  },
  decode: (r) => ({ n: r.uvarint(), shift: r.f64(), mean: r.f64(), m2: r.f64() }),
}

/** The population (n) or sample (n − 1) variance; null without enough values. */
export function varianceOf(acc: Moments, sample: boolean): FeatureValue {
  const divisor = sample ? acc.n - 1 : acc.n
  // M2 ≥ 0 in exact arithmetic; rounding cannot make it negative, but a clamp costs nothing.
  return divisor <= 0 ? null : Math.max(0, acc.m2) / divisor
}

/** The moments kernel finished by `finish` (the accumulator and its column are shared). */
export function momentsFinisher(finish: (acc: Moments) => FeatureValue): Aggregator<Moments> {
  return { ...momentsKernel, finish }
}

/** The `sample` parameter of variance and stddev: it changes only the divisor, so columns are shared. */
export function sampleParam(op: string) {
  return {
    name: 'sample',
    doc: 'true: divide by n − 1 (sample); false, the default: by n (population)',
    default: false,
    finishOnly: true,
    problem: (v: unknown, field: string | undefined) =>
      typeof v === 'boolean' ? undefined : `${op}'s sample must be true (divide by n − 1) or false (by n, the default), e.g. { op: '${op}', field: '${field}', sample: true }`,
  }
}

export const variance = defineAggregation({
  op: 'variance',
  summary: 'population variance of the values (sample variance with sample: true); empty → null, sample of one value → null',
  field: 'required',
  fields: 'numeric',
  params: [sampleParam('variance')],
  outputs: [mainOutput('double')],
  label: (p: { readonly sample: boolean }) => (p.sample ? 'variance_samp' : 'variance'),
  compute: (p: { readonly sample: boolean }) => ({ column: momentsKernel, finisher: momentsFinisher((acc) => varianceOf(acc, p.sample)) }),
})
