/**
 * A definition's `constants` (docs/semantics.md §27): the values its filter, map or request
 * feature's fn reads, passed to the function as an argument instead of captured from the module,
 * so they are part of the definition's hash and a change to one is a new version.
 *
 * They must be JSON data, as the registry stores and hashes them. The function gets a deep-frozen
 * copy that is exactly what is hashed: undefined members dropped (an array's become null), -0 as 0,
 * so no call can see a value the hash does not say, or change one for the calls after it.
 */
import { DefinitionError } from '../core/errors.ts'
import { jsonDataProblem } from './avro-fields.ts'

import type { ConstantValue, Constants } from './types.ts'

/** The registry keeps constants in every version's record; a lookup table belongs in a source or a feature. */
export const MAX_CONSTANTS_BYTES = 64 * 1024

/** What a definition's functions get when it declares no constants. */
export const NO_CONSTANTS: Constants = Object.freeze({})

function frozenCopy(value: unknown): ConstantValue {
  if (typeof value === 'number') return value === 0 ? 0 : value
  if (value === null || typeof value !== 'object') return value as ConstantValue
  if (Array.isArray(value)) return Object.freeze(Array.from(value, (v: unknown) => (v === undefined ? null : frozenCopy(v))))
  const out: Record<string, ConstantValue> = {}
  for (const [k, v] of Object.entries(value)) if (v !== undefined) out[k] = frozenCopy(v)
  return Object.freeze(out)
}

/** The checked, frozen constants; `{}` when the definition has none. */
export function checkConstants(value: unknown, where: string): Constants {
  if (value === undefined) return NO_CONSTANTS
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new DefinitionError(
      `${where}: constants must be an object of named values, e.g. { threshold: 10 }, got ${Array.isArray(value) ? 'an array' : String(value === null ? null : typeof value)}`,
    )
  }
  const problem = jsonDataProblem(value, 'constants')
  if (problem !== undefined)
    throw new DefinitionError(`${where}: constants must be JSON data (the registry stores and hashes them): ${problem}`)
  const copy = frozenCopy(value) as Constants
  const bytes = new TextEncoder().encode(JSON.stringify(copy)).length
  if (bytes > MAX_CONSTANTS_BYTES) {
    throw new DefinitionError(
      `${where}: constants take ${bytes} bytes as JSON, more than ${MAX_CONSTANTS_BYTES}; every version's registry record holds them — keep a lookup table in a source (a table source) instead`,
    )
  }
  return copy
}

/** True when a definition has no constants: its description then leaves them out, so hashes of definitions from before constants stay. */
export function hasConstants(constants: Constants | undefined): constants is Constants {
  return constants !== undefined && Object.keys(constants).length > 0
}
