/**
 * Numeric columns handed over as a Float64Array with no null (the engine's offline row buffer keeps
 * long and double features, as_of and created_at so, engine/offline-row-buffer.ts): read straight
 * from it, where a JS array first made of it cost a copy and an element load with a type check a
 * value. The values, bounds, counts and refusals are those of the array path (arrow-columns.ts
 * `scalarSteps`), which keeps every other column and every numeric column with a null.
 */
import * as arrow from 'apache-arrow'
import type { Steps } from '../../../core/steps.ts'
import { Int64Column, NumberBounds, SLICE_MASK, widen, type RowPick, type StatsBuilder } from './column-stats.ts'

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
  // Written as the array path writes them (column-stats.ts Int64Column).
  const int64 = new Int64Column(n, type, column)
  for (let i = 0; i < n; i++) {
    if ((i & SLICE_MASK) === SLICE_MASK) yield
    int64.put(i, at === undefined ? values[i]! : values[at[i]!]!)
  }
  stats.absorb(n, 0, 0, int64.lo, int64.hi)
  const data = int64.data
  return arrow.makeData({ type: arrowType as arrow.Int64, length: n, nullCount: 0, nullBitmap: null, data } as never)
}
