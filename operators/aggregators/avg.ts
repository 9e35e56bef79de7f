/** avg of finite numbers; empty → null. Accumulator: [sum, count] (f64 sum, uvarint count). */
import type { Aggregator } from './types.ts'

export interface AvgAcc {
  sum: number
  count: number
}

export const avg: Aggregator<AvgAcc> = {
  op: 'avg',
  invertible: true,
  accEncoding: 'f64 sum, uvarint count',
  input: 'bounded_number',
  init: () => ({ sum: 0, count: 0 }),
  add: (acc, value) => {
    acc.sum += value as number
    acc.count += 1
    return acc
  },
  merge: (into, from) => {
    into.sum += from.sum
    into.count += from.count
    return into
  },
  retract: (acc, value) => {
    acc.sum -= value as number
    acc.count -= 1
    return acc
  },
  finish: (acc) => (acc.count === 0 ? null : acc.sum / acc.count),
  foldTiles: (tiles, lo, at) => {
    let s = 0
    let n = 0
    for (let i = lo; i < tiles.length; i++) {
      const a = (tiles[i] as readonly unknown[])[at] as AvgAcc
      s += a.sum
      n += a.count
    }
    return n === 0 ? null : s / n
  },
  isEmpty: (acc) => acc.count === 0,
  encode: (acc, w) => {
    w.f64(acc.sum)
    w.uvarint(acc.count)
  },
  decode: (r) => ({ sum: r.f64(), count: r.uvarint() }),
}
