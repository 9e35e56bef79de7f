/**
 * Numeric columns handed over as a Float64Array with no null (the engine's offline row buffer keeps
 * long and double features, as_of and created_at so, engine/offline-row-buffer.ts): read straight
 * from it, where a JS array first made of it cost a copy and an element load with a type check a
 * value. The values, bounds, counts and refusals are those of the array path (arrow-columns.ts
 * `scalarSteps`), which keeps every other column and every numeric column with a null.
 */
import * as arrow from 'apache-arrow'
import type { Steps } from '../../../core/steps.ts'
import { NumberBounds, reject, SLICE_MASK, toInt64, widen, type RowPick, type StatsBuilder } from './column-stats.ts'

/** One column's values: any JS values, or numbers none of which is null. */
export type ColumnValues = readonly unknown[] | Float64Array

/** The numeric types a Float64Array column is built as directly (`int` goes the array path, which checks its range). */
export type Float64ColumnType = 'double' | 'long' | 'timestamptz'

/** `values` (or the rows `at` picks) as Arrow data of `type`; never a null, so no validity bitmap. */
export function* float64Steps(column: string, type: Float64ColumnType, arrowType: arrow.DataType, values: Float64Array, at: RowPick, stats: StatsBuilder): Steps<arrow.Data> {
  const n = at === undefined ? values.length : at.length
  const bounds = new NumberBounds()
  if (type === 'double') {
    // A copy of its own: the built buffers are transferred to the Parquet worker.
    const data = at === undefined ? values.slice() : new Float64Array(n)
    let nans = 0
    for (let i = 0; i < n; i++) {
      if ((i & SLICE_MASK) === SLICE_MASK) yield
      const v = at === undefined ? data[i]! : values[at[i]!]!
      if (v !== v) {
        // One NaN, as a JS array's element would have stored it (a NaN's payload bits are not data).
        data[i] = NaN
        nans++
      } else {
        data[i] = v
        widen(bounds, v)
      }
    }
    stats.absorb(n, 0, nans, bounds.seen ? bounds.lo : undefined, bounds.seen ? bounds.hi : undefined)
    return arrow.makeData({ type: arrowType as arrow.Float64, length: n, nullCount: 0, nullBitmap: null, data })
  }
  const data = new BigInt64Array(n)
  // Two 32-bit words a value, as the array path writes a safe integer (Arrow is little-endian).
  const words = new Uint32Array(data.buffer, data.byteOffset, n * 2)
  const scale = type === 'long' ? 1 : 1000
  let bigLo: bigint | undefined
  let bigHi: bigint | undefined
  for (let i = 0; i < n; i++) {
    if ((i & SLICE_MASK) === SLICE_MASK) yield
    const v = at === undefined ? values[i]! : values[at[i]!]!
    if (Number.isSafeInteger(v) && Number.isSafeInteger(v * scale)) {
      const x = v * scale
      const hi = Math.floor(x / 4294967296)
      words[2 * i] = x - hi * 4294967296
      words[2 * i + 1] = hi >>> 0
      widen(bounds, x)
    } else {
      let x: bigint
      if (type === 'long') x = toInt64(column, v)
      else {
        if (!Number.isSafeInteger(v)) reject(column, 'expected epoch milliseconds')
        x = BigInt(v) * 1000n
      }
      data[i] = x
      if (bigLo === undefined || x < bigLo) bigLo = x
      if (bigHi === undefined || x > bigHi) bigHi = x
    }
  }
  const lo = bounds.seen ? BigInt(bounds.lo) : undefined
  const hi = bounds.seen ? BigInt(bounds.hi) : undefined
  stats.absorb(n, 0, 0, lo === undefined || (bigLo !== undefined && bigLo < lo) ? bigLo : lo, hi === undefined || (bigHi !== undefined && bigHi > hi) ? bigHi : hi)
  return arrow.makeData({ type: arrowType as arrow.Int64, length: n, nullCount: 0, nullBitmap: null, data } as never)
}
