/**
 * On-disk layout of one record in an embedded-log segment file (all integers big-endian):
 *
 * ```
 * u32  length      bytes after this field
 * u32  crc32       of the bytes after this field (IEEE polynomial, as zlib)
 * i64  offset
 * f64  timestampMs
 * i32  keyLength   -1 = null key
 * ...  key
 * i32  valueLength -1 = null value (tombstone)
 * ...  value
 * u16  headerCount
 * per header: u16 nameLength, name (UTF-8), u32 valueLength, value (UTF-8)
 * ```
 *
 * The length prefix lets a reader skip records; the CRC lets recovery tell a torn final write
 * (cut short by a crash) from a complete record.
 */
import zlib from 'node:zlib'
import { SourceError } from '../../../core/errors.ts'
import type { ProduceRecord } from '../../../ports/event-log.ts'
import { setOwn } from '../../../core/own-property.ts'
export interface StoredRecord {
  readonly offset: number
  readonly timestampMs: number
  readonly key: Uint8Array | null
  readonly value: Uint8Array | null
  readonly headers: Readonly<Record<string, string>>
}

export const RECORD_PREFIX_BYTES = 8

// zlib's crc32 (Node ≥ 20.15) is the same function in native code, worth its call only on long
// spans: a record of a few dozen bytes is faster through the tables.
const nativeCrc32 = (zlib as { crc32?: (data: Uint8Array) => number }).crc32
const NATIVE_CRC_FROM_BYTES = 1024

/** Slicing-by-8 tables: table k maps a byte to its CRC after k further zero bytes (k = 0 is the classic table). */
const CRC_TABLES = (() => {
  const table = new Int32Array(256 * 8)
  for (let n = 0; n < 256; n++) {
    let c = n
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1
    table[n] = c
  }
  for (let n = 0; n < 256; n++) {
    let c = table[n]!
    for (let k = 1; k < 8; k++) {
      c = table[c & 0xff]! ^ (c >>> 8)
      table[k * 256 + n] = c
    }
  }
  return table
})()

/**
 * zlib's crc32 (IEEE). Eight bytes a step through the tables: a record of ~100 bytes costs less
 * than half of the byte-at-a-time loop, and less than a native zlib.crc32 call's overhead.
 */
export function crc32(buf: Uint8Array, start = 0, end = buf.length): number {
  if (nativeCrc32 !== undefined && end - start >= NATIVE_CRC_FROM_BYTES) return nativeCrc32(buf.subarray(start, end)) >>> 0
  const t = CRC_TABLES
  let c = -1
  let i = start
  for (; i + 8 <= end; i += 8) {
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
  for (; i < end; i++) c = t[(c ^ buf[i]!) & 0xff]! ^ (c >>> 8)
  return (c ^ -1) >>> 0
}

/** The format's limits on headers: a u16 count, a u16 name length. */
const MAX_HEADERS = 0xffff
const MAX_HEADER_NAME_BYTES = 0xffff

/**
 * Refuses (BAD_REQUEST) headers the record format cannot hold, before anything is written or
 * journaled: found while encoding, they failed as a bare RangeError — and in a transaction's
 * commit, after its journal was written, so every reopen failed on the same record.
 */
export function checkHeaders(headers: Readonly<Record<string, string>>): void {
  let count = 0
  for (const name in headers) {
    const value: unknown = headers[name]
    if (++count > MAX_HEADERS) throw new SourceError('BAD_REQUEST', `a record may carry at most ${MAX_HEADERS} headers`)
    if (Buffer.byteLength(name, 'utf8') > MAX_HEADER_NAME_BYTES) {
      throw new SourceError('BAD_REQUEST', `header name '${name.slice(0, 40)}…' is ${Buffer.byteLength(name, 'utf8')} bytes of UTF-8; a header name may be at most ${MAX_HEADER_NAME_BYTES}`)
    }
    if (typeof value !== 'string') throw new SourceError('BAD_REQUEST', `header '${name.slice(0, 40)}' has a ${value === null ? 'null' : typeof value} value; a header value is a string`)
  }
}

/** The record's own timestamp when it names one (a non-negative integer of ms), else the produce time. */
export function recordTimestamp(record: ProduceRecord, produceTimeMs: number): number {
  if (record.timestampMs === undefined) return produceTimeMs
  if (!Number.isSafeInteger(record.timestampMs) || record.timestampMs < 0) {
    throw new SourceError('BAD_REQUEST', `a record timestamp must be a non-negative integer of ms, got ${record.timestampMs}`)
  }
  return record.timestampMs
}

const NO_HEADERS: readonly (readonly [Buffer, Buffer])[] = []

function headerBytes(headers: Readonly<Record<string, string>>): readonly (readonly [Buffer, Buffer])[] {
  if (isEmpty(headers)) return NO_HEADERS
  return Object.entries(headers).map(([k, v]) => [Buffer.from(k, 'utf8'), Buffer.from(v, 'utf8')] as const)
}

function isEmpty(headers: Readonly<Record<string, string>>): boolean {
  for (const _ in headers) return false
  return true
}

function sizeOf(record: Omit<StoredRecord, 'offset'>, headerEntries: readonly (readonly [Buffer, Buffer])[]): number {
  let size = 8 + 8 + 4 + (record.key?.length ?? 0) + 4 + (record.value?.length ?? 0) + 2
  for (const [k, v] of headerEntries) size += 2 + k.length + 4 + v.length
  return size
}

export function encodeRecord(record: StoredRecord): Buffer {
  const headerEntries = headerBytes(record.headers)
  const size = sizeOf(record, headerEntries)
  const buf = Buffer.allocUnsafe(RECORD_PREFIX_BYTES + size)
  writeRecord(buf, 0, size, record, record.offset, headerEntries)
  return buf
}

/**
 * Records laid out back to back in one buffer (one write for a batch), and where each starts.
 * The same bytes as `encodeRecord` of each, without a buffer per record.
 */
export function encodeRecords(records: readonly Omit<StoredRecord, 'offset'>[], baseOffset: number): { buf: Buffer; starts: number[] } {
  const headers = records.map((r) => headerBytes(r.headers))
  const starts: number[] = new Array<number>(records.length)
  const sizes: number[] = new Array<number>(records.length)
  let total = 0
  for (let i = 0; i < records.length; i++) {
    starts[i] = total
    sizes[i] = sizeOf(records[i]!, headers[i]!)
    total += RECORD_PREFIX_BYTES + sizes[i]!
  }
  const buf = Buffer.allocUnsafe(total)
  for (let i = 0; i < records.length; i++) writeRecord(buf, starts[i]!, sizes[i]!, records[i]!, baseOffset + i, headers[i]!)
  return { buf, starts }
}

function writeRecord(buf: Buffer, at: number, size: number, record: Omit<StoredRecord, 'offset'>, offset: number, headerEntries: readonly (readonly [Buffer, Buffer])[]): number {
  let pos = at
  buf.writeUInt32BE(size, pos)
  pos += 8 // crc filled in last
  // Offsets stay far below 2^53: two 32-bit halves instead of a BigInt per record.
  buf.writeUInt32BE(Math.floor(offset / 2 ** 32), pos)
  buf.writeUInt32BE(offset % 2 ** 32, pos + 4)
  pos += 8
  buf.writeDoubleBE(record.timestampMs, pos)
  pos += 8
  pos = writeBytes(buf, pos, record.key)
  pos = writeBytes(buf, pos, record.value)
  buf.writeUInt16BE(headerEntries.length, pos)
  pos += 2
  for (const [k, v] of headerEntries) {
    buf.writeUInt16BE(k.length, pos)
    buf.set(k, pos + 2)
    pos += 2 + k.length
    buf.writeUInt32BE(v.length, pos)
    buf.set(v, pos + 4)
    pos += 4 + v.length
  }
  buf.writeUInt32BE(crc32(buf, at + RECORD_PREFIX_BYTES, pos), at + 4)
  return pos
}

function writeBytes(buf: Buffer, pos: number, bytes: Uint8Array | null): number {
  if (bytes === null) {
    buf.writeInt32BE(-1, pos)
    return pos + 4
  }
  const n = bytes.length
  buf.writeInt32BE(n, pos)
  copyBytes(bytes, 0, n, buf, pos + 4)
  return pos + 4 + n
}

/** Bytes [from, to) of `source` to `target` at `at`: a loop for a few dozen (set() and its view cost more), set() beyond. */
export function copyBytes(source: Uint8Array, from: number, to: number, target: Uint8Array, at: number): void {
  if (to - from > 40) {
    target.set(source.subarray(from, to), at)
    return
  }
  for (let i = from; i < to; i++) target[at++] = source[i]!
}

/**
 * The offset and end of the record starting at `pos`, its CRC checked, without decoding it: what
 * opening a segment needs of each record it scans (decodeRecord copies key and value).
 */
export function recordBounds(buf: Buffer, pos: number): { offset: number; next: number } | 'incomplete' | 'corrupt' {
  if (pos + RECORD_PREFIX_BYTES > buf.length) return 'incomplete'
  const size = buf.readUInt32BE(pos)
  const end = pos + RECORD_PREFIX_BYTES + size
  if (end > buf.length) return 'incomplete'
  if (size < 26 || crc32(buf, pos + RECORD_PREFIX_BYTES, end) !== buf.readUInt32BE(pos + 4)) return 'corrupt'
  return { offset: buf.readUInt32BE(pos + 8) * 2 ** 32 + buf.readUInt32BE(pos + 12), next: end }
}

/**
 * Reads the record starting at `pos`. `incomplete` when the buffer ends before the record does;
 * `corrupt` when the CRC does not match.
 */
export function decodeRecord(buf: Buffer, pos: number): { record: StoredRecord; next: number } | 'incomplete' | 'corrupt' {
  if (pos + RECORD_PREFIX_BYTES > buf.length) return 'incomplete'
  const size = buf.readUInt32BE(pos)
  const end = pos + RECORD_PREFIX_BYTES + size
  if (end > buf.length) return 'incomplete'
  if (size < 26 || crc32(buf, pos + RECORD_PREFIX_BYTES, end) !== buf.readUInt32BE(pos + 4)) return 'corrupt'
  let p = pos + RECORD_PREFIX_BYTES
  const offset = Number(buf.readBigInt64BE(p))
  const timestampMs = buf.readDoubleBE(p + 8)
  p += 16
  const keyLength = buf.readInt32BE(p)
  const key = keyLength < 0 ? null : Buffer.from(buf.subarray(p + 4, p + 4 + keyLength))
  p += 4 + Math.max(0, keyLength)
  const valueLength = buf.readInt32BE(p)
  const value = valueLength < 0 ? null : Buffer.from(buf.subarray(p + 4, p + 4 + valueLength))
  p += 4 + Math.max(0, valueLength)
  const headerCount = buf.readUInt16BE(p)
  p += 2
  const headers: Record<string, string> = {}
  for (let i = 0; i < headerCount; i++) {
    const kl = buf.readUInt16BE(p)
    const name = buf.toString('utf8', p + 2, p + 2 + kl)
    p += 2 + kl
    const vl = buf.readUInt32BE(p)
    const value = buf.toString('utf8', p + 4, p + 4 + vl)
    setOwn(headers, name, value)
    p += 4 + vl
  }
  return { record: { offset, timestampMs, key, value, headers }, next: end }
}
