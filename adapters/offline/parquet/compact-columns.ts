/**
 * The values of an Arrow column held more cheaply than one JS value per row in a JS array, for a
 * reader that walks a million rows once (`kfs ingest`, ports/parquet-codec.ts `readCompactBatches`).
 * Same values as parquet-file-reader.ts's decoding, in plain arrays, made in fewer steps:
 * - a column of 64-bit integers or µs/ms timestamps without a null is read as two 32-bit halves
 *   per value, not a bigint (an allocation, and bigint division for the µs → ms floor);
 * - a string column whose bytes are all ASCII is decoded as one string and each value sliced out
 *   of it (~10× cheaper than a TextDecoder call per value; ASCII bytes are their own UTF-8).
 * Plain arrays, not typed ones: the planner and the Avro writer index every column of a row in
 * one loop, and a Float64Array beside arrays made those loops polymorphic — measured slower.
 * Any other column — nulls among numbers, non-ASCII text, other types — is decoded as the reader
 * does (`fallback`).
 */
import * as arrow from 'apache-arrow'
import { isAscii } from 'node:buffer'

const TWO_32 = 2 ** 32

export function decodeCompact(data: arrow.Data, fallback: (data: arrow.Data) => unknown[]): unknown[] {
  const type = data.type
  if (arrow.DataType.isUtf8(type)) return asciiStrings(data) ?? fallback(data)
  if (data.nullCount > 0) return fallback(data)
  const n = data.length
  const base = data.offset
  if (arrow.DataType.isInt(type) && (type as arrow.Int).bitWidth === 64 && (type as arrow.Int).isSigned)
    return int64AsNumbers(data.values as BigInt64Array, base, n, 1) ?? fallback(data)
  if (arrow.DataType.isTimestamp(type)) {
    const unit = (type as arrow.Timestamp).unit
    const per = unit === arrow.TimeUnit.MICROSECOND ? 1000 : unit === arrow.TimeUnit.MILLISECOND ? 1 : 0
    if (per > 0) return int64AsNumbers(data.values as BigInt64Array, base, n, per) ?? fallback(data)
  }
  return fallback(data)
}

/**
 * `values[base … base + n)` floor-divided by `per` (1 or 1000), as numbers; undefined when a value
 * is beyond ±2^53 (then the reader's exact path decides: an error, or a bigint). Read as two 32-bit
 * halves, not as bigints: a bigint per value costs an allocation.
 */
function int64AsNumbers(values: BigInt64Array, base: number, n: number, per: number): number[] | undefined {
  const words = new Int32Array(values.buffer, values.byteOffset + 8 * base, 2 * n)
  const out = new Array<number>(n)
  for (let i = 0; i < n; i++) {
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

/** The column's strings sliced out of one decoded string, when its bytes are ASCII; else undefined. */
function asciiStrings(data: arrow.Data): unknown[] | undefined {
  const offsets = data.valueOffsets as Int32Array
  const bytes = data.values as Uint8Array
  const n = data.length
  const base = data.offset
  const from = offsets[base]!
  const to = offsets[base + n]!
  const region = Buffer.from(bytes.buffer, bytes.byteOffset + from, to - from)
  if (!isAscii(region)) return undefined
  const text = region.toString('latin1')
  const out = new Array<unknown>(n)
  const bitmap = data.nullCount > 0 ? data.nullBitmap : undefined
  for (let i = 0; i < n; i++) {
    const j = base + i
    out[i] =
      bitmap !== undefined && ((bitmap[j >> 3]! >> (j & 7)) & 1) === 0
        ? null
        : text.slice(offsets[j]! - from, offsets[j + 1]! - from)
  }
  return out
}
