/**
 * A bundle being written (format version 2: rekey-bundle-format.ts), into a buffer that grows:
 * events are encoded once, straight into it — a transaction's forwards are many small strings, and
 * sizing them first cost as much as writing them.
 */
import type { ProduceRecord } from '../ports/event-log.ts'
import {
  BUNDLE_HEAD_BYTES,
  BUNDLE_VERSION,
  MAGIC,
  MAX_EVENTS,
  VALUE_INTEGER,
  VALUE_INTERNED,
  VALUE_LITERAL,
  VALUE_NEW,
} from './rekey-bundle-format.ts'

/** A bundle's first buffer: small, as a live tail's transactions hold a few events, not a full bundle per partition. */
const FIRST_CAPACITY = 16 * 1024
/** Header values up to this many UTF-16 units are interned; longer ones rarely repeat and are written out. */
const INTERN_MAX_LENGTH = 256
/** The widest varint this format writes (< 2^53). */
const VARINT_MAX_BYTES = 8

export class BundleWriter {
  #buf: Buffer
  #at = BUNDLE_HEAD_BYTES
  #count = 0
  /** Where the last event started. */
  #last = BUNDLE_HEAD_BYTES
  readonly #names = new Map<string, number>()
  /** The name table in order, and per header position the name index the last event had there. */
  readonly #nameList: string[] = []
  readonly #namesAt: number[] = []
  readonly #values = new Map<string, number>()
  /** Per name index: the last integer written under it, by the text of the header before it. */
  readonly #bases: Map<string, number>[] = []

  constructor(capacity = FIRST_CAPACITY) {
    this.#buf = Buffer.allocUnsafe(capacity)
  }

  get count(): number {
    return this.#count
  }

  get bytes(): number {
    return this.#at
  }

  /**
   * Appends an event; its key as the first `keyLength` bytes of `keyBytes` when given (encoded
   * already, to find its partition), else as the event has it.
   */
  add(event: ProduceRecord, keyBytes?: Uint8Array, keyLength = keyBytes?.length ?? 0): void {
    if (this.#count >= MAX_EVENTS) throw new RangeError(`a bundle holds at most ${MAX_EVENTS} events`)
    this.#last = this.#at
    this.#count++
    if (keyBytes === undefined) this.#nullable(event.key)
    else this.#bytes(keyBytes, keyLength)
    this.#nullable(event.value)
    const headers = event.headers
    // for…in, twice, rather than Object.keys: no array per event (the stage's records are plain objects).
    let count = 0
    for (const _ in headers) count++
    this.#varint(count)
    let previous = ''
    let position = 0
    for (const name in headers) {
      const value = headers[name]!
      const nameIndex = this.#name(name, position++)
      const integer = canonicalInteger(value)
      if (integer >= 0) this.#integer(nameIndex, previous, integer)
      else this.#value(value)
      previous = value
    }
  }

  /**
   * The bundle without its last event, which made it too big: the caller writes that event again,
   * into the next bundle (its names and values may refer to this bundle's tables). The writer is
   * done after this.
   */
  finishWithoutLast(): Uint8Array {
    this.#at = this.#last
    this.#count--
    return this.finish()
  }

  finish(): Uint8Array {
    this.#buf.set(MAGIC, 0)
    this.#buf[4] = BUNDLE_VERSION
    this.#buf.writeUInt32BE(this.#count, 5)
    return this.#buf.subarray(0, this.#at)
  }

  /** Writes the reference to `name`, the header at `position` of its event; returns its index. */
  #name(name: string, position: number): number {
    // Events mostly carry the same names in the same order (often the same string objects): try
    // the index the last event had at this position before hashing the name.
    let index = this.#namesAt[position]
    if (index === undefined || this.#nameList[index] !== name) index = this.#names.get(name)
    if (index !== undefined) {
      this.#namesAt[position] = index
      this.#varint(index)
      return index
    }
    index = this.#nameList.length
    this.#names.set(name, index)
    this.#nameList.push(name)
    this.#namesAt[position] = index
    this.#bases.push(new Map())
    this.#varint(index)
    this.#text(name, 0, 1)
    return index
  }

  #value(value: string): void {
    if (value.length > INTERN_MAX_LENGTH) return this.#text(value, VALUE_LITERAL, 4)
    const known = this.#values.get(value)
    if (known !== undefined) return this.#varint(known * 4 + VALUE_INTERNED)
    this.#values.set(value, this.#values.size)
    this.#text(value, VALUE_NEW, 4)
  }

  /** `value` as the step from the base of its name after `previous` (see the format), zigzagged. */
  #integer(nameIndex: number, previous: string, value: number): void {
    const bases = this.#bases[nameIndex]!
    const step = value - (bases.get(previous) ?? 0)
    bases.set(previous, value)
    this.#varint((step >= 0 ? step * 2 : -step * 2 - 1) * 4 + VALUE_INTEGER)
  }

  #room(n: number): void {
    if (this.#at + n <= this.#buf.length) return
    const grown = Buffer.allocUnsafe(Math.max(this.#buf.length * 2, this.#at + n))
    grown.set(this.#buf.subarray(0, this.#at))
    this.#buf = grown
  }

  #varint(n: number): void {
    this.#room(VARINT_MAX_BYTES)
    const buf = this.#buf
    if (n < 0x80) {
      buf[this.#at++] = n
      return
    }
    let at = this.#at
    while (n >= 0x80) {
      buf[at++] = (n % 0x80) | 0x80
      n = Math.floor(n / 0x80)
    }
    buf[at++] = n
    this.#at = at
  }

  /** Null as 0, bytes or text as their length + 1, then them. */
  #nullable(bytes: Uint8Array | string | null): void {
    if (bytes === null) return this.#varint(0)
    if (typeof bytes === 'string') return this.#text(bytes, 1, 1)
    this.#bytes(bytes, bytes.length)
  }

  /** The first `length` of `bytes`, after the varint length + 1. */
  #bytes(bytes: Uint8Array, length: number): void {
    this.#varint(length + 1)
    this.#room(length)
    const buf = this.#buf
    const at = this.#at
    // A native copy costs more than a short loop for the few bytes of a key.
    if (length <= 16) for (let i = 0; i < length; i++) buf[at + i] = bytes[i]!
    else buf.set(length === bytes.length ? bytes : bytes.subarray(0, length), at)
    this.#at = at + length
  }

  /** `text` as UTF-8, after the varint `byteLength · scale + plus`. */
  #text(text: string, plus: number, scale: number): void {
    this.#room(VARINT_MAX_BYTES + text.length * 3)
    // Most texts are short: one varint byte then, whatever they encode to, so it is written after them.
    if (text.length * 3 * scale + plus < 0x80) {
      const n = writeUtf8(this.#buf, this.#at + 1, text)
      this.#buf[this.#at] = n * scale + plus
      this.#at += 1 + n
      return
    }
    this.#varint(Buffer.byteLength(text, 'utf8') * scale + plus)
    this.#at += writeUtf8(this.#buf, this.#at, text)
  }
}

/** Writes `text` as UTF-8 at `at` (room for 3 bytes a UTF-16 unit); returns the bytes written. */
export function writeUtf8(buf: Buffer, at: number, text: string): number {
  // Short ASCII text (header names, offsets, keys) costs less byte by byte than a native call.
  if (text.length <= 64) {
    let i = 0
    for (; i < text.length; i++) {
      const c = text.charCodeAt(i)
      if (c > 0x7f) break
      buf[at + i] = c
    }
    if (i === text.length) return i
  }
  return buf.write(text, at, 'utf8')
}

/**
 * The value of `text` when it is '0' or up to 15 digits without a leading zero (below
 * INTEGER_LIMIT: what `String(n)` gives back unchanged); otherwise −1.
 */
function canonicalInteger(text: string): number {
  const n = text.length
  if (n === 0 || n > 15) return -1
  const first = text.charCodeAt(0) - 0x30
  if (first === 0) return n === 1 ? 0 : -1
  if (first < 0 || first > 9) return -1
  let value = first
  for (let i = 1; i < n; i++) {
    const digit = text.charCodeAt(i) - 0x30
    if (digit < 0 || digit > 9) return -1
    value = value * 10 + digit
  }
  return value
}
