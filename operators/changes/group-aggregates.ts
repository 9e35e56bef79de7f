/**
 * The invertible aggregations of a current-state view (docs/design.md §11): lifetime count, sum
 * and avg over the rows currently in a group. A row's contribution is one number (or null) per
 * feature; a group's aggregates are the running totals of its live members' contributions.
 *
 * Sums are incremental (add on add, subtract on retract), so a double sum is exact while every
 * partial sum is an integer below 2^53 (or a multiple of a power of two within 53 bits); other
 * doubles carry rounding error proportional to Σ|x| over the group's history. A total whose
 * non-null count returns to zero is reset to exactly 0, so an emptied group reads 0 / null.
 */
import { DefinitionError } from '../../core/errors.ts'
import type { EventRecord, FeatureValue, FeatureViewDef } from '../../features/types.ts'
import { checkInput, describeInputProblem, INPUT_OK, SUMMABLE_NUMBERS, type InputProblem } from '../aggregators/input-check.ts'
import { fieldValueOf } from '../task/event-fields.ts'

export type CurrentStateOp = 'count' | 'sum' | 'avg'

export interface CurrentStateFeature {
  readonly op: CurrentStateOp
  readonly field: string | undefined
}

/** One number or null per feature: count → 0 or 1; sum, avg → the value or null. */
export type Contribution = readonly (number | null)[]

/** Running totals per feature: `total` (count, or sum of non-null values) and `n` (non-null values). */
export interface GroupTotals {
  readonly total: number[]
  readonly n: number[]
}

export function currentStateFeatures(view: FeatureViewDef): CurrentStateFeature[] {
  return view.features.map((f) => {
    const a = f.aggregation
    if ((a.op !== 'count' && a.op !== 'sum' && a.op !== 'avg') || a.windowMs !== null) {
      throw new DefinitionError(`view ${view.name}: feature ${f.name} is ${a.op} over ${a.windowMs === null ? 'a lifetime' : 'a window'}; current-state views take lifetime count, sum and avg only`)
    }
    if (a.op !== 'count' && a.field === undefined) throw new DefinitionError(`view ${view.name}: feature ${f.name} (${a.op}) names no field`)
    return { op: a.op, field: a.field }
  })
}

export function contributionOf(features: readonly CurrentStateFeature[], row: EventRecord, maxStringBytes: number): { ok: true; value: Contribution } | ({ ok: false } & InputProblem) {
  const out: (number | null)[] = []
  for (const f of features) {
    if (f.field === undefined) {
      out.push(1)
      continue
    }
    const v = fieldValueOf(row, f.field)
    if (f.op === 'count') {
      out.push(v === null ? 0 : 1)
      continue
    }
    if (v !== null) {
      const code = checkInput(SUMMABLE_NUMBERS, v, maxStringBytes)
      if (code !== INPUT_OK) return { ok: false, ...describeInputProblem(code, SUMMABLE_NUMBERS, f.op, f.field, v, maxStringBytes) }
    }
    out.push(v as number | null)
  }
  return { ok: true, value: out }
}

export function sameContribution(a: Contribution, b: Contribution): boolean {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}

export function emptyTotals(features: readonly CurrentStateFeature[]): GroupTotals {
  return { total: features.map(() => 0), n: features.map(() => 0) }
}

/** Adds (`sign` 1) or retracts (`sign` −1) one contribution. */
export function applyContribution(totals: GroupTotals, features: readonly CurrentStateFeature[], c: Contribution, sign: 1 | -1): void {
  for (let i = 0; i < features.length; i++) {
    const v = c[i] as number | null
    if (v === null) continue
    if ((features[i] as CurrentStateFeature).op === 'count') {
      totals.total[i] = (totals.total[i] as number) + sign * v
      continue
    }
    const n = (totals.n[i] as number) + sign
    totals.n[i] = n
    totals.total[i] = n === 0 ? 0 : sign === 1 ? (totals.total[i] as number) + v : (totals.total[i] as number) - v
  }
}

export function valuesOf(totals: GroupTotals, features: readonly CurrentStateFeature[]): FeatureValue[] {
  return features.map((f, i) => {
    const total = totals.total[i] as number
    if (f.op !== 'avg') return total
    const n = totals.n[i] as number
    return n === 0 ? null : total / n
  })
}
