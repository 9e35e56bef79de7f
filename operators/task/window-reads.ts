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
 * `generalGroupReader` keeps the per-feature reader whole: the reference the fused one is
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

/** One reader per group of the layouts, fused where the group has numeric reads. */
export function fusedGroupReaders(layouts: readonly GroupLayout[]): GroupReader[] {
  return layouts.map((lay) => (lay.specs.some((s) => s.reads.some(isNumeric)) ? fusedGroupReader(lay) : generalGroupReader(lay)))
}

/** One per-feature reader per group (the reference of the fused one). */
export function generalGroupReaders(layouts: readonly GroupLayout[]): GroupReader[] {
  return layouts.map(generalGroupReader)
}

function isNumeric(read: FeatureRead): boolean {
  return read.mode === READ_PAIR || read.mode === READ_ADD || read.mode === READ_MIN || read.mode === READ_MAX
}

/** A numeric feature's value out of its window's accumulators (`acc`: the first column's, `pair`: the second's). */
const OUT_ADD = 0
const OUT_PAIR = 1
const OUT_MINMAX = 2

function fusedGroupReader(lay: GroupLayout): GroupReader {
  // The folded columns, additive ones first, then maxima, then minima: three loops without a switch.
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
  const nAdd = adds.length
  const nMax = maxes.length
  const cols = colAt.length
  const colOf = (at: number): number => colAt.indexOf(at)
  const specs = lay.specs
  const nSpecs = specs.length
  const specTiles = Int32Array.from(specs, (s) => s.tiles)
  // Per spec, its numeric features: where the value goes, how it is made, from which accumulators.
  const outFeature = specs.map((s) => Int32Array.from(s.reads.filter(isNumeric), (r) => r.featureIndex))
  const outKind = specs.map((s) =>
    Int8Array.from(s.reads.filter(isNumeric), (r) =>
      r.mode === READ_PAIR ? OUT_PAIR : r.mode === READ_ADD ? OUT_ADD : OUT_MINMAX,
    ),
  )
  const outAcc = specs.map((s) => Int32Array.from(s.reads.filter(isNumeric), (r) => colOf(r.at)))
  const outPair = specs.map((s) =>
    Int32Array.from(s.reads.filter(isNumeric), (r) => (r.mode === READ_PAIR ? colOf(r.pairAt) : 0)),
  )
  const outAt = specs.map((s) => Int32Array.from(s.reads.filter(isNumeric), (r) => r.at))
  const outCombine = specs.map((s) => s.reads.filter(isNumeric).map((r) => r.combine))
  const objectReads = specs.map((s) => s.reads.filter((r) => !isNumeric(r)))
  const ns = lay.numStride
  const os = lay.objStride
  const hopMs = lay.hopMs
  // Reused across rows: the first tile of each window and the accumulators, window after window.
  const lo = new Int32Array(nSpecs)
  const acc = new Float64Array(nSpecs * cols)
  return (tiles, b, count, top, objs, ob, out) => {
    let nextLoss = Number.NaN
    // Specs ascend by length, so their first tiles descend: `from` is the longest non-empty window's.
    let from = count
    let widest = -1
    for (let s = 0; s < nSpecs; s++) {
      const tilesOfSpec = specTiles[s] as number
      const first = firstTileAt(tiles, b, count, ns, top + 1 - tilesOfSpec)
      lo[s] = first
      if (first === count) continue
      const loss = ((tiles[b + first * ns] as number) + tilesOfSpec) * hopMs
      if (!(loss >= nextLoss)) nextLoss = loss
      from = first
      widest = s
    }
    if (widest < 0) return nextLoss
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
      for (let c = nAdd; c < nAdd + nMax; c++) {
        const v = tiles[t + (colAt[c] as number)] as number
        for (let s = active; s <= widest; s++) {
          const m = acc[s * cols + c] as number
          if (v > m || m !== m) acc[s * cols + c] = v
        }
      }
      for (let c = nAdd + nMax; c < cols; c++) {
        const v = tiles[t + (colAt[c] as number)] as number
        for (let s = active; s <= widest; s++) {
          const m = acc[s * cols + c] as number
          if (v < m || m !== m) acc[s * cols + c] = v
        }
      }
    }
    for (let s = 0; s <= widest; s++) {
      const first = lo[s] as number
      const n = count - first
      if (n === 0) continue
      const a = s * cols
      const features = outFeature[s] as Int32Array
      const kinds = outKind[s] as Int8Array
      const accOf = outAcc[s] as Int32Array
      for (let j = 0; j < features.length; j++) {
        const x = acc[a + (accOf[j] as number)] as number
        let value: FeatureValue
        switch (kinds[j]) {
          case OUT_ADD:
            // The per-feature fold returns a lone tile as is (0 + -0 would be 0).
            value = n === 1 ? (tiles[b + first * ns + ((outAt[s] as Int32Array)[j] as number)] as number) : x
            break
          case OUT_PAIR:
            value = (outCombine[s] as ((x: number, y: number) => FeatureValue)[])[j]!(
              x,
              acc[a + ((outPair[s] as Int32Array)[j] as number)] as number,
            )
            break
          default:
            value = x !== x ? null : x
        }
        out[features[j] as number] = value
      }
      const others = objectReads[s] as FeatureRead[]
      for (let j = 0; j < others.length; j++) {
        const read = others[j] as FeatureRead
        out[read.featureIndex] = readObjectFeature(read, tiles, b, ns, first, count, objs, ob, os)
      }
    }
    return nextLoss
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
