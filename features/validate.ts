/** Small checks shared by the builders; each throws a DefinitionError that says what to write instead. */
import { DurationTooLongError, parseDurationMs, type Duration } from '../core/duration.ts'
import { DefinitionError } from '../core/errors.ts'

const NAME = /^[a-z][a-z0-9_]*$/

/**
 * A value a definition gave, for its error message: as JSON when it is JSON data, else what it is.
 * Never throws: JSON.stringify throws on a bigint (`partitions: 4n`), so the message meant to name
 * the mistake was replaced by "Do not know how to serialize a BigInt".
 */
export function describeGivenValue(value: unknown): string {
  switch (typeof value) {
    case 'bigint':
      return `${value}n (a bigint)`
    case 'symbol':
      return 'a symbol'
    case 'function':
      return 'a function'
    case 'undefined':
      return 'undefined'
  }
  try {
    return JSON.stringify(value)
  } catch {
    return Array.isArray(value) ? 'an array that is not JSON data' : 'an object that is not JSON data'
  }
}

/** Names end up in Redis keys, Iceberg table names, topic names and feature refs, so keep them plain. */
export function checkName(value: unknown, what: string): string {
  if (typeof value !== 'string' || !NAME.test(value) || value.length > 100) {
    throw new DefinitionError(
      `${what}: name ${describeGivenValue(value)} is not valid; use lower_snake_case starting with a letter (e.g. 'user_clicks'), at most 100 characters`,
    )
  }
  return value
}

export function checkDuration(value: unknown, where: string, what: string, options: { positive?: boolean } = {}): number {
  if (value === undefined || value === null) throw new DefinitionError(`${where}: ${what} is missing; write e.g. '30s', '5m', '1h', '7d'`)
  let ms: number
  try {
    ms = parseDurationMs(value as Duration, what)
  } catch (err: unknown) {
    throw new DefinitionError(
      err instanceof DurationTooLongError
        ? `${where}: ${what} ${describeGivenValue(value)} is longer than a whole number of milliseconds can hold (2^53 ms, about 285,000 years)`
        : `${where}: ${what} ${describeGivenValue(value)} is not a duration; write e.g. '500ms', '30s', '5m', '1h', '7d'`,
      { cause: err },
    )
  }
  if (options.positive && ms <= 0) throw new DefinitionError(`${where}: ${what} must be greater than zero`)
  return ms
}

export function checkText(value: unknown, where: string, what: string, options: { required?: boolean } = {}): string {
  if (value === undefined && !options.required) return ''
  if (typeof value !== 'string' || (options.required && value.trim() === '')) {
    throw new DefinitionError(`${where}: ${what} is required (a non-empty string)`)
  }
  return value
}

export function checkTags(value: unknown, where: string): Readonly<Record<string, string>> {
  if (value === undefined) return Object.freeze({})
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new DefinitionError(`${where}: tags must be an object of strings, e.g. { team: 'risk', tier: 'gold' }`)
  }
  const out: Record<string, string> = {}
  for (const [k, v] of Object.entries(value)) {
    if (typeof v !== 'string') throw new DefinitionError(`${where}: tag '${k}' must be a string, got ${typeof v}`)
    out[k] = v
  }
  return Object.freeze(out)
}

/** Marks builder output so loaders can tell definitions from other exports (works across module copies). */
export const DEFINITION_BRAND = Symbol.for('kfs.definition')

export function brand<T extends object>(def: T): T {
  Object.defineProperty(def, DEFINITION_BRAND, { value: true, enumerable: false })
  return Object.freeze(def)
}

export function isBranded(value: unknown): boolean {
  return value !== null && typeof value === 'object' && (value as Record<symbol, unknown>)[DEFINITION_BRAND] === true
}
