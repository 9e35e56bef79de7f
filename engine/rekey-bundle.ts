/**
 * Bundles (docs/semantics.md §16): one record of an internal re-key topic carrying several re-keyed
 * events bound for the same internal partition, in merge order. The Kafka client's cost is per
 * record (encoding, headers, buffer copies); a bundle pays it once for many events.
 *
 * Each event keeps what a single internal record carried: its entity key, the ORIGINAL value bytes
 * and headers (origin `kfs-source-*`, `kfs-change-role`). A view unpacks a bundle into its events,
 * all at the bundle's offset, and processes them in bundle order — as it would the same events as
 * consecutive records.
 *
 * Format (the value; the record's key is null, its partition explicit), big-endian:
 *   magic 0xFF 'k' 'f' 'b' · u8 version (1) · u32 event count, then per event:
 *   i32 key length (−1: null) · key · i32 value length (−1: null) · value ·
 *   u16 header count · per header: u32 name length · name (UTF-8) · u32 value length · value (UTF-8)
 * The value is the whole bundle: the archive, which keeps no headers, replays it as it is. No
 * record written before bundles starts with the magic — the stage forwarded only values that
 * decoded, whose first byte is the Confluent frame's 0x00 or a JSON text's — so a reader tells a
 * bundle from a legacy single record by its first bytes, and old internal topics stay readable.
 */
import { InvariantViolation } from '../core/errors.ts'
import { murmur2 } from '../core/murmur2.ts'
import type { ProduceRecord } from '../ports/event-log.ts'
import type { SourceRecord } from '../ports/source.ts'

const MAGIC = [0xff, 0x6b, 0x66, 0x62] as const
export const BUNDLE_VERSION = 1
/** Magic, version, event count. */
const BUNDLE_HEAD_BYTES = 9
/** A bundle closes before it passes this size (one larger event goes alone)… */
export const BUNDLE_BYTES = 128 * 1024
/** …or this many events. */
export const BUNDLE_EVENTS = 4_096
/** A bundle's first buffer: small, as a live tail's transactions hold a few events, not a full bundle per partition. */
const FIRST_CAPACITY = 16 * 1024
/** Digits of an event's index in its order key: more than any bundle may hold (see `eventOrder`). */
const ORDER_DIGITS = 6
const MAX_EVENTS = 10 ** ORDER_DIGITS - 1

/** One event of a partition as a view processes it: a plain record, or one event of a bundle. */
export interface PartitionEvent extends SourceRecord {
  /**
   * The event's place among the partition's events, a decimal that orders like the events (what
   * first/last/last_n break event-time ties by): absent, the record's offset. Events of a bundle
   * share its offset, so theirs is `eventOrder(offset, index)`.
   */
  readonly order?: string
}

/**
 * offset·10^6 + index, as decimal text: every event of a bundle at offset o lies after the events
 * of any record before o and before those of any record after o, in the order of the bundle.
 */
export function eventOrder(offset: string, index: number): string {
  return offset + String(index).padStart(ORDER_DIGITS, '0')
}

export function isBundle(value: Uint8Array | null): value is Uint8Array {
  return (
    value !== null &&
    value.length >= 4 &&
    value[0] === MAGIC[0] &&
    value[1] === MAGIC[1] &&
    value[2] === MAGIC[2] &&
    value[3] === MAGIC[3]
  )
}

/**
 * A bundle being written, into a buffer that grows: events are encoded once, straight into it (a
 * transaction's forwards are many small strings — sizing them first cost as much as writing them).
 */
class BundleWriter {
  #buf: Buffer
  #at = BUNDLE_HEAD_BYTES
  #count = 0
  /** Where the last event started. */
  #last = BUNDLE_HEAD_BYTES

  constructor(capacity = FIRST_CAPACITY) {
    this.#buf = Buffer.allocUnsafe(capacity)
  }

  get count(): number {
    return this.#count
  }

  get bytes(): number {
    return this.#at
  }

  /** Appends an event; its key as bytes already encoded (`keyBytes`), or as the event has it. */
  add(event: ProduceRecord, keyBytes?: Uint8Array): void {
    if (this.#count >= MAX_EVENTS) throw new RangeError(`a bundle holds at most ${MAX_EVENTS} events`)
    this.#last = this.#at
    this.#count++
    this.#bytes(keyBytes ?? event.key)
    this.#bytes(event.value)
    const headers = event.headers ?? {}
    const names = Object.keys(headers)
    this.#room(2)
    this.#at = this.#buf.writeUInt16BE(names.length, this.#at)
    for (const name of names) {
      this.#text(name)
      this.#text(headers[name]!)
    }
  }

  /** Takes the last event out, into a new writer (it made this bundle too big). */
  splitLast(): BundleWriter {
    const next = new BundleWriter(Math.max(FIRST_CAPACITY, BUNDLE_HEAD_BYTES + this.#at - this.#last))
    next.#buf.set(this.#buf.subarray(this.#last, this.#at), BUNDLE_HEAD_BYTES)
    next.#at = BUNDLE_HEAD_BYTES + this.#at - this.#last
    next.#count = 1
    this.#at = this.#last
    this.#count--
    return next
  }

  finish(): Uint8Array {
    this.#buf.set(MAGIC, 0)
    this.#buf[4] = BUNDLE_VERSION
    this.#buf.writeUInt32BE(this.#count, 5)
    return this.#buf.subarray(0, this.#at)
  }

  #room(n: number): void {
    if (this.#at + n <= this.#buf.length) return
    const grown = Buffer.allocUnsafe(Math.max(this.#buf.length * 2, this.#at + n))
    grown.set(this.#buf.subarray(0, this.#at))
    this.#buf = grown
  }

  #bytes(bytes: Uint8Array | string | null): void {
    if (typeof bytes === 'string') return this.#text(bytes)
    this.#room(4 + (bytes?.length ?? 0))
    if (bytes === null) {
      this.#at = this.#buf.writeInt32BE(-1, this.#at)
      return
    }
    this.#at = this.#buf.writeInt32BE(bytes.length, this.#at)
    this.#buf.set(bytes, this.#at)
    this.#at += bytes.length
  }

  #text(text: string): void {
    this.#room(4 + text.length * 3)
    const n = writeUtf8(this.#buf, this.#at + 4, text)
    this.#buf.writeUInt32BE(n, this.#at)
    this.#at += 4 + n
  }
}

/** Writes `text` as UTF-8 at `at` (room for 3 bytes a UTF-16 unit); returns the bytes written. */
function writeUtf8(buf: Buffer, at: number, text: string): number {
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

/** The bundle of `events` (their keys, values and headers; partitions and timestamps are not kept). */
export function encodeBundle(events: readonly ProduceRecord[]): Uint8Array {
  const writer = new BundleWriter()
  for (const e of events) writer.add(e)
  return writer.finish()
}

/**
 * The records a transaction produces for `forwards` (in merge order, each with a non-null key):
 * per internal partition (the key's, as the log's partitioner picks it), its events in order,
 * cut into bundles before they pass `BUNDLE_BYTES` or `BUNDLE_EVENTS`. A function of `forwards` alone.
 */
export function bundleForwards(forwards: readonly ProduceRecord[], partitions: number): ProduceRecord[] {
  const open = new Map<number, BundleWriter>()
  const out: ProduceRecord[] = []
  let keyBuf = Buffer.allocUnsafe(256)
  for (const event of forwards) {
    const key = event.key
    if (key === null) throw new InvariantViolation('a re-keyed event has no key')
    let keyBytes: Uint8Array
    if (typeof key === 'string') {
      if (key.length * 3 > keyBuf.length) keyBuf = Buffer.allocUnsafe(key.length * 3)
      keyBytes = keyBuf.subarray(0, writeUtf8(keyBuf, 0, key))
    } else keyBytes = key
    const partition = (murmur2(keyBytes) & 0x7fffffff) % partitions
    let writer = open.get(partition)
    if (writer === undefined || writer.count >= BUNDLE_EVENTS) {
      if (writer !== undefined) out.push({ key: null, value: writer.finish(), partition })
      writer = new BundleWriter()
      open.set(partition, writer)
    }
    writer.add(event, keyBytes)
    if (writer.bytes > BUNDLE_BYTES && writer.count > 1) {
      const next = writer.splitLast()
      out.push({ key: null, value: writer.finish(), partition })
      open.set(partition, next)
    }
  }
  for (const partition of [...open.keys()].sort((a, b) => a - b))
    out.push({ key: null, value: open.get(partition)!.finish(), partition })
  return out
}

/**
 * Bytes per internal partition in one produce request at most: the broker bounds each partition's
 * record batch by its message size limit (1 MiB by default), with room for the batch's framing.
 */
export const REQUEST_PARTITION_BYTES = 768 * 1024
/** Bytes per produce request at most, all partitions together. */
export const REQUEST_BYTES = 4 * 1024 * 1024

/**
 * The produce requests of a transaction's bundles (`bundleForwards`' output, in its order): each
 * request holds up to REQUEST_PARTITION_BYTES of bundles per internal partition and REQUEST_BYTES in
 * all, each partition's bundles in their order (a larger bundle — one oversized event — goes alone
 * for its partition). A transaction waits on each request's round trip in turn, and one bundle a
 * request cost a round trip per 128 KiB.
 */
export function bundleRequests(bundles: readonly ProduceRecord[]): ProduceRecord[][] {
  const requests: ProduceRecord[][] = []
  let current: ProduceRecord[] = []
  let total = 0
  const perPartition = new Map<number, number>()
  for (const bundle of bundles) {
    const bytes = bundle.value?.byteLength ?? 0
    const partition = bundle.partition ?? -1
    const held = perPartition.get(partition) ?? 0
    if (current.length > 0 && ((held > 0 && held + bytes > REQUEST_PARTITION_BYTES) || total + bytes > REQUEST_BYTES)) {
      requests.push(current)
      current = []
      total = 0
      perPartition.clear()
    }
    current.push(bundle)
    total += bytes
    perPartition.set(partition, (perPartition.get(partition) ?? 0) + bytes)
  }
  if (current.length > 0) requests.push(current)
  return requests
}

export type BundleRead =
  { readonly ok: true; readonly events: PartitionEvent[] } | { readonly ok: false; readonly detail: string }

const UTF8 = new TextDecoder('utf-8', { fatal: true })

/**
 * The events of the bundle `record` (whose value `isBundle`), each at the record's offset and
 * timestamp with its own key, value and headers. Bad bytes never throw: a bundle cut short, with
 * trailing bytes, an unknown version or a header that is not UTF-8 is `{ ok: false }`.
 */
export function readBundle(record: SourceRecord & { readonly value: Uint8Array }): BundleRead {
  const bytes = record.value
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  let at = 0
  const need = (n: number, what: string) => {
    if (n < 0 || at + n > bytes.length) throw new BundleError(`cut short in ${what} at byte ${at} of ${bytes.length}`)
  }
  const bytesOf = (what: string): Uint8Array | null => {
    need(4, what)
    const n = view.getInt32(at)
    at += 4
    if (n === -1) return null
    if (n < 0) throw new BundleError(`has a negative length in ${what}`)
    need(n, what)
    at += n
    return bytes.subarray(at - n, at)
  }
  const textOf = (what: string): string => {
    need(4, what)
    const n = view.getUint32(at)
    at += 4
    need(n, what)
    at += n
    return UTF8.decode(bytes.subarray(at - n, at))
  }
  try {
    need(BUNDLE_HEAD_BYTES, 'the bundle head')
    if (bytes[4] !== BUNDLE_VERSION)
      return { ok: false, detail: `bundle format version ${bytes[4]} is not known (this reader knows ${BUNDLE_VERSION})` }
    const count = view.getUint32(5)
    if (count > MAX_EVENTS) return { ok: false, detail: `a bundle claims ${count} events, more than ${MAX_EVENTS}` }
    at = BUNDLE_HEAD_BYTES
    const events: PartitionEvent[] = []
    for (let i = 0; i < count; i++) {
      const key = bytesOf(`event ${i}'s key`)
      const value = bytesOf(`event ${i}'s value`)
      need(2, `event ${i}'s header count`)
      const headerCount = view.getUint16(at)
      at += 2
      const headers: Record<string, string> = {}
      for (let h = 0; h < headerCount; h++) {
        const name = textOf(`event ${i}'s header name`)
        headers[name] = textOf(`event ${i}'s header ${name.slice(0, 40)}`)
      }
      events.push({
        offset: record.offset,
        order: eventOrder(record.offset, i),
        key,
        value,
        timestampMs: record.timestampMs,
        headers,
      })
    }
    if (at !== bytes.length) return { ok: false, detail: `${bytes.length - at} bytes after the bundle's ${count} events` }
    return { ok: true, events }
  } catch (err: unknown) {
    if (err instanceof BundleError) return { ok: false, detail: `bundle ${err.message}` }
    if (err instanceof TypeError) return { ok: false, detail: 'a bundle header is not valid UTF-8' }
    throw err
  }
}

class BundleError extends Error {}

export interface Unbundled {
  /** Plain records as themselves, bundles as their events, in order. */
  readonly events: readonly PartitionEvent[]
  /** Bundles that did not read, with why: no event of theirs is in `events`. */
  readonly malformed: readonly { readonly record: SourceRecord; readonly detail: string }[]
}

/** The events of an internal topic's records (see the file comment); `records` itself when none is a bundle. */
export function unbundle(records: readonly SourceRecord[]): Unbundled {
  if (!records.some((r) => isBundle(r.value))) return { events: records, malformed: [] }
  const events: PartitionEvent[] = []
  const malformed: { record: SourceRecord; detail: string }[] = []
  for (const record of records) {
    if (!isBundle(record.value)) {
      events.push(record)
      continue
    }
    const read = readBundle(record as SourceRecord & { value: Uint8Array })
    if (read.ok) for (const e of read.events) events.push(e)
    else malformed.push({ record, detail: read.detail })
  }
  return { events, malformed }
}
