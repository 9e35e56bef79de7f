/**
 * max of finite numbers; empty → null. Accumulator: the maximum, or NaN for "no input" (inputs
 * are finite, so NaN is free) — a plain number keeps numeric tiles unboxed. Encoding: f64.
 */
import { defineAggregation, mainOutput, single } from './contract.ts'
import { FINITE_NUMBERS } from './input-check.ts'
import type { Aggregator } from './types.ts'

export const maxKernel: Aggregator<number> = {
  name: 'max',
  accEncoding: 'f64 maximum, NaN when empty',
  input: FINITE_NUMBERS,
  unboxed: 'max',
  accWire: 'f64',
  init: () => Number.NaN,
  add: (acc, value) => ((value as number) > acc || acc !== acc ? (value as number) : acc),
  merge: (into, from) => (from > into || into !== into ? from : into),
  finish: (acc) => (acc !== acc ? null : acc),
  encode: (acc, w) => w.f64(acc),
  decode: (r) => r.f64(),
}

export const max = defineAggregation({
  op: 'max',
  summary: 'largest value; empty → null',
  field: 'required',
  fields: 'numeric',
  params: [],
  outputs: [mainOutput('double')],
  label: () => 'max',
  compute: () => single(maxKernel),
})
