/**
 * Whether a snapshot row fits in a change record (docs/design.md §11). Every reader of the log
 * refuses a record over the decoder's limit (schemas/decoder.ts, 1 MiB: Kafka's default message
 * size) as `oversize`, ingest's own scan included — so a row whose record is over it would be
 * dead-lettered by every view, and appended again by every re-ingest, which cannot see it in the
 * log. An update's record carries two images (before and after), so a row fits when its image is
 * at most half the limit, less room for the envelope's other fields; a larger row is rejected
 * (`oversize`) before anything is planned for it.
 */
import { DEFAULT_MAX_VALUE_BYTES } from '../schemas/decoder.ts'
import type { RowColumn } from './row-columns.ts'

/** The envelope's own fields (framing, op, unions, ts_ms, the snapshot id) need far less than this. */
const ENVELOPE_ROOM = 1024
export const MAX_ROW_IMAGE_BYTES = Math.floor((DEFAULT_MAX_VALUE_BYTES - ENVELOPE_ROOM) / 2)

/** At most this many bytes for a value that is not text, bytes or a rich (`other`) value, with its union index. */
const SCALAR_BYTES = 11
/** A length's varint and a union index. */
const LENGTH_BYTES = 6

/** Bytes of value `v` in a row image; `exact` counts text's UTF-8 bytes, else bounds them (3 a UTF-16 unit). */
function valueBytes(column: RowColumn, v: unknown, exact: boolean): number {
  if (typeof v === 'string') return LENGTH_BYTES + (exact ? Buffer.byteLength(v, 'utf8') : v.length * 3)
  if (v instanceof Uint8Array) return LENGTH_BYTES + v.byteLength
  if (column.avro === 'other' && v !== null && v !== undefined) return SCALAR_BYTES + column.encodedBytes(v)
  return SCALAR_BYTES
}

/**
 * The rows of a batch (by index) whose image is over MAX_ROW_IMAGE_BYTES, with its size; only
 * rows whose values are of their columns' types are asked about (`valid`). Column by column with
 * a bound first, so the usual batch costs one length read per text value.
 */
export function oversizeRows(
  columns: readonly RowColumn[],
  values: readonly ArrayLike<unknown>[],
  n: number,
  valid: (r: number) => boolean,
): Map<number, number> {
  // Numbers, booleans and nulls take at most SCALAR_BYTES each: only text and rich columns are visited.
  let fixed = 0
  const sized: number[] = []
  for (let c = 0; c < columns.length; c++) {
    if (columns[c]!.avro === 'string' || columns[c]!.avro === 'other') sized.push(c)
    else fixed += SCALAR_BYTES
  }
  const over = new Map<number, number>()
  if (sized.length === 0 || fixed > MAX_ROW_IMAGE_BYTES) return over
  const bound = new Float64Array(n).fill(fixed)
  for (const c of sized) {
    const column = values[c]!
    const col = columns[c]!
    if (col.avro === 'string') for (let r = 0; r < n; r++) bound[r]! += valueBytes(col, column[r], false)
    else for (let r = 0; r < n; r++) if (valid(r)) bound[r]! += valueBytes(col, column[r], false)
  }
  for (let r = 0; r < n; r++) {
    if (bound[r]! <= MAX_ROW_IMAGE_BYTES || !valid(r)) continue
    let bytes = fixed
    for (const c of sized) bytes += valueBytes(columns[c]!, values[c]![r], true)
    if (bytes > MAX_ROW_IMAGE_BYTES) over.set(r, bytes)
  }
  return over
}
