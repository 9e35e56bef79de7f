/**
 * Little binary writer/reader for operator state snapshots. Layout primitives:
 * - uvarint: unsigned LEB128 over JS numbers (safe integers, no 32-bit truncation);
 * - svarint: zigzag LEB128, exact for every safe integer (../../core/zigzag-varint.ts);
 * - f64: IEEE-754 little endian (bit-exact, keeps −0, NaN payloads, ±Infinity);
 * - str: uvarint byte length + UTF-8 bytes.
 * No JSON anywhere: accumulators can be large (sketches) and must round-trip bit for bit.
 */
import { InvariantViolation } from '../../core/errors.ts'
import { writeZigzagVarint, zigzagValue } from '../../core/zigzag-varint.ts'

const encoder = new TextEncoder()
const decoder = new TextDecoder('utf-8', { fatal: true })

/** Bytes of `v` as an unsigned LEB128 varint. */
function uvarintSize(v: number): number {
  let n = 1
  while (v >= 0x80) {
    v = Math.floor(v / 0x80)
    n++
  }
  return n
}

export class ByteWriter {
  #buf: Uint8Array
  #view: DataView
  #len = 0

  constructor(initialBytes = 1024) {
    this.#buf = new Uint8Array(initialBytes)
    this.#view = new DataView(this.#buf.buffer)
  }

  #ensure(extra: number): void {
    if (this.#len + extra <= this.#buf.length) return
    // From at least 16: an empty buffer (after `take`, or `new ByteWriter(0)`) doubles from there.
    let size = Math.max(16, this.#buf.length * 2)
    while (size < this.#len + extra) size *= 2
    const next = new Uint8Array(size)
    next.set(this.#buf.subarray(0, this.#len))
    this.#buf = next
    this.#view = new DataView(next.buffer)
  }

  u8(v: number): void {
    this.#ensure(1)
    this.#buf[this.#len++] = v & 0xff
  }

  uvarint(v: number): void {
    // One byte for 0…127 (counts, lengths, tile counts: most of a snapshot's varints); `v & 0x7f`
    // equals v only for those integers, so anything else takes the checked path below.
    if ((v & 0x7f) === v) {
      this.#ensure(1)
      this.#buf[this.#len++] = v
      return
    }
    if (!Number.isSafeInteger(v) || v < 0) throw new InvariantViolation(`uvarint out of range: ${v}`)
    this.#ensure(8)
    while (v >= 0x80) {
      this.#buf[this.#len++] = (v % 0x80) | 0x80
      v = Math.floor(v / 0x80)
    }
    this.#buf[this.#len++] = v
  }

  /** Every safe integer, exactly (the zigzag of |v| > 2^52 does not fit a double: core/zigzag-varint.ts). */
  svarint(v: number): void {
    if (!Number.isSafeInteger(v)) throw new InvariantViolation(`svarint out of range: ${v}`)
    this.#ensure(10)
    this.#len = writeZigzagVarint(this.#buf, this.#len, v)
  }

  f64(v: number): void {
    this.#ensure(8)
    this.#view.setFloat64(this.#len, v, true)
    this.#len += 8
  }

  /**
   * UTF-8 straight into the buffer (no intermediate array per string: snapshots of large states
   * write millions of keys). The length prefix is reserved for the most bytes the string can
   * take (3 per UTF-16 unit) and the bytes moved back when it turns out shorter, so the layout is
   * exactly `bytes(encoder.encode(s))`.
   */
  str(s: string): void {
    if (s.length < 0x80 && this.#ascii(s)) return
    const most = s.length * 3
    const reserved = uvarintSize(most)
    // At least 8: the uvarint below must not grow (and so copy) the buffer past the bytes just written.
    this.#ensure(Math.max(8, reserved + most))
    const start = this.#len + reserved
    const { written } = encoder.encodeInto(s, this.#buf.subarray(start, start + most))
    const needed = uvarintSize(written)
    if (needed < reserved) this.#buf.copyWithin(this.#len + needed, start, start + written)
    this.uvarint(written)
    this.#len += written
  }

  /**
   * `str` for a string of fewer than 128 units, all ASCII: its UTF-8 is its units, its length
   * prefix one byte. Written by a JS loop, without the subarray and the native call `encodeInto`
   * costs per string (a snapshot writes a key, an offset and often a value per entry). False,
   * having written nothing that counts, at the first unit ≥ 0x80.
   */
  #ascii(s: string): boolean {
    const n = s.length
    this.#ensure(n + 1)
    const buf = this.#buf
    const at = this.#len + 1
    for (let i = 0; i < n; i++) {
      const c = s.charCodeAt(i)
      if (c >= 0x80) return false
      buf[at + i] = c
    }
    buf[this.#len] = n
    this.#len = at + n
    return true
  }

  bytes(b: Uint8Array): void {
    this.uvarint(b.length)
    this.#ensure(b.length)
    this.#buf.set(b, this.#len)
    this.#len += b.length
  }

  finish(): Uint8Array {
    return this.#buf.slice(0, this.#len)
  }

  /**
   * The bytes written, as a view of the writer's own buffer (no copy) when they fill at least
   * half of it, else a copy (a view would keep the unused part alive); the writer starts empty
   * again. For a writer presized to about what it will hold (a checkpoint's cut: one allocation
   * and no copy of a few hundred KB while the event loop waits).
   */
  take(): Uint8Array {
    const bytes = this.#len * 2 >= this.#buf.length ? this.#buf.subarray(0, this.#len) : this.#buf.slice(0, this.#len)
    this.#buf = new Uint8Array(0)
    this.#view = new DataView(this.#buf.buffer)
    this.#len = 0
    return bytes
  }
}

export class ByteReader {
  readonly #buf: Uint8Array
  readonly #view: DataView
  #pos = 0

  constructor(buf: Uint8Array) {
    this.#buf = buf
    this.#view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength)
  }

  /** Bytes read so far. */
  get offset(): number {
    return this.#pos
  }

  get done(): boolean {
    return this.#pos >= this.#buf.length
  }

  #need(n: number): void {
    if (this.#pos + n > this.#buf.length) throw new InvariantViolation('snapshot truncated')
  }

  u8(): number {
    this.#need(1)
    return this.#buf[this.#pos++] as number
  }

  uvarint(): number {
    let result = 0
    let scale = 1
    for (;;) {
      const b = this.u8()
      result += (b & 0x7f) * scale
      if (b < 0x80) break
      scale *= 0x80
      if (scale > 2 ** 56) throw new InvariantViolation('uvarint too long')
    }
    return result
  }

  svarint(): number {
    // The zigzag in two exact halves: 28 low bits, then at most 4 groups (a safe integer's zigzag < 2^54).
    let low = 0
    let shift = 0
    let b: number
    do {
      b = this.u8()
      low |= (b & 0x7f) << shift
      shift += 7
    } while (b >= 0x80 && shift < 28)
    if (b < 0x80) return zigzagValue(low, 0)
    let high = 0
    let scale = 1
    for (let groups = 1; ; groups++) {
      b = this.u8()
      high += (b & 0x7f) * scale
      if (b < 0x80) break
      if (groups === 4) throw new InvariantViolation('svarint too long')
      scale *= 0x80
    }
    const v = zigzagValue(low, high)
    if (!Number.isSafeInteger(v)) throw new InvariantViolation(`svarint out of range: ${v}`)
    return v
  }

  f64(): number {
    this.#need(8)
    const v = this.#view.getFloat64(this.#pos, true)
    this.#pos += 8
    return v
  }

  str(): string {
    return decoder.decode(this.bytes())
  }

  bytes(): Uint8Array {
    const n = this.uvarint()
    this.#need(n)
    const out = this.#buf.subarray(this.#pos, this.#pos + n)
    this.#pos += n
    return out
  }
}
