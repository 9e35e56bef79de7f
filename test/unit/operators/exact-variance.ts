/** A reference for variance and stddev tests: the variance of doubles in exact rational arithmetic. */

/** A double as an exact integer times 2^exponent. */
function exactParts(x: number): { m: bigint; e: number } {
  const view = new DataView(new ArrayBuffer(8))
  view.setFloat64(0, x)
  const bits = view.getBigUint64(0)
  const sign = bits >> 63n === 1n ? -1n : 1n
  const e = Number((bits >> 52n) & 0x7ffn)
  const m = bits & ((1n << 52n) - 1n)
  return e === 0 ? { m: sign * m, e: -1074 } : { m: sign * (m | (1n << 52n)), e: e - 1075 }
}

/** The variance of doubles in exact rational arithmetic (n·Σx² − (Σx)² over n², or n(n−1)), rounded once. */
export function exactVariance(xs: readonly number[], sample: boolean): number | null {
  const n = BigInt(xs.length)
  if (n === 0n || (sample && n < 2n)) return null
  const parts = xs.map(exactParts)
  const e = Math.min(...parts.map((p) => p.e))
  const ints = parts.map((p) => p.m << BigInt(p.e - e))
  const s1 = ints.reduce((a, b) => a + b, 0n)
  const s2 = ints.reduce((a, b) => a + b * b, 0n)
  const num = n * s2 - s1 * s1
  const den = n * (sample ? n - 1n : n)
  if (num === 0n) return 0
  // A quotient of about 2^80: far more bits than a double's 53, rounded once by Number().
  const shift = 80 - (num.toString(2).length - den.toString(2).length)
  const q = shift >= 0 ? (num << BigInt(shift)) / den : num / (den << BigInt(-shift))
  return scaleByPowerOfTwo(Number(q), 2 * e - shift)
}

/** x · 2^p in steps, so that no intermediate power overflows or underflows on its own. */
function scaleByPowerOfTwo(x: number, p: number): number {
  let out = x
  for (let left = p; left !== 0; ) {
    const step = Math.max(-1000, Math.min(1000, left))
    out *= 2 ** step
    left -= step
  }
  return out
}
