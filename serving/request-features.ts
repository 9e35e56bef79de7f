/**
 * Runs a request-time feature's `fn` for serving and checks what it returned before anything
 * serialises it. `fn` is user code: at run time it may throw, return a promise (which may reject
 * later), a BigInt, NaN, a cyclic object or one whose getters throw. Any of those used to escape as
 * a JSON.stringify exception outside every handler and end the process; here each one becomes a
 * `RequestFeatureFailure` (a logged 500 whose body names the feature, never the exception text).
 *
 * What is accepted, and how it is answered, is features/request-output.ts: the rule training sets
 * apply to the same `fn`, so a model never trains on a row serving refuses.
 */
import type { FeatureValue, RequestFeatureDef } from '../features/types.ts'
import { ignoreLaterRejection } from '../core/returned-value.ts'
import { MAX_REQUEST_STRING_CHARS, requestOutput } from '../features/request-output.ts'
import { NO_CONSTANTS } from '../features/constants.ts'
import { RequestFeatureFailure } from './errors.ts'

/** Longest string a request feature may return (features/request-output.ts). */
export const MAX_STRING_CHARS = MAX_REQUEST_STRING_CHARS

export function runRequestFeature(
  def: RequestFeatureDef,
  request: Readonly<Record<string, unknown>>,
  inputs: Readonly<Record<string, FeatureValue>>,
): FeatureValue | boolean {
  // Only the fields the definition declares, in an object of this call's own, as a training set
  // builds it from label columns (training/request-features.ts): an undeclared field the client
  // happened to send, or one an earlier fn wrote into the shared request, would reach fn here only.
  const own: Record<string, unknown> = {}
  for (const field of Object.keys(def.request)) own[field] = request[field]
  let value: unknown
  try {
    value = def.fn(own, inputs, def.constants ?? NO_CONSTANTS)
  } catch (err: unknown) {
    throw new RequestFeatureFailure(def.name, 'threw', { cause: err })
  }
  const output = requestOutput(value, def.outputType)
  if (output.ok) return output.value
  ignoreLaterRejection(value)
  throw new RequestFeatureFailure(def.name, output.problem)
}
