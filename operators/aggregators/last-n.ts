/**
 * last_n(N): the N latest values (event time, ties → higher offset is later), newest first;
 * empty → []. Accumulator: at most N entries, newest first (uvarint length, then entries).
 * Keeping only N per tile is exact: the N latest of a union are among the N latest of each part.
 */
import { InvariantViolation } from '../../core/errors.ts'
import type { FeatureValue } from '../define/types.ts'
import { isScalar, type Aggregator } from './types.ts'
import { compareEntries, readEntry, writeEntry, type OrderedEntry } from './ordered-entry.ts'
import { insertAt } from './insert-at.ts'

export function lastN(n: number): Aggregator<OrderedEntry[]> {
  if (!Number.isSafeInteger(n) || n < 1) throw new InvariantViolation(`last_n needs a positive whole N, got ${n}`)
  return {
    op: 'last_n',
    invertible: false,
    accEncoding: `uvarint length (≤ ${n}), then per entry f64 eventTimeMs, str offset, u8 tag + f64|str value; newest first`,
    accepts: isScalar,
    init: () => [],
    add: (acc, value, eventTimeMs, offset) => {
      const e = { t: eventTimeMs, o: offset, v: value }
      let i = 0
      while (i < acc.length && compareEntries(acc[i] as OrderedEntry, e) > 0) i++
      if (i >= n) return acc
      const out = insertAt(acc, i, e)
      if (out.length > n) out.length = n
      return out
    },
    merge: (into, from) => {
      if (from.length === 0) return into
      if (into.length === 0) return from.slice(0, n)
      const out: OrderedEntry[] = []
      let i = 0
      let j = 0
      while (out.length < n && (i < into.length || j < from.length)) {
        const a = into[i]
        const b = from[j]
        if (b === undefined || (a !== undefined && compareEntries(a, b) > 0)) {
          out.push(a as OrderedEntry)
          i++
        } else {
          out.push(b)
          j++
        }
      }
      return out
    },
    finish: (acc) => acc.map((e) => e.v) as FeatureValue,
    isEmpty: (acc) => acc.length === 0,
    encode: (acc, w) => {
      w.uvarint(acc.length)
      for (const e of acc) writeEntry(w, e)
    },
    decode: (r) => {
      const len = r.uvarint()
      const acc: OrderedEntry[] = []
      for (let i = 0; i < len; i++) acc.push(readEntry(r))
      return acc
    },
  }
}
