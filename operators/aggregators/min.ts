/**
 * min of finite numbers; empty → null. Accumulator: the minimum, or NaN for "no input" (inputs
 * are finite, so NaN is free) — a plain number keeps numeric tiles unboxed. Encoding: f64.
 */
import type { Aggregator } from './types.ts'

export const min: Aggregator<number> = {
  op: 'min',
  invertible: false,
  accEncoding: 'f64 minimum, NaN when empty',
  input: 'number',
  init: () => Number.NaN,
  add: (acc, value) => ((value as number) < acc || acc !== acc ? (value as number) : acc),
  merge: (into, from) => (from < into || into !== into ? from : into),
  finish: (acc) => (acc !== acc ? null : acc),
  foldTiles: (tiles, lo, at) => {
    let m = Number.NaN
    for (let i = lo; i < tiles.length; i++) {
      const v = (tiles[i] as readonly unknown[])[at] as number
      if (v < m || m !== m) m = v
    }
    return m !== m ? null : m
  },
  isEmpty: (acc) => acc !== acc,
  encode: (acc, w) => w.f64(acc),
  decode: (r) => r.f64(),
}
