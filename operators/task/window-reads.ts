/**
 * Reads one hop group's window features of one key from its tiles (view-runner.ts, point 2),
 * and — for groups whose columns are all unboxed — keeps the window folds beside the key.
 *
 * Why the folds: a decay row changes only the windows that lose a tile at its boundary, yet
 * every row carries every feature. Re-folding the groups that lost nothing meant loading their
 * tile regions (a cache miss or more each, on a key untouched for minutes or hours) to compute
 * values the key's previous row already held. So a *cached* group stores, in the key's record
 * (key-state.ts), its next loss boundary and, per window spec, the fold of each numeric column;
 * a decay row re-reads only the groups losing a tile at its boundary and derives the others'
 * features from their folds.
 *
 * Exactness: the folds are the very numbers a read computes (same kernel arithmetic, ascending
 * tiles, from `init()`), and a feature is derived from them by the read's own final step, so a
 * value from the cache is bit for bit the value from the tiles. A group not losing a tile at
 * the boundary b has the same tiles in every window at b as at the key's previous evaluation
 * (its loss boundary is its windows' earliest and lies beyond b), so its folds still hold. The
 * cache is written by every full read — after every state change and on restore — and is never
 * snapshotted: it is a function of the tiles and the clock.
 *
 * Groups with any object column (sketches, lists) are not cached: their values are objects
 * (lists) the record cannot hold without growing the state per key past its budget.
 */
import type { FeatureValue } from '../../features/types.ts'
import type { Aggregator } from '../aggregators/types.ts'
import { firstTileAt, type TileSlab } from './tile-slab.ts'
import { NUM_MAX, NUM_MIN, READ_ADD, READ_MAX, READ_MIN, READ_PAIR, READ_RANGE, type GroupLayout } from './tile-layout.ts'

/** The smaller of two loss boundaries, NaN meaning none. */
export function earlierLoss(a: number, b: number): number {
  return b !== b || a < b ? a : b
}

/**
 * Writes group `lay`'s features of key `id` at clock `t` into `out` (features of empty windows
 * keep their empty value) and returns the group's next loss boundary (NaN: none). A cached
 * group also stores its folds and that boundary in `rec` at `recAt + lay.cacheAt`.
 */
export function readGroup(
  lay: GroupLayout,
  slab: TileSlab,
  id: number,
  t: number,
  out: FeatureValue[],
  rec: Float64Array,
  recAt: number,
): number {
  if (lay.cacheAt >= 0) return foldGroup(lay, slab, id, t, out, rec, recAt)
  let nextLoss = Number.NaN
  const count = slab.count(id)
  if (count === 0) return nextLoss
  const ns = lay.numStride
  const os = lay.objStride
  const slot = slab.slotOf(id)
  const tiles = slab.num[slot >>> slab.pageBits] as Float64Array
  const b = (slot & slab.pageMask) * ns
  const objs = slab.obj[slot >>> slab.pageBits] as unknown[]
  const ob = (slot & slab.pageMask) * os
  const top = Math.floor(t / lay.hopMs)
  for (const spec of lay.specs) {
    const lo = firstTileAt(tiles, b, count, ns, top + 1 - spec.tiles)
    const n = count - lo
    if (n === 0) continue
    nextLoss = earlierLoss(((tiles[b + lo * ns] as number) + spec.tiles) * lay.hopMs, nextLoss)
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
        case READ_RANGE:
          value = read.finisher.finishRange!(objs, ob + lo * os + at, os, n, read.mirror)
          break
        default: {
          if (n === 1) {
            value = read.finisher.finish(objs[ob + lo * os + at])
            break
          }
          const agg: Aggregator = read.agg
          let acc = agg.init()
          for (let i = lo; i < count; i++) acc = agg.merge(acc, objs[ob + i * os + at])
          value = read.finisher.finish(acc)
        }
      }
      out[read.featureIndex] = value
    }
  }
  return nextLoss
}

/** A cached group: folds every numeric column per window spec into the record, then reads from it. */
function foldGroup(
  lay: GroupLayout,
  slab: TileSlab,
  id: number,
  t: number,
  out: FeatureValue[],
  rec: Float64Array,
  recAt: number,
): number {
  const count = slab.count(id)
  const ns = lay.numStride
  const nc = ns - 1
  const kinds = lay.numKind
  const inits = lay.numInits
  const slot = slab.slotOf(id)
  const tiles = slab.num[slot >>> slab.pageBits] as Float64Array
  const b = (slot & slab.pageMask) * ns
  const top = Math.floor(t / lay.hopMs)
  const specs = lay.specs
  let nextLoss = Number.NaN
  for (let s = 0; s < specs.length; s++) {
    const tilesInWindow = specs[s]!.tiles
    const lo = count === 0 ? 0 : firstTileAt(tiles, b, count, ns, top + 1 - tilesInWindow)
    if (lo < count) nextLoss = earlierLoss(((tiles[b + lo * ns] as number) + tilesInWindow) * lay.hopMs, nextLoss)
    const foldAt = recAt + lay.cacheAt + 1 + s * nc
    for (let j = 0; j < nc; j++) {
      const kind = kinds[j]
      let acc = inits[j] as number
      for (let i = lo; i < count; i++) {
        const v = tiles[b + i * ns + 1 + j] as number
        if (kind === NUM_MAX) {
          if (v > acc || acc !== acc) acc = v
        } else if (kind === NUM_MIN) {
          if (v < acc || acc !== acc) acc = v
        } else {
          acc += v
        }
      }
      rec[foldAt + j] = acc
    }
  }
  rec[recAt + lay.cacheAt] = nextLoss
  return readCached(lay, rec, recAt, out)
}

/** A cached group's features from its folds in the record; returns its stored loss boundary. */
export function readCached(lay: GroupLayout, rec: Float64Array, recAt: number, out: FeatureValue[]): number {
  const nc = lay.numStride - 1
  const specs = lay.specs
  for (let s = 0; s < specs.length; s++) {
    // Read positions are 1-based in the numeric tile (slot 0 is the tile index).
    const f = recAt + lay.cacheAt + s * nc
    for (const read of specs[s]!.reads) {
      const x = rec[f + read.at] as number
      switch (read.mode) {
        case READ_PAIR:
          out[read.featureIndex] = read.combine(x, rec[f + read.pairAt] as number)
          break
        case READ_ADD:
          out[read.featureIndex] = x
          break
        default:
          // READ_MIN / READ_MAX: NaN is the empty fold.
          out[read.featureIndex] = x !== x ? null : x
      }
    }
  }
  return rec[recAt + lay.cacheAt] as number
}
