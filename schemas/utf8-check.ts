/**
 * Invalid UTF-8 in Avro strings, detected exactly.
 *
 * avsc decodes strings leniently (invalid bytes become U+FFFD), so two different byte keys could
 * silently become one entity. Checking every string's bytes on every record would cost the hot
 * path, so the check has two steps:
 * 1. `holdsReplacementChar(event)`: does any decoded string contain U+FFFD? One native scan per
 *    string, no allocation — almost always false.
 * 2. Only then `invalidUtf8Path(writerType, body, readerType)`: walk the raw body along the writer
 *    schema, beside the reader's, and validate the bytes of each value the reader reads as a
 *    string (`isUtf8`). A genuine U+FFFD, sent as its valid UTF-8 bytes EF BF BD, passes; only
 *    bytes that are not UTF-8 are reported, with the field's path in the reader's names.
 * The reader matters after schema evolution: a writer's `bytes` that the reader promotes to
 *    `string` is decoded just as leniently (so it is checked), a writer's string the reader reads
 *    as `bytes`, or skips, is not, and a field renamed with an alias is named as the reader
 *    names it (so an invalid join key is still known as one).
 * The walk uses avsc's public type tree (typeName, fields, itemsType, valuesType, types, size,
 * underlyingType) and the Avro binary encoding, which is fixed by the spec.
 */
import { isUtf8 } from 'node:buffer'
import type { Type } from 'avsc'

const REPLACEMENT = '\uFFFD'

/** Field names of a record type (undefined for any other type). */
export function recordFieldNames(type: Type): readonly string[] | undefined {
  const fields = (type as unknown as TypeShape).fields
  return fields?.map((f) => f.name)
}

/**
 * True when a string anywhere in the decoded value contains U+FFFD (map keys included).
 * `fields`: the record's field names, so the top level is read without enumerating the
 * prototype of avsc's generated record class.
 */
export function holdsReplacementChar(value: unknown, fields?: readonly string[]): boolean {
  if (typeof value === 'string') return value.includes(REPLACEMENT)
  if (value === null || typeof value !== 'object' || value instanceof Uint8Array) return false
  if (fields !== undefined) {
    for (let i = 0; i < fields.length; i++)
      if (holdsReplacementChar((value as Record<string, unknown>)[fields[i] as string])) return true
    return false
  }
  if (Array.isArray(value)) {
    for (const item of value) if (holdsReplacementChar(item)) return true
    return false
  }
  for (const key of Object.keys(value)) {
    if (key.includes(REPLACEMENT) || holdsReplacementChar((value as Record<string, unknown>)[key])) return true
  }
  return false
}

/** A cursor over the raw body. */
interface Cursor {
  pos: number
  readonly buf: Buffer
}

function readLong(c: Cursor): number {
  let n = 0
  let scale = 1
  for (;;) {
    const b = c.buf[c.pos++]
    if (b === undefined) throw new RangeError('truncated varint')
    n += (b & 0x7f) * scale
    if (b < 0x80) break
    scale *= 128
  }
  // Zigzag: even → n/2, odd → −(n+1)/2 (exact for the lengths and counts read here).
  return n % 2 === 0 ? n / 2 : -(n + 1) / 2
}

function skip(c: Cursor, bytes: number): void {
  if (bytes < 0 || c.pos + bytes > c.buf.length) throw new RangeError('truncated body')
  c.pos += bytes
}

interface TypeShape {
  readonly typeName: string
  readonly fields?: readonly { readonly name: string; readonly type: Type; readonly aliases?: readonly string[] }[]
  readonly itemsType?: Type
  readonly valuesType?: Type
  readonly types?: readonly Type[]
  readonly size?: number
  readonly underlyingType?: Type
}

/**
 * The reader type a value of writer type `writer` is read as, where the reader reads it at all:
 * a logical type's underlying type, and in a union the first branch that resolves the writer, as
 * avsc's resolver picks it. Undefined: the reader discards the value.
 */
function readAs(reader: Type | undefined, writer: Type): TypeShape | undefined {
  let r = reader as unknown as TypeShape | undefined
  while (r?.typeName.startsWith('logical:')) r = r.underlyingType as unknown as TypeShape
  if (r === undefined || !r.typeName.startsWith('union:')) return r
  for (const branch of r.types ?? []) {
    try {
      branch.createResolver(writer)
      return readAs(branch, writer)
    } catch {
      // Not this branch.
    }
  }
  return undefined
}

/** The reader's field for writer field `name`: by its name or one of its aliases (Avro's rule). */
function readerField(reader: TypeShape | undefined, name: string): { readonly name: string; readonly type: Type } | undefined {
  if (reader?.typeName !== 'record' && reader?.typeName !== 'error') return undefined
  return (reader.fields ?? []).find((f) => f.name === name || (f.aliases ?? []).includes(name))
}

/** Reads one value of writer type `type`; returns the path of the first invalid string the reader reads, or undefined. */
function walk(type: Type, readerType: Type | undefined, c: Cursor, path: string): string | undefined {
  const t = type as unknown as TypeShape
  const name = t.typeName
  if (name.startsWith('logical:')) return walk(t.underlyingType as Type, readerType, c, path)
  const reader = name.startsWith('union:') ? (readerType as unknown as TypeShape | undefined) : readAs(readerType, type)
  switch (name) {
    case 'null':
      return undefined
    case 'boolean':
      skip(c, 1)
      return undefined
    case 'int':
    case 'long':
    case 'enum':
      readLong(c)
      return undefined
    case 'float':
      skip(c, 4)
      return undefined
    case 'double':
      skip(c, 8)
      return undefined
    case 'fixed':
      skip(c, t.size as number)
      return undefined
    case 'bytes':
    case 'string': {
      const len = readLong(c)
      const start = c.pos
      skip(c, len)
      // Checked only where the reader makes a string of it: `bytes` promoted to `string` included.
      if (reader?.typeName !== 'string') return undefined
      return isUtf8(c.buf.subarray(start, start + len)) ? undefined : path
    }
    case 'record':
    case 'error':
      for (const f of t.fields ?? []) {
        const read = readerField(reader, f.name)
        const fieldName = read?.name ?? f.name
        const bad = walk(f.type, read?.type, c, path === '' ? fieldName : `${path}.${fieldName}`)
        if (bad !== undefined) return bad
      }
      return undefined
    case 'array':
    case 'map':
      return walkBlocks(t, reader, c, path)
    case 'union:unwrapped':
    case 'union:wrapped': {
      const branch = (t.types as readonly Type[])[readLong(c)]
      if (branch === undefined) throw new RangeError('bad union index')
      return walk(branch, readerType, c, path)
    }
    default:
      throw new RangeError(`unexpected Avro type ${name}`)
  }
}

/** Array and map blocks: count (negative: |count| items preceded by a byte size), 0 ends. */
function walkBlocks(t: TypeShape, reader: TypeShape | undefined, c: Cursor, path: string): string | undefined {
  const isMap = t.typeName === 'map'
  const read = reader?.typeName === t.typeName ? reader : undefined
  let index = 0
  for (;;) {
    let count = readLong(c)
    if (count === 0) return undefined
    if (count < 0) {
      count = -count
      readLong(c)
    }
    for (let i = 0; i < count; i++, index++) {
      let at = `${path}[${index}]`
      if (isMap) {
        const len = readLong(c)
        const start = c.pos
        skip(c, len)
        if (read !== undefined && !isUtf8(c.buf.subarray(start, start + len))) return `${path} (a map key)`
        at = `${path}{${c.buf.toString('utf8', start, start + len)}}`
      }
      const bad = walk(
        (isMap ? t.valuesType : t.itemsType) as Type,
        (isMap ? read?.valuesType : read?.itemsType) as Type | undefined,
        c,
        at,
      )
      if (bad !== undefined) return bad
    }
  }
}

/**
 * The path (`user_id`, `tags[2]`, `attrs{k}`, in the reader's field names) of the first value in
 * `body` that the reader reads as a string and whose bytes are not valid UTF-8, read along the
 * writer's type; undefined when every such value is valid.
 */
export function invalidUtf8Path(writerType: Type, body: Buffer, readerType: Type = writerType): string | undefined {
  try {
    return walk(writerType, readerType, { pos: 0, buf: body }, '')
  } catch {
    // The body decoded, so the walk should not fail; if it does, say so rather than guess.
    return '(unknown field: the body could not be walked)'
  }
}
