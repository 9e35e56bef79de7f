/**
 * Reading a bundle (rekey-bundle-format.ts) back into its events: version 2, as written now, and
 * version 1, which internal topics written before still hold — both to the same events.
 */
import type { SourceRecord } from '../ports/source.ts'
import {
  BUNDLE_HEAD_BYTES,
  INTEGER_LIMIT,
  MAX_EVENTS,
  VALUE_INTEGER,
  VALUE_INTERNED,
  VALUE_LITERAL,
  VALUE_NEW,
  eventOrder,
  type PartitionEvent,
} from './rekey-bundle-format.ts'

export type BundleRead =
  { readonly ok: true; readonly events: PartitionEvent[] } | { readonly ok: false; readonly detail: string }

/** One event's own parts, as a bundle holds them. */
interface EventParts {
  readonly key: Uint8Array | null
  readonly value: Uint8Array | null
  readonly headers: Record<string, string>
}

/** Reads the events after the head, one call an event, in order. */
type EventParser = (cursor: Cursor, index: number) => EventParts

const PARSERS: Readonly<Record<number, () => EventParser>> = { 1: () => v1Event, 2: v2Events }

/**
 * The events of the bundle `record` (whose value `isBundle`), each at the record's offset and
 * timestamp with its own key, value and headers. Bad bytes never throw: a bundle cut short, with
 * trailing bytes, an unknown version, a reference to no table entry or a header that is not UTF-8
 * is `{ ok: false }`.
 */
export function readBundle(record: SourceRecord & { readonly value: Uint8Array }): BundleRead {
  const cursor = new Cursor(record.value)
  const bytes = record.value
  try {
    cursor.need(BUNDLE_HEAD_BYTES, 'the bundle head')
    const version = bytes[4]!
    const parserOf = PARSERS[version]
    if (parserOf === undefined)
      return { ok: false, detail: `bundle format version ${version} is not known (this reader knows 1 and 2)` }
    const count = cursor.view.getUint32(5)
    if (count > MAX_EVENTS) return { ok: false, detail: `a bundle claims ${count} events, more than ${MAX_EVENTS}` }
    cursor.at = BUNDLE_HEAD_BYTES
    const parse = parserOf()
    const events: PartitionEvent[] = []
    for (let i = 0; i < count; i++) {
      const { key, value, headers } = parse(cursor, i)
      events.push({
        offset: record.offset,
        order: eventOrder(record.offset, i),
        key,
        value,
        timestampMs: record.timestampMs,
        headers,
      })
    }
    if (cursor.at !== bytes.length)
      return { ok: false, detail: `${bytes.length - cursor.at} bytes after the bundle's ${count} events` }
    return { ok: true, events }
  } catch (err: unknown) {
    if (err instanceof BundleError) return { ok: false, detail: `bundle ${err.message}` }
    throw err
  }
}

class BundleError extends Error {}

const UTF8 = new TextDecoder('utf-8', { fatal: true })

/** A position in a bundle's bytes; every read checks it stays inside them. */
class Cursor {
  at = 0
  readonly view: DataView
  readonly bytes: Uint8Array

  constructor(bytes: Uint8Array) {
    this.bytes = bytes
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  }

  need(n: number, what: string): void {
    if (n < 0 || this.at + n > this.bytes.length)
      throw new BundleError(`cut short in ${what} at byte ${this.at} of ${this.bytes.length}`)
  }

  take(n: number, what: string): Uint8Array {
    this.need(n, what)
    this.at += n
    return this.bytes.subarray(this.at - n, this.at)
  }

  text(n: number, what: string): string {
    const bytes = this.take(n, what)
    try {
      return UTF8.decode(bytes)
    } catch {
      // Only the decode is caught: any other TypeError is a bug, and must not read as bad input.
      throw new BundleError(`has ${what} that is not valid UTF-8`)
    }
  }

  varint(what: string): number {
    let n = 0
    let scale = 1
    for (let width = 0; width < 8; width++) {
      this.need(1, what)
      const b = this.bytes[this.at++]!
      n += (b & 0x7f) * scale
      if (b < 0x80) {
        if (n > Number.MAX_SAFE_INTEGER) throw new BundleError(`has a varint of 2^53 or more in ${what}`)
        return n
      }
      scale *= 0x80
    }
    throw new BundleError(`has a varint longer than 8 bytes in ${what}`)
  }
}

function v1Event(cursor: Cursor, i: number): EventParts {
  const bytesOf = (what: string): Uint8Array | null => {
    cursor.need(4, what)
    const n = cursor.view.getInt32(cursor.at)
    cursor.at += 4
    if (n === -1) return null
    if (n < 0) throw new BundleError(`has a negative length in ${what}`)
    return cursor.take(n, what)
  }
  const textOf = (what: string): string => {
    cursor.need(4, what)
    const n = cursor.view.getUint32(cursor.at)
    cursor.at += 4
    return cursor.text(n, what)
  }
  const key = bytesOf(`event ${i}'s key`)
  const value = bytesOf(`event ${i}'s value`)
  cursor.need(2, `event ${i}'s header count`)
  const headerCount = cursor.view.getUint16(cursor.at)
  cursor.at += 2
  const headers: Record<string, string> = {}
  for (let h = 0; h < headerCount; h++) {
    const name = textOf(`event ${i}'s header name`)
    headers[name] = textOf(`event ${i}'s header ${name.slice(0, 40)}`)
  }
  return { key, value, headers }
}

/** Version 2's parser: its tables grow as the bundle is read, so one parser a bundle. */
function v2Events(): EventParser {
  const names: string[] = []
  const values: string[] = []
  const bases: Map<string, number>[] = []
  const nullable = (cursor: Cursor, what: string): Uint8Array | null => {
    const n = cursor.varint(what)
    return n === 0 ? null : cursor.take(n - 1, what)
  }
  const nameOf = (cursor: Cursor, i: number): number => {
    const index = cursor.varint(`event ${i}'s header name`)
    if (index < names.length) return index
    if (index > names.length) throw new BundleError(`refers to header name ${index} of ${names.length} in event ${i}`)
    names.push(cursor.text(cursor.varint(`event ${i}'s new header name`), `event ${i}'s new header name`))
    bases.push(new Map())
    return index
  }
  const valueOf = (cursor: Cursor, i: number, nameIndex: number, previous: string): string => {
    const what = `event ${i}'s header ${names[nameIndex]!.slice(0, 40)}`
    const ref = cursor.varint(what)
    const kind = ref % 4
    const n = (ref - kind) / 4
    switch (kind) {
      case VALUE_LITERAL:
        return cursor.text(n, what)
      case VALUE_INTERNED:
        if (n >= values.length) throw new BundleError(`refers to header value ${n} of ${values.length} in ${what}`)
        return values[n]!
      case VALUE_NEW: {
        const text = cursor.text(n, what)
        values.push(text)
        return text
      }
      case VALUE_INTEGER: {
        const nameBases = bases[nameIndex]!
        const integer = (nameBases.get(previous) ?? 0) + (n % 2 === 0 ? n / 2 : -(n + 1) / 2)
        if (integer < 0 || integer >= INTEGER_LIMIT) throw new BundleError(`has an integer out of range in ${what}`)
        nameBases.set(previous, integer)
        return String(integer)
      }
    }
    throw new BundleError(`has a header value of kind ${kind} in ${what}`)
  }
  return (cursor, i) => {
    const key = nullable(cursor, `event ${i}'s key`)
    const value = nullable(cursor, `event ${i}'s value`)
    const headerCount = cursor.varint(`event ${i}'s header count`)
    const headers: Record<string, string> = {}
    let previous = ''
    for (let h = 0; h < headerCount; h++) {
      const nameIndex = nameOf(cursor, i)
      previous = headers[names[nameIndex]!] = valueOf(cursor, i, nameIndex, previous)
    }
    return { key, value, headers }
  }
}
