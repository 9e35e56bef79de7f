/**
 * What a request feature's `fn` may return, one rule for serving (serving/request-features.ts) and
 * training sets (training/request-features.ts), so a model never trains on a value serving would
 * refuse or answer differently:
 *
 * - `null` or `undefined` (read as null): no value.
 * - a value of the declared `outputType`: a safe integer for `long`; a *finite* number for
 *   `double` (NaN and ±Infinity are refused: JSON cannot carry them, and `null` in kfs means "no
 *   data", never a NaN — docs/semantics.md §2); a string of at most MAX_REQUEST_STRING_CHARS
 *   characters; a boolean.
 * - `-0` is answered as `0`: serving's JSON writes it so, and the training set holds the same.
 * - a lone surrogate in a string (`'😀'.slice(0, 1)`) is answered as U+FFFD: the training set's
 *   Parquet (UTF-8) holds it so, where serving's JSON would have sent the lone surrogate escaped.
 *
 * Only `typeof` is read: no getter, trap or toJSON of a returned object runs here.
 */
import { kindOf } from '../core/returned-value.ts'
import type { FeatureValue, RequestValueType } from './types.ts'

/** Longest string a request feature may return: a feature, not a document (1 Mi characters). */
export const MAX_REQUEST_STRING_CHARS = 1 << 20

export type RequestOutput =
  { readonly ok: true; readonly value: FeatureValue | boolean } | { readonly ok: false; readonly problem: string }

/** The value to answer and to write for what `fn` returned, or why it is refused (`returned NaN, …`). */
export function requestOutput(value: unknown, type: RequestValueType): RequestOutput {
  if (value === undefined || value === null) return { ok: true, value: null }
  const problem = outputProblem(value, type)
  if (problem !== undefined) return { ok: false, problem }
  // `-0 + 0` is 0 and leaves every other number as it is.
  if (typeof value === 'number') return { ok: true, value: value + 0 }
  if (typeof value === 'string') return { ok: true, value: value.isWellFormed() ? value : value.toWellFormed() }
  return { ok: true, value: value as boolean }
}

function outputProblem(value: unknown, type: RequestValueType): string | undefined {
  switch (type) {
    case 'long':
      if (Number.isSafeInteger(value)) return undefined
      return typeof value === 'number'
        ? `returned ${numberKind(value)}, not a long (a safe integer)`
        : `returned ${kindOf(value)}, not a long`
    case 'double':
      if (typeof value === 'number' && Number.isFinite(value)) return undefined
      return typeof value === 'number'
        ? `returned ${numberKind(value)}, not a finite double`
        : `returned ${kindOf(value)}, not a double`
    case 'string':
      if (typeof value !== 'string') return `returned ${kindOf(value)}, not a string`
      return value.length > MAX_REQUEST_STRING_CHARS
        ? `returned a string of ${value.length} characters (at most ${MAX_REQUEST_STRING_CHARS})`
        : undefined
    case 'boolean':
      return typeof value === 'boolean' ? undefined : `returned ${kindOf(value)}, not a boolean`
  }
}

function numberKind(n: number): string {
  if (Number.isNaN(n)) return 'NaN'
  if (!Number.isFinite(n)) return n > 0 ? 'Infinity' : '-Infinity'
  return Number.isInteger(n) ? 'an integer beyond 2^53' : 'a fraction'
}
