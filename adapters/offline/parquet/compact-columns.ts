/**
 * The values of an Arrow column held more cheaply than one JS value per row in a JS array, for a
 * reader that walks a million rows once (`kfs ingest`, ports/parquet-codec.ts `readCompactBatches`).
 * Same values as parquet-file-reader.ts's decoding, in plain arrays, made in fewer steps:
 * - a column of 64-bit integers or µs/ms timestamps is read as two 32-bit halves per value, not a
 *   bigint (an allocation, and bigint division for the µs → ms floor);
 * - numbers of 32 bits or fewer (ints, floats, doubles) and booleans are read straight from the
 *   column's typed array;
 * - a string column whose bytes are all ASCII is decoded as one string and each value sliced out
 *   of it (~10× cheaper than a TextDecoder call per value; ASCII bytes are their own UTF-8); a
 *   short value repeated in the column is one string, not one per row (`asciiStrings`).
 * Nulls are read from the column's validity bitmap inline, a byte test per row (the reader asks a
 * function and Arrow's `nullCount` getter per value).
 * Plain arrays, not typed ones: the planner and the Avro writer index every column of a row in
 * one loop, and a Float64Array beside arrays made those loops polymorphic — measured slower.
 * Any other column — non-ASCII text, binaries, lists, half floats, unsigned 64-bit integers — is
 * decoded as the reader does (`fallback`).
 */
import * as arrow from 'apache-arrow'
import { isAscii } from 'node:buffer'

const TWO_32 = 2 ** 32

type SmallNumbers = Float64Array | Float32Array | Int32Array | Int16Array | Int8Array | Uint32Array | Uint16Array | Uint8Array

export function decodeCompact(data: arrow.Data, fallback: (data: arrow.Data) => unknown[]): unknown[] {
  const type = data.type
  if (arrow.DataType.isUtf8(type)) return asciiStrings(data) ?? fallback(data)
  const n = data.length
  // Arrow's layout of a slice (Data#slice): a fixed-width column's values and a string column's
  // offsets start at the slice, its validity bitmap and a boolean's bits at bit `offset`.
  const base = data.offset
  const valid = validityOf(data)
  if (arrow.DataType.isInt(type)) {
    const { bitWidth, isSigned } = type as arrow.Int
    if (bitWidth < 64) return smallNumbers(data.values as SmallNumbers, base, n, valid)
    return isSigned ? (int64AsNumbers(data.values as BigInt64Array, base, n, 1, valid) ?? fallback(data)) : fallback(data)
  }
  if (arrow.DataType.isTimestamp(type)) {
    const unit = (type as arrow.Timestamp).unit
    const per = unit === arrow.TimeUnit.MICROSECOND ? 1000 : unit === arrow.TimeUnit.MILLISECOND ? 1 : 0
    if (per > 0) return int64AsNumbers(data.values as BigInt64Array, base, n, per, valid) ?? fallback(data)
    return fallback(data)
  }
  // Half floats are 16-bit words the reader hands on as they are: left to it.
  if (arrow.DataType.isFloat(type) && (type as arrow.Float).precision !== arrow.Precision.HALF)
    return smallNumbers(data.values as Float64Array | Float32Array, base, n, valid)
  if (arrow.DataType.isBool(type)) return booleans(data.values as Uint8Array, base, n, valid)
  return fallback(data)
}

/** The column's validity bitmap when it has a null (bit `offset + i` clear: row i is null), else undefined. */
function validityOf(data: arrow.Data): Uint8Array | undefined {
  const bitmap = data.nullBitmap
  // The reader's rule (parquet-file-reader.ts isValidAt): no null counted, or no bitmap, is all valid.
  return bitmap === undefined || bitmap.length === 0 || data.nullCount === 0 ? undefined : bitmap
}

/** `values[0 … n)` as numbers, null where `valid` says so (bit `base + i` for value i). */
function smallNumbers(values: SmallNumbers, base: number, n: number, valid: Uint8Array | undefined): unknown[] {
  const out = new Array<unknown>(n)
  if (valid === undefined) for (let i = 0; i < n; i++) out[i] = values[i]
  else
    for (let i = 0; i < n; i++) {
      const j = base + i
      out[i] = ((valid[j >> 3]! >> (j & 7)) & 1) === 0 ? null : values[i]
    }
  return out
}

/** Bits `base … base + n)` of `bits` as booleans, null where `valid` says so. */
function booleans(bits: Uint8Array, base: number, n: number, valid: Uint8Array | undefined): unknown[] {
  const out = new Array<unknown>(n)
  for (let i = 0; i < n; i++) {
    const j = base + i
    out[i] = valid !== undefined && ((valid[j >> 3]! >> (j & 7)) & 1) === 0 ? null : ((bits[j >> 3]! >> (j & 7)) & 1) === 1
  }
  return out
}

/**
 * `values[0 … n)` floor-divided by `per` (1 or 1000), as numbers, null where `valid`
 * says so (bit `base + i` for value i); undefined when a value is beyond ±2^53 (then the reader's exact path decides: an error,
 * or a bigint). Read as two 32-bit halves, not as bigints: a bigint per value costs an allocation.
 * A null's slot holds whatever the writer left there: it is neither read nor checked.
 */
function int64AsNumbers(values: BigInt64Array, base: number, n: number, per: number, valid: Uint8Array | undefined): unknown[] | undefined {
  const words = new Int32Array(values.buffer, values.byteOffset, 2 * n)
  const out = new Array<unknown>(n)
  for (let i = 0; i < n; i++) {
    if (valid !== undefined) {
      const j = base + i
      if (((valid[j >> 3]! >> (j & 7)) & 1) === 0) {
        out[i] = null
        continue
      }
    }
    const hi = words[2 * i + 1]! // little-endian: the high word (signed) second
    // |value| < 2^53 − 2^32 (the high word within ±(2^21 − 1)): exact, and so is q × per below.
    if (hi > 0x1fffff || hi < -0x1fffff) return undefined
    const v = hi * TWO_32 + (words[2 * i]! >>> 0)
    if (per === 1) out[i] = v
    else {
      // Floor toward −∞, exactly: the float quotient may be one off near a multiple; mend it.
      let q = Math.floor(v / per)
      if (q * per > v) q--
      else if ((q + 1) * per <= v) q++
      out[i] = q
    }
  }
  return out
}

/**
 * Short values are looked up among the column's recent ones before a string is made: a table's
 * status, tier or country column repeats a few values, and a new string per row for each (V8
 * copies a slice this short) is garbage the planner keeps for the whole ingest. Looked up while it
 * pays: a column that misses more often than it hits over its first values stops looking.
 */
const SHARED_MAX_BYTES = 12
const SHARED_SLOTS = 64
const SHARED_PROBE = 1024

/** The column's strings sliced out of one decoded string, when its bytes are ASCII; else undefined. */
function asciiStrings(data: arrow.Data): unknown[] | undefined {
  const offsets = data.valueOffsets as Int32Array
  const bytes = data.values as Uint8Array
  const n = data.length
  const base = data.offset
  const from = offsets[0]!
  const to = offsets[n]!
  const region = Buffer.from(bytes.buffer, bytes.byteOffset + from, to - from)
  if (!isAscii(region)) return undefined
  const text = region.toString('latin1')
  const out = new Array<unknown>(n)
  const bitmap = validityOf(data)
  // The recent short values: where one occurs in `bytes`, its length (0: none), its string.
  const sharedAt = new Int32Array(SHARED_SLOTS)
  const sharedLength = new Int32Array(SHARED_SLOTS)
  const shared = new Array<string>(SHARED_SLOTS).fill('')
  let probes = 0
  let hits = 0
  let sharing = true
  for (let i = 0; i < n; i++) {
    const j = base + i
    if (bitmap !== undefined && ((bitmap[j >> 3]! >> (j & 7)) & 1) === 0) {
      out[i] = null
      continue
    }
    const start = offsets[i]!
    const end = offsets[i + 1]!
    const length = end - start
    if (!sharing || length === 0 || length > SHARED_MAX_BYTES) {
      out[i] = text.slice(start - from, end - from)
      continue
    }
    const h = (length * 7 + bytes[start]! * 31 + bytes[end - 1]! * 17 + bytes[start + (length >> 1)]!) & (SHARED_SLOTS - 1)
    let same = sharedLength[h] === length
    if (same) {
      const at = sharedAt[h]!
      for (let k = 0; k < length; k++)
        if (bytes[at + k] !== bytes[start + k]) {
          same = false
          break
        }
    }
    if (same) {
      out[i] = shared[h]
      hits++
    } else {
      const value = text.slice(start - from, end - from)
      sharedAt[h] = start
      sharedLength[h] = length
      shared[h] = value
      out[i] = value
    }
    if (++probes === SHARED_PROBE) sharing = 2 * hits >= probes
  }
  return out
}
