/**
 * Size limits of a view's values (docs/semantics.md §1): what one string value may weigh, and what
 * a whole row may weigh at worst. A string over `maxStringBytes` dead-letters its record as
 * `oversize` before it changes any state; `maxRowBytes` is checked here, at definition time,
 * against the worst row the view's features can produce (every string at its limit, every
 * list — last_n, top_k… — at the length its op's contract allows), so no row — online, offline or in a GET answer — can outgrow it at run time.
 */
import { describeGivenValue } from './validate.ts'
import { MAX_ENTITY_KEY_BYTES } from '../core/entity-key.ts'
import { DefinitionError } from '../core/errors.ts'
import { aggregationContract } from '../operators/aggregators/catalog.ts'
import { paramsOf, type ListSize } from '../operators/aggregators/contract.ts'
import type { FeatureDef, ValueLimits } from './types.ts'

export interface ValueLimitsOptions {
  /** Largest string value (UTF-8 bytes) fed to an aggregation (first, last, last_n…). Default 4096. */
  readonly maxStringBytes?: number
  /** Largest possible row (values + entity key), checked at definition time. Default 262144 (256 KiB). */
  readonly maxRowBytes?: number
}

export const DEFAULT_VALUE_LIMITS: ValueLimits = Object.freeze({ maxStringBytes: 4096, maxRowBytes: 256 * 1024 })

/** Bounds on the limits themselves: the Kafka default message size caps what one record can carry. */
const MAX_STRING_BYTES_CAP = 1024 * 1024
const MAX_ROW_BYTES_CAP = 16 * 1024 * 1024

/** A served number is at most this many bytes of JSON (`-1.7976931348623157e+308`, plus a comma). */
const NUMBER_BYTES = 25
/** JSON quotes, comma and escaping slack around a string value. */
const STRING_OVERHEAD_BYTES = 8

/** How long a list feature can get (its op's contract); undefined for a single value. */
function listSizeOf(f: FeatureDef): ListSize | undefined {
  // An attribute (docs/design.md §11) is one column's value: no aggregation contract, never a list.
  return aggregationContract(f.aggregation.op)?.listSize?.(paramsOf(f.aggregation))
}

/** Worst-case bytes of one row of these features under `maxStringBytes`. */
export function worstCaseRowBytes(features: readonly FeatureDef[], joinKeyCount: number, maxStringBytes: number): number {
  let bytes = joinKeyCount * MAX_ENTITY_KEY_BYTES + 64
  for (const f of features) {
    const one = f.type === 'string' || f.type === 'string[]' ? maxStringBytes + STRING_OVERHEAD_BYTES : NUMBER_BYTES
    bytes += (listSizeOf(f)?.max ?? 1) * one
  }
  return bytes
}

function checkWhole(value: unknown, where: string, what: string, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max) {
    throw new DefinitionError(
      `${where}: limits.${what} must be a whole number of bytes from ${min} to ${max}, got ${describeGivenValue(value)}`,
    )
  }
  return value
}

export function resolveValueLimits(
  options: ValueLimitsOptions | undefined,
  features: readonly FeatureDef[],
  joinKeyCount: number,
  where: string,
): ValueLimits {
  if (options !== undefined && (options === null || typeof options !== 'object')) {
    throw new DefinitionError(`${where}: limits must be an object, e.g. { maxStringBytes: 1024 }`)
  }
  const maxStringBytes = checkWhole(
    options?.maxStringBytes ?? DEFAULT_VALUE_LIMITS.maxStringBytes,
    where,
    'maxStringBytes',
    1,
    MAX_STRING_BYTES_CAP,
  )
  const maxRowBytes = checkWhole(
    options?.maxRowBytes ?? DEFAULT_VALUE_LIMITS.maxRowBytes,
    where,
    'maxRowBytes',
    1024,
    MAX_ROW_BYTES_CAP,
  )
  const worst = worstCaseRowBytes(features, joinKeyCount, maxStringBytes)
  if (worst > maxRowBytes) {
    const strings = features.filter((f) => f.type === 'string' || f.type === 'string[]')
    const heavy = strings.map((f) => {
      const size = listSizeOf(f)
      return `${f.name}${size === undefined ? '' : ` (${size.phrase})`}`
    })
    const knobs = [...new Set(strings.flatMap((f) => listSizeOf(f)?.knob ?? []))]
    throw new DefinitionError(
      `${where}: a row can reach ${worst} bytes with strings of up to ${maxStringBytes} bytes${heavy.length > 0 ? ` in ${heavy.join(', ')}` : ''}, over limits.maxRowBytes = ${maxRowBytes}; lower ${[...knobs, 'limits.maxStringBytes'].join(' or ')}, or raise limits.maxRowBytes`,
    )
  }
  return Object.freeze({ maxStringBytes, maxRowBytes })
}
