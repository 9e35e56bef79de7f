/**
 * How a view plan's tile columns map onto the flat per-key arrays of key-state.ts, and how each
 * feature is read back from them. Plain-number accumulators (count, sum, min, max) go to the
 * unboxed numeric array and are added/folded inline; every other column keeps its aggregator's
 * accumulator in the object array.
 *
 * Every inline path is the aggregator's own arithmetic in the same order (ascending tiles,
 * starting from `init()`), so the values are bit for bit those of `init → merge… → finish`.
 */
import type { Aggregator } from '../aggregators/types.ts'
import type { FeatureValue } from '../../features/types.ts'
import { LAST_N_ENTRY, type LastNAcc } from '../aggregators/last-n.ts'
import type { HopGroupPlan, ViewPlan } from './plan.ts'

export const NUM_COUNT = 0
export const NUM_SUM = 1
export const NUM_MIN = 2
export const NUM_MAX = 3

/** Reading modes of a windowed feature. */
export const READ_AVG = 0
export const READ_ADD = 1
export const READ_MIN = 2
export const READ_MAX = 3
export const READ_DISTINCT = 4
export const READ_LAST_N = 5
export const READ_GENERIC = 6

export interface FeatureRead {
  readonly featureIndex: number
  readonly mode: number
  /** Position in the numeric tile (1-based: slot 0 is the tile index) or in the object tile. */
  readonly at: number
  /** avg: position of its count in the numeric tile. */
  readonly countAt: number
  /** last_n: its N, and the object slot of its single-value mirror. */
  readonly lastN: number
  readonly mirrorAt: number
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
  /** Numeric tile stride: 1 (tile index) + numeric columns. */
  readonly numStride: number
  /**
   * Object tile stride: the object columns, then one mirror slot per last_n column (0: the
   * group has none). A mirror holds the list's value while the list has exactly one entry,
   * else undefined: a read of the commonest tile (one event) then stays in the slab page.
   * Mirrors are derived from the lists (`lastNMirror`), never snapshotted.
   */
  readonly objStride: number
  /** Per numeric column: flat scratch index, kind, position in the numeric tile. */
  readonly numScratch: Int32Array
  readonly numKind: Int8Array
  /** Per object column: flat scratch index and aggregator. */
  readonly objScratch: Int32Array
  readonly objAggs: readonly Aggregator[]
  /** Per object column: its mirror slot (−1: not last_n). */
  readonly objMirror: Int32Array
  /** Per object slot: its empty value (columns: `init()`, mirrors: undefined). */
  readonly objInits: readonly (() => unknown)[]
  /** Per plan column j: its place (numeric 1-based / object 0-based) and whether it is numeric. */
  readonly placeOf: Int32Array
  readonly isNum: Uint8Array
  readonly specs: readonly SpecLayout[]
}

const noMirror = (): undefined => undefined

/** The mirror of a last_n list (tile-layout `objStride`): its value if it has exactly one entry. */
export function lastNMirror(list: LastNAcc): unknown {
  return list.length === LAST_N_ENTRY ? list[2] : undefined
}

function numKindOf(op: string): number {
  switch (op) {
    case 'count':
      return NUM_COUNT
    case 'sum':
      return NUM_SUM
    case 'min':
      return NUM_MIN
    case 'max':
      return NUM_MAX
    default:
      return -1
  }
}

function groupLayout(group: HopGroupPlan, scratchOffset: number): GroupLayout {
  const cols = group.columns
  const placeOf = new Int32Array(cols.length)
  const isNum = new Uint8Array(cols.length)
  const numScratch: number[] = []
  const numKind: number[] = []
  const objScratch: number[] = []
  const objAggs: Aggregator[] = []
  const objLastN: boolean[] = []
  cols.forEach((col, j) => {
    const kind = numKindOf(col.agg.op)
    if (kind >= 0) {
      isNum[j] = 1
      placeOf[j] = numScratch.push(scratchOffset + j)
      numKind.push(kind)
    } else {
      placeOf[j] = objScratch.push(scratchOffset + j) - 1
      objAggs.push(col.agg)
      objLastN.push(col.lastN !== undefined)
    }
  })
  const objMirror = new Int32Array(objAggs.length).fill(-1)
  const objInits: (() => unknown)[] = objAggs.map((agg) => () => agg.init())
  objLastN.forEach((isLastN, j) => {
    if (isLastN) objMirror[j] = objInits.push(noMirror) - 1
  })
  const specs = group.specs.map((spec) => ({
    tiles: spec.tiles,
    reads: spec.features.map((slot): FeatureRead => {
      const col = cols[slot.column]!
      const at = placeOf[slot.column] as number
      const mirrorAt = isNum[slot.column] === 1 ? -1 : (objMirror[at] as number)
      const base = { featureIndex: slot.featureIndex, at, countAt: 0, lastN: col.lastN ?? 0, mirrorAt, agg: col.agg, finisher: slot.finisher }
      if (slot.countColumn !== undefined) return { ...base, mode: READ_AVG, countAt: placeOf[slot.countColumn] as number }
      if (isNum[slot.column] === 1) {
        const kind = numKindOf(col.agg.op)
        return { ...base, mode: kind === NUM_MIN ? READ_MIN : kind === NUM_MAX ? READ_MAX : READ_ADD }
      }
      if (col.agg.op === 'approx_distinct') return { ...base, mode: READ_DISTINCT }
      if (col.lastN !== undefined) return { ...base, mode: READ_LAST_N }
      return { ...base, mode: READ_GENERIC }
    }),
  }))
  return {
    hopMs: group.hopMs,
    maxTiles: group.maxTiles,
    numStride: numScratch.length + 1,
    objStride: objInits.length,
    numScratch: Int32Array.from(numScratch),
    numKind: Int8Array.from(numKind),
    objScratch: Int32Array.from(objScratch),
    objAggs,
    objMirror,
    objInits,
    placeOf,
    isNum,
    specs,
  }
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

/**
 * last_n over tiles[lo..count): every entry of a later tile is later in event order than every
 * entry of an earlier one (tiles partition time), so the ascending merge of the tiles' lists is
 * their concatenation from the newest tile down, cut at N — no entry comparisons needed.
 */
export function lastNOf(objs: readonly unknown[], ob: number, lo: number, count: number, os: number, at: number, mirrorAt: number, n: number, agg: Aggregator): FeatureValue {
  if (count - lo === 1) {
    const single = objs[ob + lo * os + mirrorAt] as number | string | undefined
    return single !== undefined ? ([single] as FeatureValue) : agg.finish(objs[ob + lo * os + at])
  }
  const out: (number | string)[] = []
  for (let i = count - 1; i >= lo && out.length < n; i--) {
    const single = objs[ob + i * os + mirrorAt] as number | string | undefined
    if (single !== undefined) {
      out.push(single)
      continue
    }
    const list = objs[ob + i * os + at] as LastNAcc
    for (let j = 2; j < list.length && out.length < n; j += 3) out.push(list[j] as number | string)
  }
  // A list mixes numbers and strings only if the field's type does (finish casts the same way).
  return out as FeatureValue
}
