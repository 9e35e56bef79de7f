/**
 * Zigzag LEB128 varints (Avro's int and long, kfs's snapshot svarint) for every safe integer,
 * exactly.
 *
 * The textbook arithmetic (`z = n < 0 ? -2n - 1 : 2n`, and back `z % 2 ? -(z + 1) / 2 : z / 2`)
 * is only exact while z < 2^53, i.e. |n| ≤ 2^52: the zigzag of −(2^52 + 1) is 2^53 + 1, which a
 * double rounds to 2^53 — the zigzag of +2^52. That silently flips the sign of a negative long
 * below −2^52 (avsc 5.7.9 does this both ways: mtth/avsc#455). Here z is never held whole: it is
 * split at bit 28 into a low part (an int) and a high part (a double), each exact, and the value
 * is put back together from the halves.
 */

const TWO_27 = 2 ** 27
const TWO_28 = 2 ** 28

/** The most bytes a 64-bit varint takes; a longer one is malformed. */
export const MAX_VARINT64_BYTES = 10

/**
 * Writes `n` (a safe integer) as a zigzag varint at `buf[pos…]` and returns the position after
 * it. The caller makes room for 10 bytes (writes past the end of a typed array are dropped, which
 * avsc's Tap relies on to detect a short buffer).
 */
export function writeZigzagVarint(buf: Uint8Array, pos: number, n: number): number {
  if (n >= -1073741824 && n < 1073741824) {
    // 31-bit range: the zigzag fits an int32 and plain bit operations are exact.
    let m = n >= 0 ? n << 1 : (~n << 1) | 1
    while (m > 0x7f) {
      buf[pos++] = (m & 0x7f) | 0x80
      m >>>= 7
    }
    buf[pos++] = m
    return pos
  }
  const negative = n < 0
  const magnitude = negative ? -n : n
  // z = 2·magnitude − negative = high·2^28 + low, with low < 2^28 (both exact).
  let high = Math.floor(magnitude / TWO_27)
  let low = (magnitude - high * TWO_27) * 2
  if (negative) {
    if (low === 0) {
      high -= 1
      low = TWO_28 - 1
    } else {
      low -= 1
    }
  }
  // Four 7-bit groups of `low`, always continued: `high` ≥ 7 here since |n| ≥ 2^30.
  buf[pos++] = (low & 0x7f) | 0x80
  buf[pos++] = ((low >>> 7) & 0x7f) | 0x80
  buf[pos++] = ((low >>> 14) & 0x7f) | 0x80
  buf[pos++] = ((low >>> 21) & 0x7f) | 0x80
  while (high >= 0x80) {
    buf[pos++] = (high % 0x80) | 0x80
    high = Math.floor(high / 0x80)
  }
  buf[pos++] = high
  return pos
}

/**
 * The value of a zigzag `z = high·2^28 + low` (`low` < 2^28 an int, `high` the value of the
 * remaining groups). Exact whenever the result is a safe integer; beyond it the result is rounded
 * but keeps its sign and stays beyond ±2^53 − 2, so a range check after it still refuses it.
 */
export function zigzagValue(low: number, high: number): number {
  if (high === 0) return (low >>> 1) ^ -(low & 1)
  if ((low & 1) === 0) return high * TWO_27 + (low >>> 1)
  return -(high * TWO_27 + (low + 1) / 2)
}
