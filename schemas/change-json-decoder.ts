/**
 * The decoder of a changelog source whose records are Debezium JSON (`changes.format: 'json'`,
 * docs/design.md §11): value bytes → the change envelope, with the same `Decoder` interface and the
 * same failure reasons as the Avro decoder (decoder.ts), so the engine, the archive and replay
 * treat both alike. The message itself is read by debezium-json.ts.
 *
 * Per value: a null value (Debezium's tombstone after a delete) is `undecodable`, a value over
 * the size limit `oversize`; bytes that are not UTF-8 are `invalid_utf8` with the path of the
 * string holding them — but only when that string is kept in the envelope: like the Avro decoder,
 * bad bytes in a field the envelope drops (`source.db`, extra columns) do not refuse the change.
 */
import { isUtf8 } from 'node:buffer'
import type { AvroRecordSchema } from '../features/types.ts'
import type { Decoder, DecodeResult } from './decoder.ts'
import { debeziumParser, type DebeziumParseResult } from './debezium-json.ts'

export interface ChangeJsonDecoderOptions {
  /** The row's Avro record schema (`SourceDef.changes.rowSchema`): each image is checked against it. */
  readonly rowSchema: AvroRecordSchema
  /** Values larger than this are refused as `oversize`. Default 1 MiB, as the Avro decoder. */
  readonly maxValueBytes?: number
}

/**
 * JSON records carry no registry id; the archive records this one. Registry ids start at 1 (the
 * Confluent registry and the embedded one), so 0 never names a registered schema.
 */
export const JSON_SCHEMA_ID = 0

const DEFAULT_MAX_VALUE_BYTES = 1024 * 1024
/** Stands for each invalid byte while the path is looked for: a noncharacter, legal in JSON strings. */
const MARK = '\uFDD0'

export function createChangeJsonDecoder(options: ChangeJsonDecoderOptions): Decoder {
  const maxValueBytes = options.maxValueBytes ?? DEFAULT_MAX_VALUE_BYTES
  // Built now, so a row schema that is not Avro fails at start-up, not on the first record.
  const parse = debeziumParser(options.rowSchema)

  function decodeOne(value: Uint8Array | null): DecodeResult {
    if (value === null) return { ok: false, reason: 'undecodable', detail: 'the record has no value (tombstone)' }
    if (value.length > maxValueBytes) return { ok: false, reason: 'oversize', detail: `${value.length} bytes exceeds the ${maxValueBytes}-byte limit` }
    const bytes = Buffer.from(value.buffer, value.byteOffset, value.byteLength)
    const result = isUtf8(bytes) ? parse(bytes.toString('utf8')) : parseMarked(bytes, parse)
    return result.ok ? { ok: true, event: result.event, schemaId: JSON_SCHEMA_ID } : { ...result, schemaId: JSON_SCHEMA_ID }
  }

  return {
    decode: async (value) => decodeOne(value),
    decodeBatch: async (values) => values.map(decodeOne),
  }
}

/**
 * Bytes that are not UTF-8: each invalid byte becomes MARK, the text is parsed, and a kept string
 * holding MARK is the field reported. Invalid bytes outside strings break the JSON: `undecodable`.
 */
function parseMarked(bytes: Buffer, parse: (text: string) => DebeziumParseResult): DebeziumParseResult {
  const pieces: string[] = []
  let start = 0
  for (let bad = firstInvalidUtf8(bytes, 0); bad >= 0; bad = firstInvalidUtf8(bytes, start)) {
    pieces.push(bytes.toString('utf8', start, bad), MARK)
    start = bad + 1
  }
  pieces.push(bytes.toString('utf8', start))
  if (pieces.some((p) => p !== MARK && p.includes(MARK))) {
    // The data holds MARK itself, so marks cannot be told from it: refuse without a path.
    return { ok: false, reason: 'invalid_utf8', detail: 'the value is not valid UTF-8', field: '(unknown field)' }
  }
  const result = parse(pieces.join(''))
  if (!result.ok) return result
  const field = markedPath(result.event, '')
  return field === undefined ? result : { ok: false, reason: 'invalid_utf8', detail: `field ${field} is not valid UTF-8`, field }
}

/** Path of the first string (or map key) holding MARK, in the decoded envelope. */
function markedPath(value: unknown, path: string): string | undefined {
  if (typeof value === 'string') return value.includes(MARK) ? path : undefined
  if (value === null || typeof value !== 'object' || value instanceof Uint8Array) return undefined
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const found = markedPath(value[i], `${path}[${i}]`)
      if (found !== undefined) return found
    }
    return undefined
  }
  for (const [key, item] of Object.entries(value)) {
    // Rows and maps both read as `a.b` here (the parsed event no longer says which); only a map key can be marked.
    if (key.includes(MARK)) return `${path} (a map key)`
    const found = markedPath(item, path === '' ? key : `${path}.${key}`)
    if (found !== undefined) return found
  }
  return undefined
}

/** Index of the first byte at or after `from` that starts no valid UTF-8 sequence; -1 when none. */
function firstInvalidUtf8(b: Uint8Array, from: number): number {
  let i = from
  while (i < b.length) {
    const lead = b[i] as number
    if (lead < 0x80) {
      i++
      continue
    }
    const extra = (lead & 0xe0) === 0xc0 ? 1 : (lead & 0xf0) === 0xe0 ? 2 : (lead & 0xf8) === 0xf0 ? 3 : 0
    if (extra === 0 || i + extra >= b.length) return i
    let code = lead & (0x3f >> extra)
    for (let k = 1; k <= extra; k++) {
      const next = b[i + k] as number
      if ((next & 0xc0) !== 0x80) return i
      code = code * 64 + (next & 0x3f)
    }
    const overlong = code < [0, 0x80, 0x800, 0x10000][extra]!
    if (overlong || code > 0x10ffff || (code >= 0xd800 && code <= 0xdfff)) return i
    i += extra + 1
  }
  return -1
}
