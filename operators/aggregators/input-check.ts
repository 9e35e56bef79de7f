/**
 * Which non-null field values an aggregation takes, checked for every column of a view before a
 * record changes any state (docs/semantics.md §1). A refused value dead-letters the record for
 * that view: a record updates all of a view's features or none.
 *
 * A kernel declares an `InputRule` (the rules below are the ones in use; a kernel may define
 * its own bound):
 * - `ANY_VALUE` (count): every value — counting cannot overflow or grow a row.
 * - `FINITE_NUMBERS` (min, max): finite numbers. They only compare, so any finite double is safe.
 * - `SUMMABLE_NUMBERS` (sum, avg, approx_percentile): finite numbers with |v| ≤ 2^960. Why 2^960:
 *   2^960 · 2^63 = 2^1023, so the exact sum of up to 2^63 inputs stays below half the largest
 *   double. In floating point, a running sum (a tile, a lifetime column) fed such values can
 *   never pass 2^1015 — from 2^1014 on, each addition is below half an ulp and rounds away — and
 *   a window, which folds tile sums, would need ≥ 2^9 tiles each holding ≥ 2^53 events (2^62
 *   events in one window) to overflow. avg is sum / count; DDSketch answers a bucket bound
 *   ≤ 1.02·|v|. So every emitted value of these ops is finite, whatever the input.
 * - `SCALARS` (first, last, last_n, approx_distinct): finite numbers, or strings of at most the
 *   view's `maxStringBytes` UTF-8 bytes (they are stored and served as they are).
 *
 * Everywhere: NaN and ±Infinity (an Avro float/double can carry them) and a long beyond ±2^53
 * (decoded as a bigint: a feature value is a double) are `out_of_range`; a value of the wrong
 * type is `schema_mismatch`; a string over the limit is `oversize`.
 *
 * Hot path: `checkInput` is a few comparisons and allocates nothing; a string's UTF-8 length is
 * only counted when its UTF-16 length cannot settle the question (limit/3 < length ≤ limit).
 */

export interface InputRule {
  /** `any`: every value; `number`: finite numbers; `scalar`: finite numbers or strings. */
  readonly kind: 'any' | 'number' | 'scalar'
  /** Largest magnitude of a number taken (beyond: `out_of_range`); Infinity: every finite number. */
  readonly maxMagnitude: number
  /** For the dead-letter detail when `maxMagnitude` is finite: the bound as text, and why it exists. */
  readonly bound: { readonly text: string; readonly why: string } | undefined
}

/** 2^960 ≈ 9.7e288: the largest magnitude a summing aggregation takes (see above). */
export const MAX_SUMMED_MAGNITUDE = 2 ** 960

export const ANY_VALUE: InputRule = Object.freeze({ kind: 'any', maxMagnitude: Infinity, bound: undefined })
export const FINITE_NUMBERS: InputRule = Object.freeze({ kind: 'number', maxMagnitude: Infinity, bound: undefined })
export const SUMMABLE_NUMBERS: InputRule = Object.freeze({
  kind: 'number',
  maxMagnitude: MAX_SUMMED_MAGNITUDE,
  bound: Object.freeze({ text: '±2^960 (≈9.7e288)', why: 'so that no sum can overflow' }),
})
export const SCALARS: InputRule = Object.freeze({ kind: 'scalar', maxMagnitude: Infinity, bound: undefined })

export const INPUT_OK = 0
export const INPUT_WRONG_TYPE = 1
export const INPUT_OUT_OF_RANGE = 2
export const INPUT_OVERSIZE = 3

/** INPUT_OK or the problem code of one non-null value (no allocation). */
export function checkInput(rule: InputRule, v: unknown, maxStringBytes: number): number {
  const kind = rule.kind
  if (kind === 'any') return INPUT_OK
  if (typeof v === 'number') {
    // v − v is 0 for every finite number and NaN for NaN and ±Infinity.
    if (v - v !== 0) return INPUT_OUT_OF_RANGE
    const bound = rule.maxMagnitude
    if (v > bound || v < -bound) return INPUT_OUT_OF_RANGE
    return INPUT_OK
  }
  if (typeof v === 'string') {
    if (kind !== 'scalar') return INPUT_WRONG_TYPE
    // A UTF-16 code unit is 1 to 3 UTF-8 bytes (a surrogate pair: 4 bytes for 2 units).
    if (v.length * 3 <= maxStringBytes) return INPUT_OK
    if (v.length > maxStringBytes) return INPUT_OVERSIZE
    return utf8Length(v) > maxStringBytes ? INPUT_OVERSIZE : INPUT_OK
  }
  // Only a long beyond ±2^53 is still a bigint here (event-fields.ts narrows the others).
  if (typeof v === 'bigint') return INPUT_OUT_OF_RANGE
  return INPUT_WRONG_TYPE
}

/** UTF-8 byte length without encoding (a lone surrogate counts as U+FFFD, 3 bytes). */
export function utf8Length(s: string): number {
  let n = 0
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    if (c < 0x80) n += 1
    else if (c < 0x800) n += 2
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      n += 4
      i++
    } else n += 3
  }
  return n
}

export interface InputProblem {
  readonly reason: 'schema_mismatch' | 'out_of_range' | 'oversize'
  readonly detail: string
}

/** The dead-letter reason and detail of a refused value (failure path only). */
export function describeInputProblem(code: number, rule: InputRule, op: string, field: string, v: unknown, maxStringBytes: number): InputProblem {
  if (code === INPUT_OVERSIZE) {
    return {
      reason: 'oversize',
      detail: `field ${field} is a string of ${utf8Length(v as string)} UTF-8 bytes, over the view's limit of ${maxStringBytes} (limits.maxStringBytes)`,
    }
  }
  if (code === INPUT_OUT_OF_RANGE) {
    if (typeof v === 'bigint')
      return {
        reason: 'out_of_range',
        detail: `field ${field} = ${v} is a long beyond ±2^53, which ${op} cannot hold exactly (feature values are doubles)`,
      }
    if (typeof v === 'number' && Number.isFinite(v)) {
      const bound = rule.bound ?? { text: `±${rule.maxMagnitude}`, why: 'its limit' }
      return {
        reason: 'out_of_range',
        detail: `field ${field} = ${v} is beyond ${bound.text}, the largest magnitude ${op} takes (${bound.why})`,
      }
    }
    return { reason: 'out_of_range', detail: `field ${field} is ${String(v)}; ${op} takes finite numbers only` }
  }
  return { reason: 'schema_mismatch', detail: `field ${field} has a ${typeof v} that ${op} cannot aggregate` }
}
