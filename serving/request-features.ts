/**
 * Runs a request-time feature's `fn` for serving and checks what it returned before anything
 * serialises it. `fn` is user code: at run time it may throw, return a promise (which may reject
 * later), a BigInt, NaN, a cyclic object or one whose getters throw. Any of those used to escape as
 * a JSON.stringify exception outside every handler and end the process; here each one becomes a
 * `RequestFeatureFailure` (a logged 500 whose body names the feature, never the exception text).
 *
 * Accepted outputs are the training side's (training/request-features.ts): null, or a value of
 * the declared `outputType`, with `undefined` read as null. Serving is stricter in two ways JSON
 * forces: a `double` must be finite (JSON has no NaN or Infinity; JSON.stringify would silently
 * turn them into null) and a `string` is at most MAX_STRING_CHARS long.
 */
import type { FeatureValue, RequestFeatureDef, RequestValueType } from '../features/types.ts'
import { ignoreLaterRejection, kindOf } from '../core/returned-value.ts'
import { RequestFeatureFailure } from './errors.ts'

/** Longest string a request feature may return: a feature, not a document (1 Mi characters). */
export const MAX_STRING_CHARS = 1 << 20

export function runRequestFeature(
  def: RequestFeatureDef,
  request: Readonly<Record<string, unknown>>,
  inputs: Readonly<Record<string, FeatureValue>>,
): FeatureValue | boolean {
  let value: unknown
  try {
    value = def.fn(request, inputs)
  } catch (err: unknown) {
    throw new RequestFeatureFailure(def.name, 'threw', { cause: err })
  }
  if (value === undefined || value === null) return null
  const problem = outputProblem(value, def.outputType)
  if (problem === undefined) return value as FeatureValue | boolean
  ignoreLaterRejection(value)
  throw new RequestFeatureFailure(def.name, problem)
}

/** Why `value` (not null/undefined) is not a servable `type`, or undefined when it is. Reads only `typeof`: no getter, trap or toJSON runs. */
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
        ? `returned ${numberKind(value)}, which JSON cannot carry`
        : `returned ${kindOf(value)}, not a double`
    case 'string':
      if (typeof value !== 'string') return `returned ${kindOf(value)}, not a string`
      return value.length > MAX_STRING_CHARS
        ? `returned a string of ${value.length} characters (at most ${MAX_STRING_CHARS})`
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
