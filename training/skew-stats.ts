/**
 * The arithmetic of `kfs skew-report` (Nubank's method: compare what was served with what the
 * training set would hold for the same entity at the same instant), per feature:
 *
 * - exact match: the served value equals the offline value — null only equals null, numbers by
 *   `Object.is` (NaN equal to NaN; -0 not equal to 0: serving answers a stored -0 as -0, and one
 *   answered as 0 is the skew this report is for), lists element by element. Compared over every
 *   pair.
 * - |difference|: only for numeric features (long, double) and only over pairs where both values
 *   are numbers; a pair with a null on one side is a mismatch with no difference. Mean, and p99
 *   by nearest rank: the ⌈0.99·n⌉-th smallest (so with fewer than 100 pairs it is the maximum).
 *
 * Pure: no I/O, deterministic.
 */
import type { FeatureValue } from '../features/types.ts'

export interface FeatureSkew {
  /** `name@version`. */
  readonly view: string
  readonly feature: string
  readonly numeric: boolean
  readonly compared: number
  readonly exactMatches: number
  /** 0..100; null when nothing was compared. */
  readonly exactMatchPct: number | null
  /** Pairs where both sides are numbers (numeric features only). */
  readonly numericPairs: number
  readonly meanAbsDiff: number | null
  readonly p99AbsDiff: number | null
}

export function sameValue(a: FeatureValue | boolean | undefined, b: FeatureValue | boolean | undefined): boolean {
  if (a === undefined) a = null
  if (b === undefined) b = null
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false
    return a.every((x: number | string, i: number) => sameValue(x, (b as readonly (number | string)[])[i]))
  }
  return Object.is(a, b)
}

/** Nearest-rank percentile (q in (0, 1]) of a non-empty list; sorts a copy. */
export function nearestRank(values: readonly number[], q: number): number {
  const sorted = Float64Array.from(values).sort()
  return sorted[Math.max(0, Math.ceil(q * sorted.length) - 1)]!
}

/** Accumulates the pairs of one (view, feature). */
export class FeatureSkewCounter {
  readonly #view: string
  readonly #feature: string
  readonly #numeric: boolean
  #compared = 0
  #matches = 0
  readonly #diffs: number[] = []

  constructor(view: string, feature: string, numeric: boolean) {
    this.#view = view
    this.#feature = feature
    this.#numeric = numeric
  }

  add(served: FeatureValue, offline: FeatureValue): void {
    this.#compared++
    if (sameValue(served, offline)) this.#matches++
    if (this.#numeric && typeof served === 'number' && typeof offline === 'number') this.#diffs.push(Math.abs(served - offline))
  }

  result(): FeatureSkew {
    const n = this.#diffs.length
    let sum = 0
    for (const d of this.#diffs) sum += d
    return {
      view: this.#view,
      feature: this.#feature,
      numeric: this.#numeric,
      compared: this.#compared,
      exactMatches: this.#matches,
      exactMatchPct: this.#compared === 0 ? null : (100 * this.#matches) / this.#compared,
      numericPairs: n,
      meanAbsDiff: n === 0 ? null : sum / n,
      p99AbsDiff: n === 0 ? null : nearestRank(this.#diffs, 0.99),
    }
  }
}
