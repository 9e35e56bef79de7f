/**
 * JSON for Iceberg metadata: 63-bit snapshot ids must survive parse → stringify exactly, so
 * integers beyond 2^53 parse as bigint (lossless-json) and bigints are written as bare integers.
 */
import { parse, stringify, isInteger, isSafeNumber } from 'lossless-json'

export function parseJson(text: string): unknown {
  // Integers beyond 2^53 become bigint, everything else a plain number.
  return parse(text, null, (v) => (isInteger(v) && !isSafeNumber(v) ? BigInt(v) : Number(v)))
}

export function stringifyJson(value: unknown, space?: number): string {
  const out = stringify(value, null, space)
  if (out === undefined) throw new TypeError('value is not JSON-serialisable')
  return out
}

export function toBigInt(v: unknown): bigint {
  if (typeof v === 'bigint') return v
  if (typeof v === 'number' && Number.isSafeInteger(v)) return BigInt(v)
  if (typeof v === 'string' && /^-?\d+$/.test(v)) return BigInt(v)
  throw new TypeError(`expected an integer id, got ${typeof v}`)
}
