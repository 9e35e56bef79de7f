/**
 * Per-view state layout inside an operator snapshot (after partition-task.ts's header):
 *   str   plan fingerprint (restore refuses a different plan)
 *   uvarint key count, then per key, in key-byte order (so equal state → equal bytes):
 *     str key, f64 clock c, f64 timerMs (NaN = none),
 *     per hop group: uvarint tile count, per tile: svarint tile index, then each column's
 *       accumulator in the aggregator's declared encoding,
 *     if the view has lifetime features: each lifetime column's accumulator.
 * A checkpoint delta (state-delta.ts) holds changed keys' entries in this same per-key layout.
 * Timers are rebuilt from the keys' timerMs; the last emitted rows are not stored because the
 * view derives them from the state (view-runner.ts, point 4).
 */
import type { ByteReader, ByteWriter } from '../codec/bytes.ts'
import { CheckpointError } from '../../core/errors.ts'
import { sortKeysByBytes } from './key-order.ts'
import { EntryWriter } from './entry-writer.ts'
import type { KeyedStateAccess } from './state-delta.ts'
import type { ViewRunner } from './view-runner.ts'
import type { TileSlab } from './tile-slab.ts'

export function encodeViewState(runner: ViewRunner, w: ByteWriter): void {
  w.str(runner.plan.fingerprint)
  const table = runner.table
  const keys = sortKeysByBytes([...table.ids.keys()], table.hasHighKeys)
  w.uvarint(keys.length)
  const entries = new EntryWriter(runner)
  for (const key of keys) entries.write(table.ids.get(key) as number, key, w)
}

/** Up to `maxKeys` keys' entries, in the table's order (not a snapshot: TaskViewRunner.encodeSample). */
export function encodeSampleEntries(runner: ViewRunner, w: ByteWriter, maxKeys: number): number {
  const entries = new EntryWriter(runner)
  let n = 0
  for (const [key, id] of runner.table.ids) {
    if (n >= maxKeys) break
    entries.write(id, key, w)
    n++
  }
  return n
}

export function decodeViewState(runner: ViewRunner, r: ByteReader): void {
  const plan = runner.plan
  const fingerprint = r.str()
  if (fingerprint !== plan.fingerprint) {
    throw new CheckpointError('CHECKPOINT_CORRUPT', `operator snapshot of view ${plan.view.name} was taken with a different feature plan`)
  }
  const n = r.uvarint()
  for (let i = 0; i < n; i++) decodeKeyEntry(runner, r, false)
}

/** One key's entry; `replacing`: a delta's entry, which replaces the key's state if it holds one. */
function decodeKeyEntry(runner: ViewRunner, r: ByteReader, replacing: boolean): void {
  const plan = runner.plan
  const table = runner.table
  const key = r.str()
  const c = r.f64()
  const timerMs = r.f64()
  const held = table.ids.get(key)
  if (held !== undefined) {
    if (!replacing) throw new CheckpointError('CHECKPOINT_CORRUPT', `operator snapshot of view ${plan.view.name} repeats a key`)
    table.drop(held)
  }
  const id = runner.addKey(key, c)
  plan.groups.forEach((group, g) => {
    const lay = runner.layouts[g]!
    const count = r.uvarint()
    if (count > lay.maxTiles + 1) throw new CheckpointError('CHECKPOINT_CORRUPT', `operator snapshot of view ${plan.view.name} holds too many tiles`)
    if (count === 0) return
    // The key is new (added above): its group g is empty, so the tiles open at position 0.
    const base = table.regions.openTiles(id, g, 0, count)
    const tiles = table.regions.pageOf(id)
    table.objSlabs[g]?.allocate(id, count)
    const { objs, ob } = objectTiles(table.objSlabs[g], id)
    for (let t = 0; t < count; t++) {
      tiles[base + t * lay.numStride] = r.svarint()
      group.columns.forEach((col, j) => {
        const place = lay.placeOf[j] as number
        const acc = col.agg.decode(r)
        if (lay.isNum[j] === 1) tiles[base + t * lay.numStride + place] = acc as number
        else objs[ob + t * lay.objStride + place] = acc
        const mirror = lay.isNum[j] === 1 ? -1 : (lay.objMirror[place] as number)
        if (mirror > 0) tiles[base + t * lay.numStride + mirror] = col.agg.mirror!(acc)
      })
    }
  })
  const life = table.life[id]
  if (life !== null && life !== undefined) plan.lifetimeColumns.forEach((col, j) => (life[j] = col.agg.decode(r)))
  runner.timers.schedule(id, timerMs)
  // The stored timer is the loss boundary whenever the tiles have one (view-runner.ts, point 3).
  table.setLossTimer(id, !Number.isNaN(runner.nextLossMs(id)))
}

/** Key `id`'s object tiles of a group: their page and first slot's offset (none: an empty page). */
function objectTiles(slab: TileSlab | null | undefined, id: number): { objs: unknown[]; ob: number } {
  if (slab === null || slab === undefined) return { objs: [], ob: 0 }
  const slot = slab.slotOf(id)
  return { objs: slab.obj[slot >>> slab.pageBits] as unknown[], ob: (slot & slab.pageMask) * slab.os }
}

/** The view's keyed state as a checkpoint delta reads and writes it (state-delta.ts). */
export function viewStateAccess(runner: ViewRunner): KeyedStateAccess {
  const table = runner.table
  const entries = new EntryWriter(runner)
  return {
    viewName: runner.plan.view.name,
    fingerprint: runner.plan.fingerprint,
    has: (key) => table.ids.has(key),
    encodeEntry: (key, w) => entries.write(table.ids.get(key) as number, key, w),
    decodeEntry: (r) => decodeKeyEntry(runner, r, true),
    remove: (key) => {
      const id = table.ids.get(key)
      if (id !== undefined) table.drop(id)
    },
  }
}
