/**
 * How a key's windows are read out of one hop group's tiles, chosen once per view
 * (view-runner.ts `evaluate` calls a group's reader for every row).
 *
 * The windows of a group all end at the key's current tile, so a shorter window's tiles are a
 * suffix of a longer one's. The fused reader walks a group's tiles once, from the longest
 * window's first tile, and folds every numeric column any window reads (count, sum, min, max;
 * avg reads the sum and count columns) into one accumulator per window and column: each
 * window's fold still starts at its own first tile from the kernel's `init()` and adds tiles in
 * ascending order, so every value is bit for bit the one the per-feature reader computes —
 * where that reader dispatched on each feature's read mode and walked the tiles once per feature
 * (avg a second time over the columns count and sum had just folded).
 *
 * Object columns (approx_distinct, last_n, …) are read per feature as before (`readObjectFeature`).
 * `generalGroupReaders` keeps the per-feature reader whole: the reference the fused one is
 * tested against (test/unit/operators/window-reads.test.ts).
 */
import type { FeatureValue } from '../../features/types.ts'
import { firstTileAt } from './tile-slab.ts'
import { READ_ADD, READ_MAX, READ_MIN, READ_PAIR, READ_RANGE, type FeatureRead, type GroupLayout } from './tile-layout.ts'

/**
 * Reads every window of one group of key tiles `tiles[b …]` (`count` tiles, the key's clock in
 * tile `top`) into `out`; returns the earliest loss boundary of a non-empty window (NaN: none).
 * `objs[ob …]` are the group's object tiles (unused by a group without object columns).
 */
export type GroupReader = (
  tiles: Float64Array,
  b: number,
  count: number,
  top: number,
  objs: readonly unknown[],
  ob: number,
  out: FeatureValue[],
) => number

/** One per-feature reader per group: the reference `readWindows` is tested against. */
export function generalGroupReaders(layouts: readonly GroupLayout[]): GroupReader[] {
  return layouts.map(generalGroupReader)
}

function isNumeric(read: FeatureRead): boolean {
  return read.mode === READ_PAIR || read.mode === READ_ADD || read.mode === READ_MIN || read.mode === READ_MAX
}

/** How a numeric feature's value is made from its window's accumulators. */
const OUT_ADD = 0
const OUT_PAIR = 1
const OUT_MINMAX = 2

/**
 * A group's windows as `readWindows` folds them, decided once per view. Plain data read by one
 * module function, not a closure per group: three closures of one function literal share their
 * feedback and are called through a polymorphic site, which read 0.93 of the inline code in the
 * A/B even around the same per-feature reads (docs/performance.md, session 38).
 */
export class WindowFold {
  readonly hopMs: number
  readonly ns: number
  readonly os: number
  readonly specTiles: Int32Array
  /** The folded columns' places in a tile: additive ones first, then maxima, then minima. */
  readonly colAt: Int32Array
  readonly nAdd: number
  readonly nMax: number
  /** The numeric features, spec after spec (spec s's from outFrom[s] to outFrom[s + 1]). */
  readonly outFrom: Int32Array
  readonly outFeature: Int32Array
  readonly outKind: Int8Array
  /** The accumulators (column indices) of the value and of a pair's second column. */
  readonly outAcc: Int32Array
  readonly outPair: Int32Array
  /** The same two columns' places in a tile (the one-tile read takes them straight from it). */
  readonly outAt: Int32Array
  readonly outPairAt: Int32Array
  readonly outCombine: readonly ((x: number, y: number) => FeatureValue)[]
  readonly objectReads: readonly (readonly FeatureRead[])[]
  readonly hasObjectReads: boolean
  /** Reused across rows: each window's first tile, and its accumulators, window after window. */
  readonly lo: Int32Array
  readonly acc: Float64Array

  constructor(lay: GroupLayout) {
    const adds: number[] = []
    const maxes: number[] = []
    const mins: number[] = []
    const note = (list: number[], at: number): void => {
      if (!adds.includes(at) && !maxes.includes(at) && !mins.includes(at)) list.push(at)
    }
    for (const spec of lay.specs) {
      for (const read of spec.reads) {
        if (read.mode === READ_ADD || read.mode === READ_PAIR) note(adds, read.at)
        if (read.mode === READ_PAIR) note(adds, read.pairAt)
        if (read.mode === READ_MAX) note(maxes, read.at)
        if (read.mode === READ_MIN) note(mins, read.at)
      }
    }
    const colAt = Int32Array.from([...adds, ...maxes, ...mins])
    const colOf = (at: number): number => colAt.indexOf(at)
    const numericReads = lay.specs.map((s) => s.reads.filter(isNumeric))
    const flat = numericReads.flat()
    this.hopMs = lay.hopMs
    this.ns = lay.numStride
    this.os = lay.objStride
    this.specTiles = Int32Array.from(lay.specs, (s) => s.tiles)
    this.colAt = colAt
    this.nAdd = adds.length
    this.nMax = maxes.length
    this.outFrom = Int32Array.from([0, ...numericReads.map((_, s) => numericReads.slice(0, s + 1).flat().length)])
    this.outFeature = Int32Array.from(flat, (r) => r.featureIndex)
    this.outKind = Int8Array.from(flat, (r) => (r.mode === READ_PAIR ? OUT_PAIR : r.mode === READ_ADD ? OUT_ADD : OUT_MINMAX))
    this.outAcc = Int32Array.from(flat, (r) => colOf(r.at))
    this.outPair = Int32Array.from(flat, (r) => (r.mode === READ_PAIR ? colOf(r.pairAt) : 0))
    this.outAt = Int32Array.from(flat, (r) => r.at)
    this.outPairAt = Int32Array.from(flat, (r) => r.pairAt)
    this.outCombine = flat.map((r) => r.combine)
    this.objectReads = lay.specs.map((s) => s.reads.filter((r) => !isNumeric(r)))
    this.hasObjectReads = this.objectReads.some((list) => list.length > 0)
    this.lo = new Int32Array(lay.specs.length)
    this.acc = new Float64Array(lay.specs.length * colAt.length)
  }
}

/**
 * Every window of one group of key tiles `tiles[b …]` (`count` tiles, the key's clock in tile
 * `top`) into `out`; returns the earliest loss boundary of a non-empty window (NaN: none).
 * `objs[ob …]` are the group's object tiles (unused by a group without object columns).
 */
export function readWindows(
  f: WindowFold,
  tiles: Float64Array,
  b: number,
  count: number,
  top: number,
  objs: readonly unknown[],
  ob: number,
  out: FeatureValue[],
): number {
  let nextLoss = Number.NaN
  const ns = f.ns
  const specTiles = f.specTiles
  const lo = f.lo
  // Specs ascend by length, so their first tiles descend: `from` is the longest non-empty window's.
  let from = count
  let widest = -1
  for (let s = 0; s < specTiles.length; s++) {
    const tilesOfSpec = specTiles[s] as number
    const first = firstTileAt(tiles, b, count, ns, top + 1 - tilesOfSpec)
    lo[s] = first
    if (first === count) continue
    const loss = ((tiles[b + first * ns] as number) + tilesOfSpec) * f.hopMs
    if (!(loss >= nextLoss)) nextLoss = loss
    from = first
    widest = s
  }
  if (widest < 0) return nextLoss
  if (from === count - 1) readOneTile(f, tiles, b + from * ns, widest, out)
  else foldWindows(f, tiles, b, count, from, widest, out)
  if (f.hasObjectReads) {
    for (let s = 0; s <= widest; s++) {
      const first = lo[s] as number
      if (first === count) continue
      const others = f.objectReads[s] as FeatureRead[]
      for (let j = 0; j < others.length; j++) {
        const read = others[j] as FeatureRead
        out[read.featureIndex] = readObjectFeature(read, tiles, b, ns, first, count, objs, ob, f.os)
      }
    }
  }
  return nextLoss
}

/** Every non-empty window holds just the tile at `t` (the commonest row): each value is that tile's own. */
function readOneTile(f: WindowFold, tiles: Float64Array, t: number, widest: number, out: FeatureValue[]): void {
  // The shortest window holding the tile: those below it hold none.
  const lo = f.lo
  let s = widest
  while (s > 0 && (lo[s - 1] as number) === (lo[widest] as number)) s--
  const outAt = f.outAt
  const outKind = f.outKind
  const outFeature = f.outFeature
  for (let j = f.outFrom[s] as number, end = f.outFrom[widest + 1] as number; j < end; j++) {
    const x = tiles[t + (outAt[j] as number)] as number
    let value: FeatureValue
    switch (outKind[j]) {
      case OUT_ADD:
        value = x
        break
      case OUT_PAIR:
        // As the fold from init(): 0 + x (-0 becomes 0).
        value = (f.outCombine[j] as (x: number, y: number) => FeatureValue)(
          0 + x,
          0 + (tiles[t + (f.outPairAt[j] as number)] as number),
        )
        break
      default:
        value = x !== x ? null : x
    }
    out[outFeature[j] as number] = value
  }
}

/** Windows of several tiles: one walk from the widest window's first tile, each window's accumulators from its own. */
function foldWindows(
  f: WindowFold,
  tiles: Float64Array,
  b: number,
  count: number,
  from: number,
  widest: number,
  out: FeatureValue[],
): void {
  const ns = f.ns
  const lo = f.lo
  const acc = f.acc
  const colAt = f.colAt
  const nAdd = f.nAdd
  const nMinMax = nAdd + f.nMax
  const cols = colAt.length
  for (let s = 0; s <= widest; s++) {
    const a = s * cols
    for (let c = 0; c < nAdd; c++) acc[a + c] = 0
    for (let c = nAdd; c < cols; c++) acc[a + c] = Number.NaN
  }
  // `active`: the shortest window reaching tile i (every longer one reaches it too).
  let active = widest
  for (let i = from; i < count; i++) {
    while (active > 0 && (lo[active - 1] as number) <= i) active--
    const t = b + i * ns
    for (let c = 0; c < nAdd; c++) {
      const v = tiles[t + (colAt[c] as number)] as number
      for (let s = active; s <= widest; s++) acc[s * cols + c] = (acc[s * cols + c] as number) + v
    }
    for (let c = nAdd; c < nMinMax; c++) {
      const v = tiles[t + (colAt[c] as number)] as number
      for (let s = active; s <= widest; s++) {
        const m = acc[s * cols + c] as number
        if (v > m || m !== m) acc[s * cols + c] = v
      }
    }
    for (let c = nMinMax; c < cols; c++) {
      const v = tiles[t + (colAt[c] as number)] as number
      for (let s = active; s <= widest; s++) {
        const m = acc[s * cols + c] as number
        if (v < m || m !== m) acc[s * cols + c] = v
      }
    }
  }
  const outAcc = f.outAcc
  const outKind = f.outKind
  const outFeature = f.outFeature
  for (let s = 0; s <= widest; s++) {
    const first = lo[s] as number
    const n = count - first
    if (n === 0) continue
    const a = s * cols
    for (let j = f.outFrom[s] as number, end = f.outFrom[s + 1] as number; j < end; j++) {
      const x = acc[a + (outAcc[j] as number)] as number
      let value: FeatureValue
      switch (outKind[j]) {
        case OUT_ADD:
          // The per-feature fold returns a lone tile as is (0 + -0 would be 0).
          value = n === 1 ? (tiles[b + first * ns + (f.outAt[j] as number)] as number) : x
          break
        case OUT_PAIR:
          value = (f.outCombine[j] as (x: number, y: number) => FeatureValue)(x, acc[a + (f.outPair[j] as number)] as number)
          break
        default:
          value = x !== x ? null : x
      }
      out[outFeature[j] as number] = value
    }
  }
}

/** A feature of an object column over tiles `lo … count − 1` (READ_RANGE or the generic merge fold). */
export function readObjectFeature(
  read: FeatureRead,
  tiles: Float64Array,
  b: number,
  ns: number,
  lo: number,
  count: number,
  objs: readonly unknown[],
  ob: number,
  os: number,
): FeatureValue {
  const n = count - lo
  const at = read.at
  if (read.mode === READ_RANGE)
    return read.finisher.finishRange!(objs, ob + lo * os + at, os, n, tiles, b + lo * ns + read.mirror, ns)
  if (n === 1) return read.finisher.finish(objs[ob + lo * os + at])
  const agg = read.agg
  let acc = agg.init()
  for (let i = lo; i < count; i++) acc = agg.merge(acc, objs[ob + i * os + at])
  return read.finisher.finish(acc)
}

/** Every window read feature by feature, each with its own walk over the window's tiles. */
export function generalGroupReader(lay: GroupLayout): GroupReader {
  const ns = lay.numStride
  const os = lay.objStride
  return (tiles, b, count, top, objs, ob, out) => {
    let nextLoss = Number.NaN
    for (const spec of lay.specs) {
      const lo = firstTileAt(tiles, b, count, ns, top + 1 - spec.tiles)
      const n = count - lo
      if (n === 0) continue
      const loss = ((tiles[b + lo * ns] as number) + spec.tiles) * lay.hopMs
      if (!(loss >= nextLoss)) nextLoss = loss
      for (const read of spec.reads) {
        const at = read.at
        let value: FeatureValue
        switch (read.mode) {
          case READ_PAIR: {
            let x = 0
            let y = 0
            for (let i = lo; i < count; i++) {
              x += tiles[b + i * ns + at] as number
              y += tiles[b + i * ns + read.pairAt] as number
            }
            value = read.combine(x, y)
            break
          }
          case READ_ADD: {
            if (n === 1) {
              value = tiles[b + lo * ns + at] as number
              break
            }
            let s = 0
            for (let i = lo; i < count; i++) s += tiles[b + i * ns + at] as number
            value = s
            break
          }
          case READ_MIN: {
            let m = Number.NaN
            for (let i = lo; i < count; i++) {
              const v = tiles[b + i * ns + at] as number
              if (v < m || m !== m) m = v
            }
            value = m !== m ? null : m
            break
          }
          case READ_MAX: {
            let m = Number.NaN
            for (let i = lo; i < count; i++) {
              const v = tiles[b + i * ns + at] as number
              if (v > m || m !== m) m = v
            }
            value = m !== m ? null : m
            break
          }
          default:
            value = readObjectFeature(read, tiles, b, ns, lo, count, objs, ob, os)
        }
        out[read.featureIndex] = value
      }
    }
    return nextLoss
  }
}
