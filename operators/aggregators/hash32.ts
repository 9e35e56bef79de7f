/**
 * MurmurHash3 (x86, 32-bit) over a string's UTF-16 code units, two units per 32-bit word.
 * Deterministic on every platform (integer math only); used to place values in HyperLogLog
 * registers. Numbers are hashed through their shortest round-trip string (`String(v)`).
 */
export function hash32(s: string, seed = 0x9747b28c): number {
  let h = seed | 0
  const len = s.length
  let i = 0
  for (; i + 1 < len; i += 2) h = mixWord(h, (s.charCodeAt(i) | (s.charCodeAt(i + 1) << 16)) | 0)
  if (i < len) h = mixTail(h, s.charCodeAt(i))
  return finish(h, len)
}

/** One 32-bit word (two UTF-16 units) into the state. */
function mixWord(h: number, k: number): number {
  k = Math.imul(k, 0xcc9e2d51)
  k = (k << 15) | (k >>> 17)
  k = Math.imul(k, 0x1b873593)
  h ^= k
  h = (h << 13) | (h >>> 19)
  return (Math.imul(h, 5) + 0xe6546b64) | 0
}

/** The odd last unit. */
function mixTail(h: number, k: number): number {
  k = Math.imul(k, 0xcc9e2d51)
  k = (k << 15) | (k >>> 17)
  k = Math.imul(k, 0x1b873593)
  return h ^ k
}

/** The final avalanche over `units` UTF-16 units hashed. */
function finish(h: number, units: number): number {
  h ^= units * 2
  h ^= h >>> 16
  h = Math.imul(h, 0x85ebca6b)
  h ^= h >>> 13
  h = Math.imul(h, 0xc2b2ae35)
  h ^= h >>> 16
  return h >>> 0
}

/** Decimal digits of an integer, last digit first (the scratch `hash32OfNumber` writes into). */
const digitUnits = new Int32Array(12)

/**
 * `hash32(String(v))` without building the string: an integer in int32 range is written as its
 * decimal UTF-16 units (what `String` yields for it) into a scratch array and hashed from there.
 * Other numbers go through `String`. The same bits either way — approx_distinct's sketches (and
 * so its snapshots) must not depend on which path a value took.
 */
export function hash32OfNumber(v: number, seed = 0x9747b28c): number {
  if ((v | 0) !== v) return hash32(String(v), seed)
  const units = digitUnits
  let n = 0
  // −0 is an int32 here too (−0 | 0 is 0, and −0 === 0); String(−0) is "0", as this writes.
  let x = v < 0 ? -v : v
  do {
    const q = Math.floor(x / 10)
    units[n++] = 48 + x - q * 10
    x = q
  } while (x !== 0)
  if (v < 0) units[n++] = 45
  let h = seed | 0
  let i = n - 1
  for (; i >= 1; i -= 2) h = mixWord(h, ((units[i] as number) | ((units[i - 1] as number) << 16)) | 0)
  if (i === 0) h = mixTail(h, units[0] as number)
  return finish(h, n)
}
