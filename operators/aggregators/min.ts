/**
 * min of finite numbers; empty → null. Accumulator: the minimum, or NaN for "no input" (inputs
 * are finite, so NaN is free) — a plain number keeps numeric tiles unboxed. Encoding: f64.
 */
import { defineAggregation, mainOutput, single } from './contract.ts'
import { FINITE_NUMBERS } from './input-check.ts'
import type { Aggregator } from './types.ts'

export const minKernel: Aggregator<number> = {
  name: 'min',
  accEncoding: 'f64 minimum, NaN when empty',
  input: FINITE_NUMBERS,
  unboxed: 'min',
  accWire: 'f64',
  init: () => Number.NaN,
  add: (acc, value) => ((value as number) < acc || acc !== acc ? (value as number) : acc),
  merge: (into, from) => (from < into || into !== into ? from : into),
  finish: (acc) => (acc !== acc ? null : acc),
  encode: (acc, w) => w.f64(acc),
  decode: (r) => r.f64(),
}

export const min = defineAggregation({
  op: 'min',
  summary: 'smallest value; empty → null',
  field: 'required',
  fields: 'numeric',
  params: [],
  outputs: [mainOutput('double')],
  label: () => 'min',
  compute: () => single(minKernel),
})
