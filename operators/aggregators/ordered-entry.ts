/** A value with its event order (event time, then offset), for first/last/last_n. */
import type { ByteReader, ByteWriter } from '../codec/bytes.ts'
import { compareEventOrder, readScalar, writeScalar, type AggInput } from './types.ts'

export interface OrderedEntry {
  readonly t: number
  readonly o: string
  readonly v: AggInput
}

/** Positive when `a` comes after `b` in event order. */
export function compareEntries(a: OrderedEntry, b: OrderedEntry): number {
  return compareEventOrder(a.t, a.o, b.t, b.o)
}

export function writeEntry(w: ByteWriter, e: OrderedEntry): void {
  w.f64(e.t)
  w.str(e.o)
  writeScalar(w, e.v)
}

export function readEntry(r: ByteReader): OrderedEntry {
  const t = r.f64()
  const o = r.str()
  return { t, o, v: readScalar(r) }
}
