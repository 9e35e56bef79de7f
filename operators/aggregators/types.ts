/**
 * The kernel of an aggregation: its accumulator algebra, in the shape the tile engine needs.
 * (What an aggregation declares to the DSL and the planner — name, parameters, output type — is
 * its contract, contract.ts; a contract names the kernels its features read.)
 *
 * Ownership: `add` and `merge` own their first argument (they may update it in place and return
 * it, or return a new value); the caller must use the returned accumulator and never the old
 * one. `merge(into, from)` only reads `from`, so tiles can be folded into a fresh window
 * accumulator without cloning. `finish` only reads.
 *
 * Determinism: every method is a pure function of its arguments. Floating-point results depend
 * on the order of `add`/`merge` calls; the engine fixes that order (offset order inside a tile,
 * ascending tile index across tiles), so live, replay and restore agree bit for bit.
 *
 * Values reach `add` already checked against `input` (input-check.ts; nulls never do: see
 * docs/semantics.md §1–§2), so an accumulator never sees a non-finite number, a number beyond
 * `input.maxMagnitude`, or a string over the view's size limit.
 */
import type { FeatureValue } from '../../features/types.ts'
import type { ByteReader, ByteWriter } from '../codec/bytes.ts'
import type { InputRule } from './input-check.ts'

export type AggInput = number | string

/**
 * Plain-double accumulators the engine keeps unboxed in its tile slabs and updates inline (no
 * call per value). A kernel declaring one must behave exactly like that arithmetic:
 * - `count`: init 0, add → acc + 1, merge → a + b, finish → acc;
 * - `sum`: init 0, add → acc + v, merge → a + b, finish → acc;
 * - `min` / `max`: init NaN (empty), add/merge keep the smaller/larger, finish → null when NaN.
 */
export type UnboxedKind = 'count' | 'sum' | 'min' | 'max'

export interface Aggregator<Acc = unknown> {
  /**
   * The kernel's name: with the field and the state parameters it keys a tile column (features
   * needing the same accumulator share one), and it is part of the plan fingerprint that guards
   * snapshot restore — renaming a kernel invalidates operator snapshots.
   */
  readonly name: string
  /** Human-readable description of `encode`'s byte layout (part of the plan fingerprint). */
  readonly accEncoding: string
  /** Which non-null input values this kernel takes (checked by `checkInput` before any state changes). */
  readonly input: InputRule
  init(): Acc
  add(acc: Acc, value: AggInput, eventTimeMs: number, offset: string): Acc
  merge(into: Acc, from: Acc): Acc
  finish(acc: Acc): FeatureValue
  encode(acc: Acc, w: ByteWriter): void
  decode(r: ByteReader): Acc
  /** Optional fast path: the accumulator is one double with this arithmetic (see UnboxedKind). */
  readonly unboxed?: UnboxedKind
  /**
   * Optional fast path for snapshots: `encode(acc, w)` writes exactly `w.f64(acc)` (`'f64'`) or
   * `w.uvarint(acc)` (`'uvarint'`), so the snapshot's entry writer (entry-writer.ts) writes it
   * itself, without a call through a kernel object per tile and column.
   */
  readonly accWire?: 'f64' | 'uvarint'
  /**
   * Optional fast path: `finish` of the ascending merge of the `count` tile accumulators at
   * `accs[from + i·stride]` (i < count, count ≥ 1), without building the merged accumulator.
   * Must equal `init → merge… → finish` bit for bit. The tiles are one window's, ascending: every
   * input of a later tile is later in event order than every input of an earlier one. When the
   * kernel declares `mirror`, tile i's mirror is `mirrors[mirrorFrom + i·mirrorStride]`.
   */
  finishRange?(
    accs: readonly unknown[],
    from: number,
    stride: number,
    count: number,
    mirrors: Float64Array,
    mirrorFrom: number,
    mirrorStride: number,
  ): FeatureValue
  /**
   * Optional: a cheap double derived from a tile's accumulator (NaN: none) that the engine keeps
   * unboxed in the tile's numeric slots (rebuilt after every add and on restore, never
   * snapshotted) for `finishRange` to read instead of the accumulator — e.g. last_n's only value
   * while its list holds one number. Unboxed, reading it loads no object: the commonest tile
   * (one event) is then read from the numeric page its window's fold has loaded anyway.
   */
  mirror?(acc: Acc): number
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
