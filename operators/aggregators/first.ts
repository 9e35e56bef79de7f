/**
 * first: value of the earliest event (event time, ties → lowest offset); empty → null.
 * Accumulator: null (u8 0) or an entry (u8 1, f64 time, str offset, scalar value).
 */
import type { Aggregator } from './types.ts'
import { compareEntries, readEntry, writeEntry, type OrderedEntry } from './ordered-entry.ts'

export const first: Aggregator<OrderedEntry | null> = {
  op: 'first',
  invertible: false,
  accEncoding: 'u8 present, then f64 eventTimeMs, str offset, u8 tag + f64|str value',
  input: 'scalar',
  init: () => null,
  add: (acc, value, eventTimeMs, offset) => {
    const e = { t: eventTimeMs, o: offset, v: value }
    return acc === null || compareEntries(e, acc) < 0 ? e : acc
  },
  merge: (into, from) => (from === null ? into : into === null || compareEntries(from, into) < 0 ? from : into),
  finish: (acc) => (acc === null ? null : acc.v),
  isEmpty: (acc) => acc === null,
  encode: (acc, w) => {
    w.u8(acc === null ? 0 : 1)
    if (acc !== null) writeEntry(w, acc)
  },
  decode: (r) => (r.u8() === 0 ? null : readEntry(r)),
}
