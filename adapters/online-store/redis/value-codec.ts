/**
 * Wire layout of one online row, shared by the Redis hash and the embedded store's file.
 *
 * - One field per non-null feature; a null value is the field's absence (so "no data" can never
 *   be read back as 0 or "").
 * - `long` / `double`: the shortest decimal string that round-trips (`String(x)`), with `-0`,
 *   `NaN`, `Infinity`, `-Infinity` spelled out, so every float64 comes back bit for bit.
 * - `string`: the string itself, a lone surrogate as U+FFFD (as UTF-8 and the offline table hold it).
 * - arrays: JSON; numeric elements that JSON cannot carry (non-finite, -0) are written as strings;
 *   strings as `string` says.
 * - The row's `as_of` lives in the field `@as_of` (feature names cannot start with `@`).
 *
 * Decoding is driven by the view's declared feature type, never by guessing from the text.
 *
 * Serving writes a number's stored text into its JSON response as it is (`storedValueJson`): the
 * encoder wrote `String(x)`, which for a finite x other than -0 is exactly the text
 * `JSON.stringify(x)` writes, so the decode (`Number`) and the re-encode (the shortest round-trip
 * digits again) of a served number are both skipped — each about 75 ns, 2,000 of them in a
 * 100-entity batch of 20 features. Texts this encoder does not write as plain decimals go the
 * long way and serialise by core/feature-json.ts's rule: a double -0 is `-0.0`, as the offline
 * table and a training set hold -0; a long reads `-0` as 0, as int64 (the offline table) does.
 */
import { SinkWriteError } from '../../../core/errors.ts'
import { StoredRowUnreadable } from '../../../ports/online-store.ts'
import { featureValueJson, NEGATIVE_ZERO_JSON } from '../../../core/feature-json.ts'
import type { FeatureValue, FeatureValueType } from '../../../features/types.ts'

export const AS_OF_FIELD = '@as_of'

function encodeNumber(x: number): string {
  return Object.is(x, -0) ? '-0' : String(x)
}

function isJsonSafe(x: number): boolean {
  return Number.isFinite(x) && !Object.is(x, -0)
}

function typeError(view: string, feature: string, type: FeatureValueType): SinkWriteError {
  return new SinkWriteError('SINK_REJECTED', `feature ${view}:${feature} expects ${type}`, { context: { view, feature } })
}

/** Throws unless `value` (not null) fits the declared type. */
export function checkValue(value: FeatureValue, type: FeatureValueType, view: string, feature: string): void {
  switch (type) {
    case 'long':
      if (typeof value !== 'number' || !Number.isInteger(value)) throw typeError(view, feature, type)
      return
    case 'double':
      if (typeof value !== 'number') throw typeError(view, feature, type)
      return
    case 'string':
      if (typeof value !== 'string') throw typeError(view, feature, type)
      return
    case 'long[]':
    case 'double[]':
      if (!Array.isArray(value)) throw typeError(view, feature, type)
      for (const x of value as readonly unknown[]) {
        if (typeof x !== 'number' || (type === 'long[]' && !Number.isInteger(x))) throw typeError(view, feature, type)
      }
      return
    case 'string[]':
      if (!Array.isArray(value) || !(value as readonly unknown[]).every((x) => typeof x === 'string')) throw typeError(view, feature, type)
  }
}

/** Returns undefined for null (the field is left out). */
export function encodeValue(value: FeatureValue, type: FeatureValueType, view: string, feature: string): string | undefined {
  if (value === null) return undefined
  checkValue(value, type, view, feature)
  return encodeCheckedValue(value, type)
}

/** `encodeValue` of a non-null value that `checkValue` has already accepted. */
export function encodeCheckedValue(value: FeatureValue, type: FeatureValueType): string {
  switch (type) {
    case 'long':
    case 'double':
      return encodeNumber(value as number)
    case 'string':
      return wellFormed(value as string)
    case 'long[]':
    case 'double[]': {
      const nums = value as readonly number[]
      return JSON.stringify(nums.every(isJsonSafe) ? nums : nums.map((x) => (isJsonSafe(x) ? x : encodeNumber(x))))
    }
    case 'string[]': {
      const strings = value as readonly string[]
      return JSON.stringify(strings.every((x) => x.isWellFormed()) ? strings : strings.map(wellFormed))
    }
  }
}

/**
 * A string as UTF-8 holds it: a lone surrogate (a `map` can make one; decoded events cannot hold
 * one) becomes U+FFFD, as the offline table's Parquet writes it. Without this the embedded store
 * (a JSON file) and a string[] in Redis (JSON text, where it is escaped as \ud800) gave serving the
 * lone surrogate while the training set held U+FFFD.
 */
function wellFormed(s: string): string {
  return s.isWellFormed() ? s : s.toWellFormed()
}

/** A JSON number without an exponent (RFC 8259 §6); `String(x)` writes one for 10⁻⁶ ≤ |x| < 10²¹ and for 0. */
const PLAIN_DECIMAL = /^-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?$/
const NEGATIVE_ZERO = /^-0(?:\.0+)?$/

/**
 * `featureValueJson(decodeValue(text, type))`, without decoding a number whose stored text is
 * already that JSON: a long or double written as a plain decimal. Negative zero (`-0.0` for a
 * double, `0` for a long) and exponent forms (which may overflow to ±Infinity, i.e. null) go the
 * long way, as do `NaN`, the infinities and every other type.
 */
export function storedValueJson(text: string | null | undefined, type: FeatureValueType): string {
  if (text === null || text === undefined) return 'null'
  if ((type === 'double' || (type === 'long' && !text.includes('.'))) && PLAIN_DECIMAL.test(text)) {
    if (!(text.charCodeAt(0) === 45 && NEGATIVE_ZERO.test(text))) return text
    return type === 'double' ? NEGATIVE_ZERO_JSON : '0'
  }
  return featureValueJson(decodeValue(text, type))
}

/**
 * Inverse of `encodeValue`; `null`/`undefined` (field absent) decodes to null. A long's `-0` (a JS
 * number the engine may have held) decodes to 0: int64, and so the offline table, has no -0.
 *
 * Strict: a text this encoder never writes for `type` (a word where a number belongs, JSON that is
 * not an array of the element type, a fraction in a long) is a stored row that is not kfs's, and
 * throws StoredRowUnreadable rather than decoding to NaN, null or a value of another type.
 */
export function decodeValue(text: string | null | undefined, type: FeatureValueType): FeatureValue {
  if (text === null || text === undefined) return null
  switch (type) {
    case 'long':
    case 'double':
      return numberOf(text, type)
    case 'string':
      return text
    case 'long[]':
    case 'double[]': {
      const element = type === 'long[]' ? 'long' : 'double'
      return arrayOf(text, type).map((x) => {
        // Elements JSON cannot carry (NaN, ±Infinity, -0) are written as strings.
        if (typeof x === 'string') return numberOf(x, element)
        if (typeof x !== 'number' || (element === 'long' && !Number.isInteger(x))) throw unreadable(type)
        return element === 'long' ? x + 0 : x
      })
    }
    case 'string[]': {
      const strings = arrayOf(text, type)
      if (!strings.every((x) => typeof x === 'string')) throw unreadable(type)
      return strings as string[]
    }
  }
}

/** A number as `encodeNumber` writes it: `String(x)` (a decimal, maybe with an exponent), `-0`, and for a double `NaN` and the infinities. */
const NUMBER_TEXT = /^-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:e[+-]?[0-9]+)?$/
const NON_FINITE_TEXT: ReadonlySet<string> = new Set(['NaN', 'Infinity', '-Infinity'])

function numberOf(text: string, type: 'long' | 'double'): number {
  if (type === 'double' && NON_FINITE_TEXT.has(text)) return Number(text)
  if (!NUMBER_TEXT.test(text)) throw unreadable(type)
  const x = Number(text)
  if (type === 'double') return x
  if (!Number.isInteger(x)) throw unreadable(type)
  return x + 0
}

function arrayOf(text: string, type: FeatureValueType): unknown[] {
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch (err: unknown) {
    throw unreadable(type, err)
  }
  if (!Array.isArray(parsed)) throw unreadable(type)
  return parsed
}

/** The stored text is not a `type` as this encoder writes one; the reader adds the view and feature. */
function unreadable(type: FeatureValueType, cause?: unknown): StoredRowUnreadable {
  return new StoredRowUnreadable('corrupt', `a stored value is not a ${type} as kfs writes one`, { cause })
}
