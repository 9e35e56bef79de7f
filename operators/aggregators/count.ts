/** count: events (no field) or non-null values of a field. Accumulator: the count (uvarint). */
import type { Aggregator } from './types.ts'

export const count: Aggregator<number> = {
  op: 'count',
  invertible: true,
  accEncoding: 'uvarint count',
  input: 'any',
  init: () => 0,
  add: (acc) => acc + 1,
  merge: (into, from) => into + from,
  retract: (acc) => acc - 1,
  finish: (acc) => acc,
  foldTiles: (tiles, lo, at) => {
    let n = 0
    for (let i = lo; i < tiles.length; i++) n += (tiles[i] as readonly unknown[])[at] as number
    return n
  },
  isEmpty: (acc) => acc === 0,
  encode: (acc, w) => w.uvarint(acc),
  decode: (r) => r.uvarint(),
}
