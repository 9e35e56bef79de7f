/**
 * A live checkpoint older than its tables (docs/semantics.md §14) from before a view was adopted
 * from its backfill: live partitions run user_purchases alone, short_spend (whose windows close on
 * idle markers) is backfilled from their archive, and live runs both — adopting the backfill and
 * catching the view up from the archive. Then each partition's checkpoint directory is put back as of
 * each checkpoint it took — before the adoption (the checkpoint knows only user_purchases: the view
 * is adopted again from its backfill, and its table already holds rows past it) and after — and
 * every partition runs to the stream's end. Offline rows, each view's dead letters and the archives
 * must be an uninterrupted run's of both views.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { userPurchases } from '../../../examples/features.ts'
import { readFeatureRowsByEntity } from '../../../adapters/offline/iceberg/feature-rows.ts'
import { PARTITIONS, shortSpend, streamOf } from '../../support/deploy-sequence.ts'
import {
  BackedUpStore,
  checkpointDir,
  GROUP,
  letterList,
  Line,
  restoreBackup,
  runToEnd,
} from '../../support/stale-checkpoints.ts'
import { assertSameRows } from '../../support/scenario.ts'

const VIEWS = [userPurchases, shortSpend]
void test('live checkpoints restored from before and after a backfill was adopted: as uninterrupted', async (t) => {
  const { items, decoder, dispose } = await streamOf(9, 160)
  t.after(dispose)
  const oracle = new Line(new BackedUpStore(), items, decoder)
  await runToEnd(oracle, VIEWS, 13)
  // Where live stops before the backfill, and after it with both views (fractions of each partition's items).
  for (const [a, b] of [
    [0.3, 0.6],
    [0.5, 0.7],
  ] as const) {
    const orig = new Line(new BackedUpStore(), items, decoder)
    for (let p = 0; p < PARTITIONS; p++)
      await orig.live(p, [userPurchases], { until: Math.floor(items[p]!.length * a), every: 5 })
    await orig.backfill(shortSpend, 9)
    for (let p = 0; p < PARTITIONS; p++) await orig.live(p, VIEWS, { until: Math.floor(items[p]!.length * b), every: 5 })
    for (let p = 0; p < PARTITIONS; p++) {
      const backups = [...orig.store.backups.get(checkpointDir(GROUP, p))!].sort(([x], [y]) => x - y)
      const before = orig.store.backups.get(checkpointDir(GROUP, p))!
      assert.ok(before.size >= 4, `partition ${p}: ${before.size} checkpoints, some before the adoption wanted`)
      for (const [k, backup] of backups) {
        await t.test(`live to ${a}, backfill, both to ${b}: partition ${p} restored as of checkpoint ${k}`, async () => {
          const line = await orig.copy()
          await restoreBackup(line.store, checkpointDir(GROUP, p), backup)
          await runToEnd(line, VIEWS, 7)
          for (const view of VIEWS) {
            const expected = await readFeatureRowsByEntity(oracle.store.inner, view)
            assertSameRows(await readFeatureRowsByEntity(line.store.inner, view), expected, `${view.name} offline`)
            assert.deepEqual(letterList(line.letters, view.name), letterList(oracle.letters, view.name), `${view.name} letters`)
          }
          for (let q = 0; q < PARTITIONS; q++) assert.deepEqual(await line.archive(q), await oracle.archive(q), `archive ${q}`)
        })
      }
    }
  }
})
