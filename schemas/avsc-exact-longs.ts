/**
 * avsc's varint arithmetic made exact, installed once for the whole process (this folder is the
 * only place that loads avsc, and every avsc type reads and writes ints and longs through `Tap`).
 *
 * Why a patch and not a custom long type: avsc 5.7.9's `Tap.readLong`/`writeLong` compute the
 * zigzag with doubles and silently flip the sign of a negative long below −2^52
 * (−4503599627370497 ⇄ +4503599627370496, mtth/avsc#455, closed unfixed in the 5.x line), and a
 * custom long type (`LongType.__with`) costs a Buffer and a BigInt per long on the hot decode
 * path. The replacements keep avsc's fast path for small values, are exact for every safe
 * integer (`core/zigzag-varint.ts`), and refuse malformed varints instead of wrapping them:
 * - a long longer than 10 bytes, or whose 10th byte carries bits beyond the 64th;
 * - an int beyond 32 bits.
 * They throw, and the decoder turns the throw into an `undecodable` dead letter with the reason.
 */
import { createRequire } from 'node:module'
import { MAX_VARINT64_BYTES, writeZigzagVarint, zigzagValue } from '../core/zigzag-varint.ts'

interface TapLike {
  buf: Buffer
  pos: number
}

interface TapPrototype {
  readLong(this: TapLike): number
  readInt(this: TapLike): number
  writeLong(this: TapLike, n: number): void
  writeInt(this: TapLike, n: number): void
  unpackLongBytes(this: TapLike): Buffer
}

const MALFORMED_LONG = 'malformed Avro long: a varint longer than 10 bytes or beyond 64 bits'

function readExactLong(this: TapLike): number {
  const buf = this.buf
  let pos = this.pos
  let low = 0
  let shift = 0
  let b: number
  do {
    // Past the end `b` is undefined, which ends the loop; the tap's position then says "short".
    b = buf[pos++]!
    low |= (b & 0x7f) << shift
    shift += 7
  } while (b & 0x80 && shift < 28)
  if (!(b & 0x80)) {
    this.pos = pos
    return (low >>> 1) ^ -(low & 1)
  }
  let high = 0
  let scale = 1
  let bytes = 4
  do {
    b = buf[pos++]!
    high += (b & 0x7f) * scale
    scale *= 128
    bytes++
  } while (b & 0x80 && bytes < MAX_VARINT64_BYTES)
  if (b & 0x80 || (bytes === MAX_VARINT64_BYTES && b > 1)) throw new RangeError(MALFORMED_LONG)
  this.pos = pos
  return zigzagValue(low, high)
}

function readExactInt(this: TapLike): number {
  const n = readExactLong.call(this)
  if (n < -2147483648 || n > 2147483647) throw new RangeError(`malformed Avro int: ${n} is beyond 32 bits`)
  return n
}

function writeExactLong(this: TapLike, n: number): void {
  this.pos = writeZigzagVarint(this.buf, this.pos, n)
}

/** The length check the wide long's byte unpacking (exact, but wrapping past 10 bytes) lacks. */
function checkVarint64(buf: Buffer, start: number): void {
  for (let i = 0; i < MAX_VARINT64_BYTES; i++) {
    const b = buf[start + i]
    if (b === undefined || b < 0x80) {
      if (i === MAX_VARINT64_BYTES - 1 && b !== undefined && b > 1) throw new RangeError(MALFORMED_LONG)
      return
    }
  }
  throw new RangeError(MALFORMED_LONG)
}

const require = createRequire(import.meta.url)
// avsc exports `Tap` from its utils module only (the package has no "exports" map to forbid it).
const { Tap } = require('avsc/lib/utils.js') as { Tap: { prototype: TapPrototype } }

const unpackLongBytes = Tap.prototype.unpackLongBytes
Tap.prototype.readLong = readExactLong
Tap.prototype.readInt = readExactInt
Tap.prototype.writeLong = writeExactLong
Tap.prototype.writeInt = writeExactLong
Tap.prototype.unpackLongBytes = function (this: TapLike): Buffer {
  checkVarint64(this.buf, this.pos)
  return unpackLongBytes.call(this)
}

/** Whether the exact varints are in place (a test pins it against a future avsc that moves Tap). */
export function avscLongsAreExact(): boolean {
  return Tap.prototype.readLong === readExactLong && Tap.prototype.writeLong === writeExactLong
}
