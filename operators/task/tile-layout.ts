/**
 * How a view plan's tile columns map onto the flat per-key arrays of key-state.ts, and how each
 * feature is read back from them — decided by the fast paths its kernels declare (types.ts), never
 * by op names. Unboxed kernels (`unboxed`: plain-double accumulators) go to the numeric array and
 * are added/folded inline; every other column keeps its kernel's accumulator in the object array
 * (plus an unboxed mirror slot in the numeric tile when the kernel declares `mirror`), read
 * through `finishRange` when the kernel has one, else by the generic merge fold.
 *
 * Every inline path is the kernel's own arithmetic in the same order (ascending tiles, starting
 * from `init()`), so the values are bit for bit those of `init → merge… → finish`.
 */
import { InvariantViolation } from '../../core/errors.ts'
import type { Aggregator, UnboxedKind } from '../aggregators/types.ts'
import type { FeatureValue } from '../../features/types.ts'
import type { HopGroupPlan, ViewPlan } from './plan.ts'

/** Inline arithmetic of unboxed columns (one per UnboxedKind). */
export const NUM_COUNT = 0
export const NUM_SUM = 1
export const NUM_MIN = 2
export const NUM_MAX = 3

/** Reading modes of a windowed feature. */
export const READ_PAIR = 0
export const READ_ADD = 1
export const READ_MIN = 2
export const READ_MAX = 3
export const READ_RANGE = 4
export const READ_GENERIC = 5

export interface FeatureRead {
  readonly featureIndex: number
  readonly mode: number
  /** Position in the numeric tile (1-based: slot 0 is the tile index) or in the object tile. */
  readonly at: number
  /** READ_PAIR: position of the second column in the numeric tile, and the combination. */
  readonly pairAt: number
  readonly combine: (a: number, b: number) => FeatureValue
  /** READ_RANGE: position of the column's mirror in the numeric tile (0: the kernel has none). */
  readonly mirror: number
  readonly agg: Aggregator
  readonly finisher: Aggregator
}

export interface SpecLayout {
  readonly tiles: number
  readonly reads: readonly FeatureRead[]
}

export interface GroupLayout {
  readonly hopMs: number
  readonly maxTiles: number
  /**
   * Numeric tile stride: 1 (tile index) + numeric columns + one mirror slot per object column
   * whose kernel declares `mirror`. A mirror holds `kernel.mirror(acc)` unboxed (e.g. a last_n
   * list's value while it has exactly one number; NaN: none): a read of the commonest tile (one
   * event) then stays in the numeric page the window's fold loads anyway — no object, no boxed
   * number. Mirrors are derived, never snapshotted.
   */
  readonly numStride: number
  /** Object tile stride: the object columns (0: the group has none). */
  readonly objStride: number
  /** Per numeric column: flat scratch index, kind (NUM_*), position in the numeric tile. */
  readonly numScratch: Int32Array
  readonly numKind: Int8Array
  /** Per numeric slot after the tile index: its empty value (columns: `init()`, 0 or NaN; mirrors: NaN). */
  readonly numInits: readonly number[]
  /** Per object column: flat scratch index and kernel. */
  readonly objScratch: Int32Array
  readonly objAggs: readonly Aggregator[]
  /** Per object column: its mirror's position in the numeric tile (−1: the kernel declares no mirror). */
  readonly objMirror: Int32Array
  /** Per object slot: its empty value (`init()`). */
  readonly objInits: readonly (() => unknown)[]
  /** Per plan column j: its place (numeric 1-based / object 0-based) and whether it is numeric. */
  readonly placeOf: Int32Array
  readonly isNum: Uint8Array
  readonly specs: readonly SpecLayout[]
}

const NUM_KIND: Readonly<Record<UnboxedKind, number>> = { count: NUM_COUNT, sum: NUM_SUM, min: NUM_MIN, max: NUM_MAX }

function readModeOf(kind: UnboxedKind): number {
  return kind === 'min' ? READ_MIN : kind === 'max' ? READ_MAX : READ_ADD
}

function groupLayout(group: HopGroupPlan, scratchOffset: number): GroupLayout {
  const cols = group.columns
  const placeOf = new Int32Array(cols.length)
  const isNum = new Uint8Array(cols.length)
  const numScratch: number[] = []
  const numKind: number[] = []
  const numInits: number[] = []
  const objScratch: number[] = []
  const objAggs: Aggregator[] = []
  cols.forEach((col, j) => {
    const kind = col.agg.unboxed
    if (kind !== undefined) {
      isNum[j] = 1
      placeOf[j] = numScratch.push(scratchOffset + j)
      numKind.push(NUM_KIND[kind])
      numInits.push(col.agg.init() as number)
    } else {
      placeOf[j] = objScratch.push(scratchOffset + j) - 1
      objAggs.push(col.agg)
    }
  })
  const objMirror = new Int32Array(objAggs.length).fill(-1)
  const objInits: (() => unknown)[] = objAggs.map((agg) => () => agg.init())
  objAggs.forEach((agg, j) => {
    if (agg.mirror !== undefined) objMirror[j] = numInits.push(Number.NaN)
  })
  const specs = group.specs.map((spec) => ({
    tiles: spec.tiles,
    reads: spec.features.map((slot): FeatureRead => {
      const col = cols[slot.column]!
      const at = placeOf[slot.column] as number
      const base = { featureIndex: slot.featureIndex, at, pairAt: 0, combine: noCombine, mirror: 0, agg: col.agg, finisher: slot.finisher }
      if (slot.pair !== undefined) {
        if (isNum[slot.column] !== 1 || isNum[slot.pair.column] !== 1) throw new InvariantViolation('a pair of columns must both be unboxed')
        return { ...base, mode: READ_PAIR, pairAt: placeOf[slot.pair.column] as number, combine: slot.pair.combine }
      }
      if (col.agg.unboxed !== undefined) return { ...base, mode: readModeOf(col.agg.unboxed) }
      const mirrorAt = objMirror[at] as number
      // A finisher reading mirrors needs the column's kernel to keep them.
      if (slot.finisher.finishRange !== undefined && (slot.finisher.mirror === undefined || mirrorAt > 0)) {
        return { ...base, mode: READ_RANGE, mirror: mirrorAt < 0 ? 0 : mirrorAt }
      }
      return { ...base, mode: READ_GENERIC }
    }),
  }))
  return {
    hopMs: group.hopMs,
    maxTiles: group.maxTiles,
    numStride: numInits.length + 1,
    objStride: objInits.length,
    numScratch: Int32Array.from(numScratch),
    numKind: Int8Array.from(numKind),
    numInits,
    objScratch: Int32Array.from(objScratch),
    objAggs,
    objMirror,
    objInits,
    placeOf,
    isNum,
    specs,
  }
}

function noCombine(): FeatureValue {
  throw new InvariantViolation('combine read on a single-column feature')
}

/** Layouts of every hop group; scratch indices follow the plan's columns group after group. */
export function tileLayouts(plan: ViewPlan): GroupLayout[] {
  let offset = 0
  return plan.groups.map((g) => {
    const layout = groupLayout(g, offset)
    offset += g.columns.length
    return layout
  })
}
