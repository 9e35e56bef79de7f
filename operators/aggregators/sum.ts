/** sum of finite numbers; empty → 0. Accumulator: the running double (f64). */
import { defineAggregation, mainOutput, single } from './contract.ts'
import { SUMMABLE_NUMBERS } from './input-check.ts'
import type { Aggregator } from './types.ts'

export const sumKernel: Aggregator<number> = {
  name: 'sum',
  accEncoding: 'f64 sum',
  input: SUMMABLE_NUMBERS,
  unboxed: 'sum',
  accWire: 'f64',
  init: () => 0,
  add: (acc, value) => acc + (value as number),
  merge: (into, from) => into + from,
  finish: (acc) => acc,
  encode: (acc, w) => w.f64(acc),
  decode: (r) => r.f64(),
}

/** A sum of a long field is a double too: one numeric type keeps every encoding simple (exact to 2^53). */
export const sum = defineAggregation({
  op: 'sum',
  summary: 'sum of the values; empty → 0',
  field: 'required',
  fields: 'numeric',
  params: [],
  outputs: [mainOutput('double')],
  label: () => 'sum',
  compute: () => single(sumKernel),
})
