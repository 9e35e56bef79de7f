/**
 * JSON numbers whose parsed double hides what the text said. `JSON.parse` rounds every literal to
 * the nearest double, so `3.0000000000000001` arrives as the integer 3 and would pass a check for
 * an `int` or `long` — a fraction silently truncated — and `1e400` arrives as Infinity. A changelog
 * message is parsed here instead: such a literal (a non-integral decimal whose double is integral,
 * or a finite one whose double is infinite) arrives as a `LossyNumber` holding the double and the
 * literal, so a field can refuse it naming the text, or a floating field take the rounded double
 * as it takes any rounded literal.
 *
 * The reviver that reads each literal's source (Node ≥ 22) makes JSON.parse ~7× slower, so it runs
 * only for a text in which a scan finds such a literal (inside a string too: a false alarm costs
 * time, not correctness); every other text — nearly all — takes plain `JSON.parse`.
 */

/** A literal `JSON.parse` rounded to an integral double though it is a fraction, or to ±Infinity. */
export class LossyNumber {
  /** `value`: the double JSON gives; `literal`: the number as the text wrote it. */
  readonly value: number
  readonly literal: string
  constructor(value: number, literal: string) {
    this.value = value
    this.literal = literal
  }
}

const FRACTION_OR_EXPONENT = /\d[.eE]/
/** A number token with a fraction or an exponent (leftmost-longest, so a JSON literal is matched whole). */
const FRACTIONAL_TOKEN = /-?\d+(?:\.\d+)?[eE][+-]?\d+|-?\d+\.\d+/g

/** `JSON.parse`, except that the literals above come as `LossyNumber`s; throws as JSON.parse does. */
export function parseJsonNumbersExact(text: string): unknown {
  return mayHoldLossyNumber(text) ? JSON.parse(text, markRounded) : JSON.parse(text)
}

/** Whether `text` holds a token that, as a JSON literal, would be a `LossyNumber`. */
function mayHoldLossyNumber(text: string): boolean {
  if (!FRACTION_OR_EXPONENT.test(text)) return false
  FRACTIONAL_TOKEN.lastIndex = 0
  for (let m = FRACTIONAL_TOKEN.exec(text); m !== null; m = FRACTIONAL_TOKEN.exec(text)) {
    const value = Number(m[0])
    if (!Number.isFinite(value) || (Number.isInteger(value) && !isIntegralDecimal(m[0]))) return true
  }
  return false
}

function markRounded(this: unknown, _key: string, value: unknown, context?: { source?: string }): unknown {
  if (typeof value !== 'number') return value
  const literal = context?.source
  if (literal === undefined) return value
  if (!Number.isFinite(value)) return new LossyNumber(value, literal)
  if (!Number.isInteger(value) || !FRACTION_OR_EXPONENT.test(literal) || isIntegralDecimal(literal)) return value
  return new LossyNumber(value, literal)
}

const DECIMAL = /^-?(\d+)(?:\.(\d+))?(?:[eE]([+-]?\d+))?$/

/** Whether a JSON number literal denotes an integer exactly (`2.50e1` does, `3.0000000000000001` does not). */
export function isIntegralDecimal(literal: string): boolean {
  const m = DECIMAL.exec(literal)
  if (m === null) return false
  const fraction = m[2] ?? ''
  const digits = (m[1]! + fraction).replace(/0+$/, '')
  if (digits === '') return true
  const trailingZeros = m[1]!.length + fraction.length - digits.length
  // value = digits × 10^(exponent − fraction digits + trailing zeros), digits ending in a non-zero digit.
  return Number(m[3] ?? '0') - fraction.length + trailingZeros >= 0
}
