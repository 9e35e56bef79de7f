/** count: events (no field) or non-null values of a field; empty → 0. Accumulator: the count (uvarint). */
import { defineAggregation, mainOutput, single } from './contract.ts'
import { ANY_VALUE } from './input-check.ts'
import type { Aggregator } from './types.ts'

export const countKernel: Aggregator<number> = {
  name: 'count',
  accEncoding: 'uvarint count',
  input: ANY_VALUE,
  unboxed: 'count',
  accWire: 'uvarint',
  init: () => 0,
  add: (acc) => acc + 1,
  merge: (into, from) => into + from,
  finish: (acc) => acc,
  encode: (acc, w) => w.uvarint(acc),
  decode: (r) => r.uvarint(),
}

export const count = defineAggregation({
  op: 'count',
  summary: 'events (without a field) or non-null values of the field; empty → 0',
  field: 'optional',
  fields: 'any',
  params: [],
  outputs: [mainOutput('long')],
  label: () => 'count',
  compute: () => single(countKernel),
})
