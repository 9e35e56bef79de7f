/**
 * Bytes of the decoded values change views keep (a key's current row, its last row's values) in
 * their snapshot state (docs/design.md §11). Tagged, so a decoded row comes back with the same
 * JS types (a long stays a bigint), except that a Date comes back as its epoch milliseconds: the
 * stored row is only compared with before images (row-images.ts sameValue equates the two), and
 * operators make no Dates. Records keep their field order, which is the decoder's schema order,
 * so equal state gives equal bytes.
 */
import type { ByteReader, ByteWriter } from '../codec/bytes.ts'
import { CheckpointError, InvariantViolation } from '../../core/errors.ts'
import type { EventRecord, FeatureValue } from '../../features/types.ts'

const NULL = 0
const UNDEFINED = 1
const FALSE = 2
const TRUE = 3
const NUMBER = 4
const BIGINT = 5
const STRING = 6
const BYTES = 7
const LIST = 8
const RECORD = 9

export function encodeValue(v: unknown, w: ByteWriter): void {
  if (v === null) return w.u8(NULL)
  if (v === undefined) return w.u8(UNDEFINED)
  switch (typeof v) {
    case 'boolean':
      return w.u8(v ? TRUE : FALSE)
    case 'number':
      w.u8(NUMBER)
      return w.f64(v)
    case 'bigint':
      w.u8(BIGINT)
      return w.str(v.toString())
    case 'string':
      w.u8(STRING)
      return w.str(v)
    case 'object':
      break
    default:
      throw new InvariantViolation(`change view state holds a ${typeof v}, which no decoded row has`)
  }
  if (v instanceof Date) {
    w.u8(NUMBER)
    return w.f64(v.getTime())
  }
  if (v instanceof Uint8Array) {
    w.u8(BYTES)
    return w.bytes(v)
  }
  if (Array.isArray(v)) {
    w.u8(LIST)
    w.uvarint(v.length)
    for (const x of v) encodeValue(x, w)
    return
  }
  encodeRecord(v as EventRecord, w)
}

function encodeRecord(row: EventRecord, w: ByteWriter): void {
  const keys = Object.keys(row)
  w.u8(RECORD)
  w.uvarint(keys.length)
  for (const k of keys) {
    w.str(k)
    encodeValue(row[k], w)
  }
}

export function decodeValue(r: ByteReader): unknown {
  const tag = r.u8()
  switch (tag) {
    case NULL:
      return null
    case UNDEFINED:
      return undefined
    case FALSE:
      return false
    case TRUE:
      return true
    case NUMBER:
      return r.f64()
    case BIGINT:
      return BigInt(r.str())
    case STRING:
      return r.str()
    case BYTES:
      return r.bytes()
    case LIST: {
      const n = r.uvarint()
      const out: unknown[] = []
      for (let i = 0; i < n; i++) out.push(decodeValue(r))
      return out
    }
    case RECORD: {
      const n = r.uvarint()
      const out: Record<string, unknown> = {}
      for (let i = 0; i < n; i++) {
        const k = r.str()
        out[k] = decodeValue(r)
      }
      return out
    }
    default:
      throw new CheckpointError('CHECKPOINT_CORRUPT', `change view state: unknown value tag ${tag}`)
  }
}

export function encodeRow(row: EventRecord, w: ByteWriter): void {
  encodeRecord(row, w)
}

export function decodeRow(r: ByteReader): EventRecord {
  const v = decodeValue(r)
  if (v === null || typeof v !== 'object' || Array.isArray(v) || v instanceof Date || v instanceof Uint8Array) {
    throw new CheckpointError('CHECKPOINT_CORRUPT', 'change view state: a row is not a record')
  }
  return v as EventRecord
}

/** Feature values of change views are null, numbers or strings. */
export function encodeFeatureValues(values: readonly FeatureValue[], w: ByteWriter): void {
  for (const v of values) {
    if (typeof v !== 'number' && typeof v !== 'string' && v !== null) throw new InvariantViolation('change view values are null, numbers or strings')
    encodeValue(v, w)
  }
}

export function decodeFeatureValues(n: number, r: ByteReader): FeatureValue[] {
  const out: FeatureValue[] = []
  for (let i = 0; i < n; i++) {
    const v = decodeValue(r)
    if (typeof v !== 'number' && typeof v !== 'string' && v !== null) throw new CheckpointError('CHECKPOINT_CORRUPT', 'change view state: a feature value is not null, a number or a string')
    out.push(v)
  }
  return out
}
