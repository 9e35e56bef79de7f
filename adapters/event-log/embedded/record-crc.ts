/**
 * The record CRC (./record-format.ts `crc32`) computed while the framing copies a record's runs
 * (./packed-records.ts): each byte is read once, copied and folded into the CRC register, instead
 * of copied and then read back for the CRC. A run the framing sees again and again (an envelope's
 * constant head or snapshot field: the whole of a small source) is folded in at a fixed cost —
 * the CRC register is linear, so crossing n known bytes is "shift the register over n zero bytes,
 * then xor what those bytes add from zero", both precomputed — rather than eight table lookups per
 * eight bytes.
 *
 * The register here is the raw one: start at −1 (`CRC_START`), and `crcOf(register)` is the CRC.
 */
import { CRC_TABLES } from './record-format.ts'

export const CRC_START = -1

/** The CRC of bytes whose register ended at `c`. */
export function crcOf(c: number): number {
  return (c ^ -1) >>> 0
}

/** The CRC register `c` (not inverted) advanced over source[from, to), each byte also copied to target from `at`. */
export function copyWithCrc(source: Uint8Array, from: number, to: number, target: Uint8Array, at: number, c: number): number {
  const t = CRC_TABLES
  let i = from
  let o = at
  for (; i + 8 <= to; i += 8, o += 8) {
    const b0 = source[i]!
    const b1 = source[i + 1]!
    const b2 = source[i + 2]!
    const b3 = source[i + 3]!
    const b4 = source[i + 4]!
    const b5 = source[i + 5]!
    const b6 = source[i + 6]!
    const b7 = source[i + 7]!
    target[o] = b0
    target[o + 1] = b1
    target[o + 2] = b2
    target[o + 3] = b3
    target[o + 4] = b4
    target[o + 5] = b5
    target[o + 6] = b6
    target[o + 7] = b7
    const a = c ^ (b0 | (b1 << 8) | (b2 << 16) | (b3 << 24))
    c =
      t[1792 + (a & 0xff)]! ^
      t[1536 + ((a >>> 8) & 0xff)]! ^
      t[1280 + ((a >>> 16) & 0xff)]! ^
      t[1024 + (a >>> 24)]! ^
      t[768 + b4]! ^
      t[512 + b5]! ^
      t[256 + b6]! ^
      t[b7]!
  }
  if (i + 4 <= to) {
    const b0 = source[i]!
    const b1 = source[i + 1]!
    const b2 = source[i + 2]!
    const b3 = source[i + 3]!
    target[o] = b0
    target[o + 1] = b1
    target[o + 2] = b2
    target[o + 3] = b3
    const a = c ^ (b0 | (b1 << 8) | (b2 << 16) | (b3 << 24))
    c = t[768 + (a & 0xff)]! ^ t[512 + ((a >>> 8) & 0xff)]! ^ t[256 + ((a >>> 16) & 0xff)]! ^ t[a >>> 24]!
    i += 4
    o += 4
  }
  for (; i < to; i++, o++) {
    const b = source[i]!
    target[o] = b
    c = t[(c ^ b) & 0xff]! ^ (c >>> 8)
  }
  return c
}

/** The CRC register `c` (not inverted) advanced over buf[from, to). */
export function crcOver(buf: Uint8Array, from: number, to: number, c: number): number {
  const t = CRC_TABLES
  let i = from
  for (; i + 8 <= to; i += 8) {
    const a = c ^ (buf[i]! | (buf[i + 1]! << 8) | (buf[i + 2]! << 16) | (buf[i + 3]! << 24))
    c =
      t[1792 + (a & 0xff)]! ^
      t[1536 + ((a >>> 8) & 0xff)]! ^
      t[1280 + ((a >>> 16) & 0xff)]! ^
      t[1024 + (a >>> 24)]! ^
      t[768 + buf[i + 4]!]! ^
      t[512 + buf[i + 5]!]! ^
      t[256 + buf[i + 6]!]! ^
      t[buf[i + 7]!]!
  }
  if (i + 4 <= to) {
    const a = c ^ (buf[i]! | (buf[i + 1]! << 8) | (buf[i + 2]! << 16) | (buf[i + 3]! << 24))
    c = t[768 + (a & 0xff)]! ^ t[512 + ((a >>> 8) & 0xff)]! ^ t[256 + ((a >>> 16) & 0xff)]! ^ t[a >>> 24]!
    i += 4
  }
  for (; i < to; i++) c = t[(c ^ buf[i]!) & 0xff]! ^ (c >>> 8)
  return c
}

/** Longest run folded in through a shift table (a table per length: 4 KiB each, a few lengths at most). */
export const MAX_CONSTANT_RUN = 64

const zeroShifts = new Map<number, Int32Array>()

/**
 * The register after `n` zero bytes, as four tables of the register's bytes (it is linear:
 * the four lookups' xor). Made once per length.
 */
export function zeroShift(n: number): Int32Array {
  let table = zeroShifts.get(n)
  if (table === undefined) {
    const t = CRC_TABLES
    table = new Int32Array(1024)
    for (let k = 0; k < 4; k++)
      for (let v = 0; v < 256; v++) {
        let c = v << (8 * k)
        for (let j = 0; j < n; j++) c = t[c & 0xff]! ^ (c >>> 8)
        table[k * 256 + v] = c
      }
    zeroShifts.set(n, table)
  }
  return table
}

/**
 * The register `c` advanced over bytes known ahead: `shift` = zeroShift(their length), `added`
 * = crcOver(them, from −, with register 0) — what they add to any register.
 */
export function crcOverKnown(c: number, shift: Int32Array, added: number): number {
  return (
    shift[c & 0xff]! ^ shift[256 + ((c >>> 8) & 0xff)]! ^ shift[512 + ((c >>> 16) & 0xff)]! ^ shift[768 + (c >>> 24)]! ^ added
  )
}
