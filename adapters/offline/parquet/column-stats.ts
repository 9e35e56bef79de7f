/**
 * What every column build shares (arrow-columns.ts, float64-columns.ts): the row slices between
 * pauses, the refusals, the validity bitmap and the Iceberg column statistics.
 */
import { SinkWriteError } from '../../../core/errors.ts'

/** Min/max in the stored unit: `long` and `timestamptz` (µs) as bigint, `int`/`double` as number. */
export interface ColumnStats {
  readonly valueCount: number
  readonly nullCount: number
  readonly nanCount: number
  readonly min: number | bigint | undefined
  readonly max: number | bigint | undefined
}

/**
 * Rows between two pauses of a column build (`buildColumnSteps`): a checkpoint builds columns of
 * tens of thousands of rows on the engine's thread, and one column in one go held the event loop
 * for tens of milliseconds before V8 had optimised this code. A power of two minus one: a mask.
 */
export const SLICE_MASK = 1023

const INT64_MIN = -(2n ** 63n)
const INT64_MAX = 2n ** 63n - 1n

export function reject(column: string, what: string): never {
  throw new SinkWriteError('SINK_REJECTED', `column ${column}: ${what}`, { context: { column } })
}

export function toInt64(column: string, v: unknown): bigint {
  if (typeof v === 'bigint') {
    if (v < INT64_MIN || v > INT64_MAX) reject(column, 'long out of int64 range')
    return v
  }
  if (typeof v === 'number') {
    if (!Number.isSafeInteger(v)) reject(column, 'long must be a safe integer')
    return BigInt(v)
  }
  if (typeof v === 'string' && /^-?\d{1,19}$/.test(v)) return toInt64(column, BigInt(v))
  return reject(column, `expected a long, got ${typeof v}`)
}

export class Validity {
  readonly bitmap: Uint8Array
  nullCount = 0
  constructor(length: number) {
    this.bitmap = new Uint8Array((length + 7) >> 3)
  }
  set(i: number, valid: boolean): void {
    if (valid) this.bitmap[i >> 3]! |= 1 << (i & 7)
    else this.nullCount++
  }
}

export class StatsBuilder {
  valueCount = 0
  nullCount = 0
  nanCount = 0
  min: number | bigint | undefined
  max: number | bigint | undefined
  readonly ordered: boolean
  constructor(ordered: boolean) {
    this.ordered = ordered
  }
  /** One column's counts (every value, nulls included) and, for ordered columns, its bounds. */
  absorb(values: number, nulls: number, nans: number, min?: number | bigint, max?: number | bigint): void {
    this.valueCount += values
    this.nullCount += nulls
    if (!this.ordered) return
    this.nanCount += nans
    this.min = min
    this.max = max
  }
  build(): ColumnStats {
    return { valueCount: this.valueCount, nullCount: this.nullCount, nanCount: this.nanCount, min: this.min, max: this.max }
  }
}

/**
 * Bounds of one numeric column, kept in locals by the loops below (no per-value method call or
 * property write). Iceberg orders −0 before +0: a −0 lowers a 0 minimum, a +0 raises a −0 maximum.
 */
export class NumberBounds {
  seen = false
  lo = 0
  hi = 0
}

export function widen(b: NumberBounds, v: number): void {
  if (!b.seen) {
    b.seen = true
    b.lo = v
    b.hi = v
    return
  }
  if (v < b.lo || (v === 0 && b.lo === 0 && Object.is(v, -0))) b.lo = v
  if (v > b.hi || (v === 0 && b.hi === 0 && Object.is(b.hi, -0))) b.hi = v
}

/**
 * The values of a long or timestamptz column (a timestamptz given in epoch milliseconds) written
 * into a BigInt64Array, with their bounds. Safe integers (every timestamp, most offsets) are
 * written as two 32-bit words: a BigInt per value would be most of the column's cost and garbage
 * (Arrow is little-endian); the rest go through `toInt64` or are refused, naming the column.
 */
export class Int64Column {
  readonly data: BigInt64Array
  readonly #words: Uint32Array
  readonly #scale: number
  readonly #bounds = new NumberBounds()
  #bigLo: bigint | undefined
  #bigHi: bigint | undefined

  readonly type: 'long' | 'timestamptz'
  readonly column: string

  constructor(n: number, type: 'long' | 'timestamptz', column: string) {
    this.type = type
    this.column = column
    this.data = new BigInt64Array(n)
    this.#words = new Uint32Array(this.data.buffer, this.data.byteOffset, n * 2)
    this.#scale = type === 'long' ? 1 : 1000
  }

  put(i: number, v: unknown): void {
    if (typeof v === 'number' && Number.isSafeInteger(v) && Number.isSafeInteger(v * this.#scale)) {
      const x = v * this.#scale
      const hi = Math.floor(x / 4294967296)
      this.#words[2 * i] = x - hi * 4294967296
      this.#words[2 * i + 1] = hi >>> 0
      widen(this.#bounds, x)
      return
    }
    let x: bigint
    if (this.type === 'long') x = toInt64(this.column, v)
    else {
      if (typeof v !== 'number' || !Number.isSafeInteger(v)) reject(this.column, 'expected epoch milliseconds')
      x = BigInt(v) * 1000n
    }
    this.data[i] = x
    if (this.#bigLo === undefined || x < this.#bigLo) this.#bigLo = x
    if (this.#bigHi === undefined || x > this.#bigHi) this.#bigHi = x
  }

  /** The lowest value written, as a bigint (the stored unit of long and timestamptz bounds). */
  get lo(): bigint | undefined {
    const lo = this.#bounds.seen ? BigInt(this.#bounds.lo) : undefined
    return lo === undefined || (this.#bigLo !== undefined && this.#bigLo < lo) ? this.#bigLo : lo
  }

  get hi(): bigint | undefined {
    const hi = this.#bounds.seen ? BigInt(this.#bounds.hi) : undefined
    return hi === undefined || (this.#bigHi !== undefined && this.#bigHi > hi) ? this.#bigHi : hi
  }
}

/**
 * The rows of a column: `values[at[i]]` for each i when `at` is given (the rows of one data file
 * picked out of a checkpoint's columns, with no copy of each column), else `values` itself.
 */
export type RowPick = readonly number[] | undefined
