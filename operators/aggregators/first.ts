/**
 * first: value of the earliest event (event time, ties → lowest offset); empty → null.
 * Accumulator: null (u8 0) or an entry (u8 1, f64 time, str offset, scalar value).
 */
import { defineAggregation, mainOutput, scalarTypeOf, single } from './contract.ts'
import { SCALARS } from './input-check.ts'
import type { Aggregator } from './types.ts'
import { compareEntries, readEntry, writeEntry, type OrderedEntry } from './ordered-entry.ts'

export const firstKernel: Aggregator<OrderedEntry | null> = {
  name: 'first',
  accEncoding: 'u8 present, then f64 eventTimeMs, str offset, u8 tag + f64|str value',
  input: SCALARS,
  init: () => null,
  add: (acc, value, eventTimeMs, offset) => {
    const e = { t: eventTimeMs, o: offset, v: value }
    return acc === null || compareEntries(e, acc) < 0 ? e : acc
  },
  merge: (into, from) => (from === null ? into : into === null || compareEntries(from, into) < 0 ? from : into),
  finish: (acc) => (acc === null ? null : acc.v),
  encode: (acc, w) => {
    w.u8(acc === null ? 0 : 1)
    if (acc !== null) writeEntry(w, acc)
  },
  decode: (r) => (r.u8() === 0 ? null : readEntry(r)),
}

export const first = defineAggregation({
  op: 'first',
  summary: "value of the earliest event (event time, ties → lowest offset), of the field's type; empty → null",
  field: 'required',
  fields: 'scalar',
  params: [],
  outputs: [mainOutput(scalarTypeOf)],
  label: () => 'first',
  compute: () => single(firstKernel),
})
