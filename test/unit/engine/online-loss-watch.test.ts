/**
 * The loss watch on its own (engine/online-loss-watch.ts), over an in-memory store that forgets:
 * - two members of one group converge on one marker generation after a loss one of them saw —
 *   the other reloads too (its own partitions' rows), and neither keeps re-planting for the other;
 * - a key the engine writes while the reload runs keeps the engine's row, even on an `as_of` tie
 *   with the table's row (the engine's is the later one in archive order): the reload skips it;
 * - a store that refuses the first checks (a client still connecting) is asked again at start, so
 *   a loss right after it is told from the group's first run;
 * - evictions at every check (a Redis kept at maxmemory) reload at most once per
 *   EVICTION_RELOAD_GAP_MS, and the deferred loss is reloaded once the gap passed.
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { systemClock, type Clock } from '../../../core/clock.ts'
import { silentLogger } from '../../../core/logger.ts'
import { userPurchases } from '../../../examples/features.ts'
import type { FeatureRow, FeatureViewDef, StampedRow } from '../../../features/types.ts'
import { createEngineStats } from '../../../engine/engine-stats.ts'
import { createOnlineLossWatch, EVICTION_RELOAD_GAP_MS, type OnlineLossWatch } from '../../../engine/online-loss-watch.ts'
import type { OnlineStore } from '../../../ports/online-store.ts'
import { ForgetfulOnlineStore } from '../../support/forgetful-online-store.ts'
import { latestRowsOf } from '../../support/latest-rows-of.ts'

const view = userPurchases
const row = (entityKey: string, asOfMs: number, first: number): StampedRow => ({
  entityKey,
  asOfMs,
  createdAtMs: 0,
  values: view.features.map((_, i) => (i === 0 ? first : null)),
})
const table = new Map<string, StampedRow[]>([
  ['u1', [row('u1', 50, 1), row('u1', 100, 2)]],
  ['u2', [row('u2', 70, 3)]],
])

function watch(
  online: OnlineStore,
  name: string,
  checkpointAll: () => Promise<void> = async () => {},
  clock: Clock = systemClock,
): { watch: OnlineLossWatch; stats: ReturnType<typeof createEngineStats> } {
  const stats = createEngineStats()
  let n = 0
  const w = createOnlineLossWatch({
    online,
    rows: { readLatestFeatureRows: async (v: FeatureViewDef, o) => latestRowsOf(v === view ? table : new Map(), o) },
    views: [view],
    groupId: 'g',
    clock,
    logger: silentLogger,
    stats,
    checkIntervalMs: 0,
    checkpointAll,
    newGeneration: () => `${name}${++n}`,
  })
  return { watch: w, stats }
}

const firstValues = async (online: OnlineStore): Promise<unknown[]> =>
  (
    await online.readRows(
      ['u1', 'u2'].map((entityKey) => ({ view, entityKey, features: [view.features[0]!.name] })),
      0,
    )
  ).map((r) => r.values[0])
const losses = (stats: ReturnType<typeof createEngineStats>) => Object.values(stats.onlineLosses).reduce((a, b) => a + b, 0)

void describe('online loss watch', () => {
  void test('two members of a group: the one that sees the loss plants a generation, the other adopts it, neither re-plants for the other', async () => {
    const store = new ForgetfulOnlineStore()
    const a = watch(store, 'a')
    const b = watch(store, 'b')
    await a.watch.start() // the group's first start: rows found, so counted once
    await b.watch.start()
    assert.deepEqual(await firstValues(store), [2, 3])
    assert.equal(losses(a.stats), 1)
    assert.equal(losses(b.stats), 0)
    store.forget('flush')
    // start() is "check now and wait" here: the engine polls it on its tick.
    await b.watch.start()
    await a.watch.start()
    assert.deepEqual(b.stats.onlineLosses, { marker_missing: 1 })
    assert.deepEqual(a.stats.onlineLosses, { marker_missing: 1, marker_replaced: 1 })
    for (let i = 0; i < 3; i++) {
      await a.watch.start()
      await b.watch.start()
    }
    assert.equal(losses(a.stats), 2)
    assert.equal(losses(b.stats), 1)
    assert.deepEqual(await firstValues(store), [2, 3])
  })

  void test("a key the engine writes during the reload keeps the engine's row, an as_of tie included", async () => {
    const store = new ForgetfulOnlineStore()
    const engine: { row?: FeatureRow } = {}
    // The engine writes u1 while the reload runs (after its checkpoint): same as_of as the table's latest, another value.
    const w = watch(store, 'w', async () => {
      if (engine.row) await w.watch.online.writeRows(view, [engine.row])
    })
    await w.watch.start()
    store.forget('flush')
    engine.row = row('u1', 100, 9)
    await w.watch.start()
    assert.deepEqual(await firstValues(store), [9, 3])
    assert.equal(w.stats.onlineLosses.marker_missing, 2)
  })

  void test('evictions at every check reload at most once per gap; the deferred loss is reloaded after it', async () => {
    const store = new ForgetfulOnlineStore()
    let nowMs = 1_000_000
    const w = watch(store, 'e', async () => {}, { nowMs: () => nowMs, sleep: systemClock.sleep })
    await w.watch.start()
    const reloadedBefore = w.stats.onlineReloadedRows
    store.evict(1)
    await w.watch.start()
    assert.equal(w.stats.onlineLosses.keys_evicted, 1)
    const afterFirst = w.stats.onlineReloadedRows
    assert.ok(afterFirst > reloadedBefore, 'the first eviction reloads')
    assert.deepEqual(await firstValues(store), [2, 3])
    // Evicted again inside the gap: counted, not reloaded (the rows stay gone for now), at every check.
    for (let i = 0; i < 3; i++) {
      nowMs += EVICTION_RELOAD_GAP_MS / 10
      store.evict(1)
      await w.watch.start()
    }
    assert.equal(w.stats.onlineLosses.keys_evicted, 2)
    assert.equal(w.stats.onlineReloadedRows, afterFirst)
    assert.deepEqual(await firstValues(store), [null, null])
    // Once the gap passed, the pending loss is reloaded without a new eviction.
    nowMs += EVICTION_RELOAD_GAP_MS
    await w.watch.start()
    assert.ok(w.stats.onlineReloadedRows > afterFirst)
    assert.deepEqual(await firstValues(store), [2, 3])
  })

  void test('a store refusing the first checks at start is asked again: a loss right after is a loss, not a first run', async () => {
    const store = new ForgetfulOnlineStore()
    let refusals = 2
    const connecting: OnlineStore = {
      writeRows: (v, rows) => store.writeRows(v, rows),
      readRows: async (lookups) => {
        if (refusals > 0) {
          refusals--
          throw new Error("Stream isn't writeable and enableOfflineQueue options is false")
        }
        return store.readRows(lookups)
      },
      close: () => store.close(),
    }
    const w = watch(connecting, 'c')
    await w.watch.start() // the group's first start, once the store answers: rows found, counted once
    assert.equal(refusals, 0)
    assert.deepEqual(w.stats.onlineLosses, { marker_missing: 1 })
    store.forget('flush')
    await w.watch.start() // "check now and wait", as above
    assert.deepEqual(w.stats.onlineLosses, { marker_missing: 2 })
    assert.deepEqual(await firstValues(store), [2, 3])
  })
})
