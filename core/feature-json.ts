/**
 * Feature values as JSON text: one rule for every place serving writes a value (the batch and
 * single-view endpoints, WebSocket messages, the served-feature log), so what a client reads is
 * what the training set holds (docs/semantics.md §18).
 *
 * It is what `JSON.stringify` writes, except for negative zero, which keeps its sign: a stored
 * double -0 is -0 in the offline table and so in a training set's Parquet, while
 * `JSON.stringify(-0)` writes `0`. It is written `-0.0`, not `-0`: both are JSON numbers that
 * JavaScript reads as -0, but Python's `json` reads `-0` as the integer 0 (no sign) and `-0.0` as
 * the float -0.0: a decoder that tells integers from floats by their text reads a float for it.
 *
 * Callers pass values whose type allows -0: a long has no negative zero (int64, as the offline
 * table holds it, has none), so the stores decode a long's `-0` as 0 before it gets here.
 *
 * NaN and ±Infinity are `null`, as `JSON.stringify` writes them (the engine never emits them:
 * docs/semantics.md §1).
 */

export const NEGATIVE_ZERO_JSON = '-0.0'

/** `JSON.rawJSON` (Node ≥ 21): a value JSON.stringify writes verbatim; not yet in TypeScript's lib. */
const nativeRawJson = (JSON as unknown as { rawJSON?: (text: string) => unknown }).rawJSON

const negativeZeroAsRaw = (_key: string, value: unknown): unknown =>
  Object.is(value, -0) ? nativeRawJson!(NEGATIVE_ZERO_JSON) : value

/** Whether a -0 is among the numbers JSON.stringify would write for `value` (arrays and plain objects walked). */
function containsNegativeZero(value: unknown): boolean {
  if (typeof value === 'number') return Object.is(value, -0)
  if (typeof value !== 'object' || value === null) return false
  if (Array.isArray(value)) return (value as readonly unknown[]).some(containsNegativeZero)
  if (Object.getPrototypeOf(value) !== Object.prototype) return false
  for (const key in value) if (containsNegativeZero((value as Record<string, unknown>)[key])) return true
  return false
}

/**
 * `JSON.stringify(value)` with every negative zero inside it written `-0.0`. A value without one —
 * nearly every message — is written by JSON.stringify alone: a replacer costs a call per value.
 */
function stringifyKeepingNegativeZero(value: unknown): string {
  if (!containsNegativeZero(value)) return JSON.stringify(value) ?? 'null'
  return nativeRawJson !== undefined ? (JSON.stringify(value, negativeZeroAsRaw) ?? 'null') : negativeZeroByMarker(value)
}

/**
 * stringifyKeepingNegativeZero without JSON.rawJSON (exported for its tests, which run on every
 * Node). Node 20, where serving also runs on uWS, has no JSON.rawJSON. Each -0 is written as a
 * marker string that the text written without markers does not contain: the marker holds no quote,
 * so every quoted copy of it in the second text is one the replacer put there, in place of a -0.
 */
export function negativeZeroByMarker(value: unknown): string {
  let seen = false
  const plain =
    JSON.stringify(value, (_key: string, v: unknown) => {
      if (Object.is(v, -0)) seen = true
      return v
    }) ?? 'null'
  if (!seen) return plain
  let marker = 'kfs-negative-zero'
  while (plain.includes(marker)) marker += '~'
  const marked = JSON.stringify(value, (_key: string, v: unknown) => (Object.is(v, -0) ? marker : v)) as string
  return marked.replaceAll(JSON.stringify(marker), NEGATIVE_ZERO_JSON)
}

/** A feature value (or a request feature's output) as JSON text; undefined is `null`. */
export function featureValueJson(value: unknown): string {
  if (typeof value === 'number') return Object.is(value, -0) ? NEGATIVE_ZERO_JSON : JSON.stringify(value)
  return stringifyKeepingNegativeZero(value)
}

/** `JSON.stringify(value)` with every negative zero inside it written `-0.0`: a message that carries feature values. */
export function featureMessageJson(value: unknown): string {
  return stringifyKeepingNegativeZero(value)
}
