/**
 * Avro binary primitives written into one growing buffer, for producers that encode many records
 * back to back (`kfs ingest`: ./change-envelope-writer.ts) instead of a buffer per record.
 *
 * The bytes are avsc's own, byte for byte (pinned by test/unit/schemas/change-envelope-writer.test.ts):
 * longs as exact zigzag varints (numbers and bigints alike), floats and
 * doubles little-endian, and strings as avsc's `Tap.writeString` does them — its own UTF-8 loop
 * up to 64 bytes (a lone surrogate then takes the 3 bytes of its code unit) and Buffer's
 * `utf8Write` beyond (a lone surrogate becomes U+FFFD).
 */
import { writeZigzagVarint } from '../core/zigzag-varint.ts'

const INITIAL_BYTES = 1 << 16
const COPY_LOOP_BYTES = 40
/** avsc's `isSafeLong` bound for its own long type. */
const AVSC_SAFE_LONG = 9007199254740990

export class AvroSink {
  buf: Buffer
  pos = 0
  /** Write longs as avsc's wide type does (exactly), not as its own long type. */
  wide = false
  /** Set when a value avsc's own long type refuses was written (see writeLong). */
  sawWide = false

  constructor(initialBytes = INITIAL_BYTES) {
    this.buf = Buffer.allocUnsafe(initialBytes)
  }

  /** Room for `bytes` more (the buffer doubles; what was written is kept). */
  ensure(bytes: number): void {
    if (this.pos + bytes <= this.buf.length) return
    let size = this.buf.length * 2
    while (size < this.pos + bytes) size *= 2
    const grown = Buffer.allocUnsafe(size)
    this.buf.copy(grown, 0, 0, this.pos)
    this.buf = grown
  }

  /** The bytes written so far (a view: valid until the next write). */
  written(): Buffer {
    return this.buf.subarray(0, this.pos)
  }

  reset(): void {
    this.pos = 0
  }

  writeByte(byte: number): void {
    this.ensure(1)
    this.buf[this.pos++] = byte
  }

  writeRaw(bytes: Uint8Array): void {
    this.writeFrom(bytes, 0, bytes.length)
  }

  /** Bytes [from, to) of `source` as they are. */
  writeFrom(source: Uint8Array, from: number, to: number): void {
    this.ensure(to - from)
    // A loop for a few dozen bytes; beyond, set() costs less than the loop despite its view.
    if (to - from > COPY_LOOP_BYTES) {
      this.buf.set(source.subarray(from, to), this.pos)
      this.pos += to - from
      return
    }
    const buf = this.buf
    let pos = this.pos
    for (let i = from; i < to; i++) buf[pos++] = source[i]!
    this.pos = pos
  }

  /** Text as UTF-8 bytes, no length (a message key): Buffer's encoding, a lone surrogate as U+FFFD. */
  writeUtf8(s: string): void {
    const n = s.length
    this.ensure(n)
    const buf = this.buf
    let pos = this.pos
    for (let i = 0; i < n; i++) {
      const c = s.charCodeAt(i)
      if (c >= 0x80) {
        const len = Buffer.byteLength(s)
        this.ensure(len)
        this.pos += this.buf.write(s, this.pos, len, 'utf8')
        return
      }
      buf[pos++] = c
    }
    this.pos = pos
  }

  /**
   * An Avro long or int (a safe integer, or a bigint in int64 range) as a zigzag varint, exactly
   * (as avsc writes it once ./avsc-exact-longs.ts is installed). avsc's own long (the fast type)
   * takes numbers within ±(2^53 − 2); anything else sends the whole event to the wide type, so a
   * value the fast type refuses sets `sawWide` (the caller rewrites the event with `wide` on).
   */
  writeLong(n: number | bigint): void {
    this.ensure(10)
    if (typeof n === 'bigint' || n > AVSC_SAFE_LONG || n < -AVSC_SAFE_LONG) {
      this.sawWide = true
      this.#writeExactLong(BigInt(n))
      return
    }
    this.pos = writeZigzagVarint(this.buf, this.pos, n)
  }

  #writeExactLong(n: bigint): void {
    let z = n >= 0n ? n * 2n : -n * 2n - 1n
    const buf = this.buf
    let pos = this.pos
    while (z >= 128n) {
      buf[pos++] = Number(z & 0x7fn) | 0x80
      z >>= 7n
    }
    buf[pos++] = Number(z)
    this.pos = pos
  }

  writeDouble(d: number): void {
    this.ensure(8)
    this.pos = this.buf.writeDoubleLE(d, this.pos)
  }

  writeFloat(f: number): void {
    this.ensure(4)
    this.pos = this.buf.writeFloatLE(f, this.pos)
  }

  writeBoolean(b: boolean): void {
    this.writeByte(b ? 1 : 0)
  }

  /** An Avro string: its UTF-8 byte length, then the bytes (see the header for lone surrogates). */
  writeString(s: string): void {
    const n = s.length
    // The usual short ASCII text: the length is the byte length, one varint byte.
    if (n < 64) {
      this.ensure(n + 1)
      const buf = this.buf
      const start = this.pos
      let pos = start + 1
      let i = 0
      for (; i < n; i++) {
        const c = s.charCodeAt(i)
        if (c >= 0x80) break
        buf[pos++] = c
      }
      if (i === n) {
        buf[start] = n << 1
        this.pos = pos
        return
      }
    }
    this.#writeText(s)
  }

  #writeText(s: string): void {
    const len = Buffer.byteLength(s)
    this.writeLong(len)
    this.ensure(len)
    const buf = this.buf
    let pos = this.pos
    this.pos += len
    if (len > 64) {
      buf.write(s, pos, len, 'utf8')
      return
    }
    // avsc's loop (Tap.writeString), unit by unit: a lone surrogate takes the 3 bytes of its unit.
    for (let i = 0; i < s.length; i++) {
      let c1 = s.charCodeAt(i)
      let c2: number
      if (c1 < 0x80) buf[pos++] = c1
      else if (c1 < 0x800) {
        buf[pos++] = (c1 >> 6) | 0xc0
        buf[pos++] = (c1 & 0x3f) | 0x80
      } else if ((c1 & 0xfc00) === 0xd800 && ((c2 = s.charCodeAt(i + 1)) & 0xfc00) === 0xdc00) {
        c1 = 0x10000 + ((c1 & 0x03ff) << 10) + (c2 & 0x03ff)
        i++
        buf[pos++] = (c1 >> 18) | 0xf0
        buf[pos++] = ((c1 >> 12) & 0x3f) | 0x80
        buf[pos++] = ((c1 >> 6) & 0x3f) | 0x80
        buf[pos++] = (c1 & 0x3f) | 0x80
      } else {
        buf[pos++] = (c1 >> 12) | 0xe0
        buf[pos++] = ((c1 >> 6) & 0x3f) | 0x80
        buf[pos++] = (c1 & 0x3f) | 0x80
      }
    }
  }
}
