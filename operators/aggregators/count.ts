/** count: events (no field) or non-null values of a field. Accumulator: the count (uvarint). */
import type { Aggregator } from './types.ts'

export const count: Aggregator<number> = {
  op: 'count',
  invertible: true,
  accEncoding: 'uvarint count',
  accepts: (_value: unknown): _value is number => true,
  init: () => 0,
  add: (acc) => acc + 1,
  merge: (into, from) => into + from,
  retract: (acc) => acc - 1,
  finish: (acc) => acc,
  isEmpty: (acc) => acc === 0,
  encode: (acc, w) => w.uvarint(acc),
  decode: (r) => r.uvarint(),
}
