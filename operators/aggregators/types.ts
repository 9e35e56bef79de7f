/**
 * The one aggregator contract (house style §2.2), in the shape the tile engine needs.
 *
 * Ownership: `add`, `merge` and `retract` own their first argument (they may update it in place
 * and return it, or return a new value); the caller must use the returned accumulator and never
 * the old one. `merge(into, from)` only reads `from`, so tiles can be folded into a fresh
 * window accumulator without cloning. `finish` only reads.
 *
 * Determinism: every method is a pure function of its arguments. Floating-point results depend
 * on the order of `add`/`merge` calls; the engine fixes that order (offset order inside a tile,
 * ascending tile index across tiles), so live, replay and restore agree bit for bit.
 *
 * Values reach `add` already checked against `input` (input-check.ts; nulls never do: see
 * docs/semantics.md §1–§2), so an accumulator never sees a non-finite number, a number beyond
 * what it can add without overflowing, or a string over the view's size limit.
 */
import type { AggregationOp, FeatureValue } from '../../features/types.ts'
import type { ByteReader, ByteWriter } from '../codec/bytes.ts'
import type { InputKind } from './input-check.ts'

export type AggInput = number | string

export interface Aggregator<Acc = unknown> {
  readonly op: AggregationOp
  /** True when `retract` exists (the op forms a group, not just a monoid). */
  readonly invertible: boolean
  /** Human-readable description of `encode`'s byte layout (the declared accumulator encoding). */
  readonly accEncoding: string
  /** Which non-null input values this op takes (checked by `checkInput` before any state changes). */
  readonly input: InputKind
  init(): Acc
  add(acc: Acc, value: AggInput, eventTimeMs: number, offset: string): Acc
  merge(into: Acc, from: Acc): Acc
  retract?(acc: Acc, value: AggInput): Acc
  finish(acc: Acc): FeatureValue
  /**
   * Optional fast path: `finish` of the ascending merge of `tiles[lo..]` at position `at` (each
   * tile an array of accumulators), without allocating. Must equal the generic
   * `init → merge… → finish` fold bit for bit.
   */
  foldTiles?(tiles: readonly (readonly unknown[])[], lo: number, at: number): FeatureValue
  /** True when `acc` equals the identity `init()` (for sum, also after inputs summing to 0). */
  isEmpty(acc: Acc): boolean
  encode(acc: Acc, w: ByteWriter): void
  decode(r: ByteReader): Acc
}

/** Offsets are int64 decimal strings; numeric order without BigInt: shorter is smaller. */
export function compareOffsets(a: string, b: string): number {
  if (a.length !== b.length) return a.length - b.length
  return a < b ? -1 : a > b ? 1 : 0
}

/** Order of events for first/last/last_n: event time, ties broken by offset. */
export function compareEventOrder(tA: number, oA: string, tB: number, oB: string): number {
  return tA !== tB ? tA - tB : compareOffsets(oA, oB)
}

export function writeScalar(w: ByteWriter, v: AggInput): void {
  if (typeof v === 'number') {
    w.u8(0)
    w.f64(v)
  } else {
    w.u8(1)
    w.str(v)
  }
}

export function readScalar(r: ByteReader): AggInput {
  return r.u8() === 0 ? r.f64() : r.str()
}
