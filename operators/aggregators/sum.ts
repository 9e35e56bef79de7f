/** sum of finite numbers; empty → 0. Accumulator: the running double (f64). */
import type { Aggregator } from './types.ts'

export const sum: Aggregator<number> = {
  op: 'sum',
  invertible: true,
  accEncoding: 'f64 sum',
  input: 'bounded_number',
  init: () => 0,
  add: (acc, value) => acc + (value as number),
  merge: (into, from) => into + from,
  retract: (acc, value) => acc - (value as number),
  finish: (acc) => acc,
  foldTiles: (tiles, lo, at) => {
    let s = 0
    for (let i = lo; i < tiles.length; i++) s += (tiles[i] as readonly unknown[])[at] as number
    return s
  },
  isEmpty: (acc) => acc === 0,
  encode: (acc, w) => w.f64(acc),
  decode: (r) => r.f64(),
}
