/**
 * One Arrow column's values as JS values, by the file's Arrow type (the table in parquet-schema.ts):
 * the reader's general path, and the compact reader's fallback (./compact-columns.ts).
 *
 * Arrow's layout of a slice (`Data#slice`) decides the indexes: a fixed-width column's values and
 * a variable-width column's offsets are cut to start at the slice, while the validity bitmap and a
 * boolean's bits are not — those are read at bit `data.offset + i`.
 */
import * as arrow from 'apache-arrow'
import { SinkWriteError } from '../../../core/errors.ts'

const decoder = new TextDecoder()

function isValidAt(data: arrow.Data, i: number): boolean {
  if (data.nullCount === 0 || data.nullBitmap === undefined || data.nullBitmap.length === 0) return true
  const j = data.offset + i
  return ((data.nullBitmap[j >> 3]! >> (j & 7)) & 1) === 1
}

function int64ToNumber(v: bigint, column: string): number {
  const n = Number(v)
  if (!Number.isSafeInteger(n)) {
    throw new SinkWriteError('SINK_REJECTED', `column ${column}: int64 beyond 2^53; read with longAs: 'bigint'`, { context: { column } })
  }
  return n
}

function exactInt64(v: bigint): number | bigint {
  const n = Number(v)
  return Number.isSafeInteger(n) ? n : v
}

const US_PER_UNIT: Record<number, bigint> = { [arrow.TimeUnit.SECOND]: 1_000_000n, [arrow.TimeUnit.MILLISECOND]: 1000n, [arrow.TimeUnit.MICROSECOND]: 1n, [arrow.TimeUnit.NANOSECOND]: 0n }

/**
 * `length` values of `data` from its logical index `start` (a list's child is read a value's span at a time).
 * `longAs`: how a 64-bit integer reads — a number (one beyond 2^53 throws), a bigint, or `exact`:
 * a number where it is one exactly, else a bigint (a table's long column, which Avro holds whole).
 * `binaryViews`: a binary value is a view into the batch's bytes (which the IPC read copied out of
 * the wasm memory, so nothing overwrites them), not a copy of its own.
 */
export function decodeArrowValues(
  data: arrow.Data,
  column: string,
  longAs: 'number' | 'bigint' | 'exact',
  start = 0,
  length = data.length,
  binaryViews = false,
): unknown[] {
  const out = new Array<unknown>(length)
  const type = data.type
  // Values and offsets are indexed from the slice (see the header), the bitmap and a boolean's bits from `data.offset`.
  if (arrow.DataType.isUtf8(type) || arrow.DataType.isBinary(type) || arrow.DataType.isLargeUtf8(type) || arrow.DataType.isLargeBinary(type)) {
    const offsets = data.valueOffsets as Int32Array | BigInt64Array
    const bytes = data.values as Uint8Array
    const isString = arrow.DataType.isUtf8(type) || arrow.DataType.isLargeUtf8(type)
    for (let i = 0; i < length; i++) {
      if (!isValidAt(data, start + i)) {
        out[i] = null
        continue
      }
      const slice = bytes.subarray(Number(offsets[start + i]!), Number(offsets[start + i + 1]!))
      // A copy by default, so a value kept does not keep its whole batch's bytes alive.
      out[i] = isString ? decoder.decode(slice) : binaryViews ? slice : slice.slice()
    }
    return out
  }
  if (arrow.DataType.isTimestamp(type)) {
    const values = data.values as BigInt64Array
    const unit = (type as arrow.Timestamp).unit
    for (let i = 0; i < length; i++) {
      if (!isValidAt(data, start + i)) {
        out[i] = null
        continue
      }
      const v = values[start + i]!
      // Epoch ms, floored (rounding toward −∞ as Iceberg's transforms do).
      const ms = unit === arrow.TimeUnit.NANOSECOND ? floorDiv(v, 1_000_000n) : floorDiv(v * US_PER_UNIT[unit]!, 1000n)
      out[i] = Number(ms)
    }
    return out
  }
  if (arrow.DataType.isDate(type)) {
    // A date reads as the epoch ms of its midnight UTC (ports/table-snapshots.ts); no kfs column type.
    const values = data.values as Int32Array | BigInt64Array
    const perUnit = (type as arrow.Date_).unit === arrow.DateUnit.DAY ? 86_400_000 : 1
    for (let i = 0; i < length; i++) out[i] = isValidAt(data, start + i) ? Number(values[start + i]!) * perUnit : null
    return out
  }
  if (arrow.DataType.isInt(type)) {
    const values = data.values as Int32Array | BigInt64Array
    const is64 = (type as arrow.Int).bitWidth === 64
    for (let i = 0; i < length; i++) {
      if (!isValidAt(data, start + i)) {
        out[i] = null
        continue
      }
      const v = values[start + i]!
      out[i] = is64 ? (longAs === 'bigint' ? (v as bigint) : longAs === 'exact' ? exactInt64(v as bigint) : int64ToNumber(v as bigint, column)) : v
    }
    return out
  }
  if (arrow.DataType.isBool(type)) {
    const bits = data.values as Uint8Array
    for (let i = 0; i < length; i++) {
      const j = data.offset + start + i
      out[i] = isValidAt(data, start + i) ? ((bits[j >> 3]! >> (j & 7)) & 1) === 1 : null
    }
    return out
  }
  if (arrow.DataType.isFloat(type)) {
    const values = data.values as Float64Array | Float32Array
    for (let i = 0; i < length; i++) out[i] = isValidAt(data, start + i) ? values[start + i]! : null
    return out
  }
  if (arrow.DataType.isList(type)) {
    const offsets = data.valueOffsets as Int32Array
    const child = data.children[0]!
    for (let i = 0; i < length; i++) {
      if (!isValidAt(data, start + i)) {
        out[i] = null
        continue
      }
      const from = offsets[start + i]!
      const to = offsets[start + i + 1]!
      out[i] = decodeArrowValues(child, column, longAs, from, to - from)
    }
    return out
  }
  throw new SinkWriteError('SINK_REJECTED', `column ${column}: unsupported Arrow type ${String(type)}`, { context: { column } })
}

function floorDiv(a: bigint, b: bigint): bigint {
  const q = a / b
  return a % b !== 0n && a < 0n !== b < 0n ? q - 1n : q
}
