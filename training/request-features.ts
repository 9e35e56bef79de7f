/**
 * Request-time features in a training set: the definition's own `fn` (the one serving calls),
 * given the request inputs read from label columns and the point-in-time values of its stored
 * inputs, keyed by the reference as the definition wrote it (as serving does). What `fn` returns
 * is held to serving's rule (features/request-output.ts): NaN, ±Infinity or a string serving would
 * refuse stops the build naming the feature and the label row, and -0 is written as 0.
 */
import { FeatureStoreError } from '../core/errors.ts'
import type { FeatureValue, RequestFeatureDef, RequestValueType } from '../features/types.ts'
import { ignoreLaterRejection } from '../core/returned-value.ts'
import { requestOutput } from '../features/request-output.ts'
import { NO_CONSTANTS } from '../features/constants.ts'
import { NUMBER } from './labels.ts'

function coerce(value: unknown, type: RequestValueType): unknown {
  if (value === null || value === undefined) return undefined
  switch (type) {
    case 'long':
    case 'double': {
      // Text is read only as a decimal number (a CSV column typed string by one odd cell): `0x10`,
      // ` 12` or `0b11` are no number a JSON client could send, so they are refused, not read as 16, 12, 3.
      const n = typeof value === 'number' ? value : typeof value === 'string' && NUMBER.test(value) ? Number(value) : NaN
      if (!Number.isFinite(n) || (type === 'long' && !Number.isSafeInteger(n))) return undefined
      return n
    }
    case 'string':
      return typeof value === 'string' ? value : typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint' ? String(value) : undefined
    case 'boolean':
      return typeof value === 'boolean' ? value : value === 'true' ? true : value === 'false' ? false : undefined
  }
}

/**
 * `labelColumn(name)` gives a label column's values; `stored(ref)` the joined values of a stored
 * input. Returns one output value per row. A missing or ill-typed request input is an error (as
 * serving refuses such a request), naming the row.
 */
export function computeRequestFeature(
  def: RequestFeatureDef,
  rowCount: number,
  labelColumn: (name: string) => readonly unknown[] | undefined,
  stored: (ref: string) => readonly FeatureValue[],
): (FeatureValue | boolean)[] {
  const inputs = Object.entries(def.request).map(([field, type]) => {
    const values = labelColumn(field)
    if (values === undefined) {
      throw new FeatureStoreError('BAD_REQUEST', `request feature ${def.name} needs request input ${field} (${type}): add a label column named ${field}`, { context: { feature: def.name, field } })
    }
    return { field, type, values }
  })
  const deps = def.features.map((ref) => ({ ref, values: stored(ref) }))
  const out = new Array<FeatureValue | boolean>(rowCount)
  for (let r = 0; r < rowCount; r++) {
    const request: Record<string, unknown> = {}
    for (const { field, type, values } of inputs) {
      const v = coerce(values[r], type)
      if (v === undefined) {
        throw new FeatureStoreError('BAD_REQUEST', `label row ${r + 1}: ${field} must be a ${type} for request feature ${def.name}`, { context: { row: r + 1, field } })
      }
      request[field] = v
    }
    const features: Record<string, FeatureValue> = {}
    for (const d of deps) features[d.ref] = d.values[r] ?? null
    let value: unknown
    try {
      value = def.fn(request, features, def.constants ?? NO_CONSTANTS)
    } catch (err: unknown) {
      throw new FeatureStoreError('BAD_REQUEST', `label row ${r + 1}: request feature ${def.name} failed`, { cause: err, context: { row: r + 1, feature: def.name } })
    }
    const output = requestOutput(value, def.outputType)
    if (!output.ok) {
      // An async fn's promise is refused here; if it rejects later, nobody would handle that and the
      // unhandled rejection would end the process with a stack trace after this clear error.
      ignoreLaterRejection(value)
      throw new FeatureStoreError('BAD_REQUEST', `label row ${r + 1}: request feature ${def.name} ${output.problem}`, {
        context: { row: r + 1, feature: def.name },
      })
    }
    out[r] = output.value
  }
  return out
}
