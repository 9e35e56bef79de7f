/**
 * Per-view state layout inside an operator snapshot (after partition-task.ts's header):
 *   str   plan fingerprint (restore refuses a different plan)
 *   uvarint key count, then per key, in key-byte order (so equal state → equal bytes):
 *     str key, f64 clock c, f64 timerMs (NaN = none),
 *     per hop group: uvarint tile count, per tile: svarint tile index, then each column's
 *       accumulator in the aggregator's declared encoding,
 *     if the view has lifetime features: each lifetime column's accumulator.
 * Timers are rebuilt from the keys' timerMs; the last emitted rows are not stored because the
 * view derives them from the state (view-runner.ts, point 4).
 */
import type { ByteReader, ByteWriter } from '../codec/bytes.ts'
import { CheckpointError } from '../../core/errors.ts'
import type { Tile } from './key-state.ts'
import { compareKeyBytes } from './key-order.ts'
import type { ViewRunner } from './view-runner.ts'

export function encodeViewState(runner: ViewRunner, w: ByteWriter): void {
  const plan = runner.plan
  w.str(plan.fingerprint)
  const keys = [...runner.keys.keys()].sort(compareKeyBytes)
  w.uvarint(keys.length)
  for (const key of keys) {
    const s = runner.keys.get(key)!
    w.str(key)
    w.f64(s.c)
    w.f64(s.timerMs)
    plan.groups.forEach((group, g) => {
      const tiles = s.groups[g] as Tile[]
      w.uvarint(tiles.length)
      for (const tile of tiles) {
        w.svarint(tile[0] as number)
        group.columns.forEach((col, j) => col.agg.encode(tile[j + 1], w))
      }
    })
    if (s.life !== null) plan.lifetimeColumns.forEach((col, j) => col.agg.encode(s.life![j], w))
  }
}

export function decodeViewState(runner: ViewRunner, r: ByteReader): void {
  const plan = runner.plan
  const fingerprint = r.str()
  if (fingerprint !== plan.fingerprint) {
    throw new CheckpointError('CHECKPOINT_CORRUPT', `operator snapshot of view ${plan.view.name} was taken with a different feature plan`)
  }
  const n = r.uvarint()
  for (let i = 0; i < n; i++) {
    const key = r.str()
    const c = r.f64()
    const timerMs = r.f64()
    const s = runner.newKeyState(key, c)
    plan.groups.forEach((group, g) => {
      const tiles = s.groups[g] as Tile[]
      const count = r.uvarint()
      for (let t = 0; t < count; t++) {
        const k = r.svarint()
        const tile = new Array<unknown>(group.columns.length + 1)
        tile[0] = k
        group.columns.forEach((col, j) => (tile[j + 1] = col.agg.decode(r)))
        tiles.push(tile)
      }
    })
    if (s.life !== null) plan.lifetimeColumns.forEach((col, j) => (s.life![j] = col.agg.decode(r)))
    runner.keys.set(key, s)
    runner.timers.schedule(s, timerMs)
  }
}
