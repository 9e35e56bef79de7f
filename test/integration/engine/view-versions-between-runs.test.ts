/**
 * On real Kafka and S3, a view's definition changed between runs and changed back
 * (docs/semantics.md §14 "A view dropped and added again", §27): v1 runs live; v2 (a feature added)
 * is published and run in v1's place — backfilled from the archive by `kfs run` and handed over to
 * live; then the module is rolled back to v1, which catches up from the archive over the stretch it
 * missed; then v2 again. After each run every version that ran holds offline exactly the rows of
 * one uninterrupted run over the records so far — none missing, none twice — and its online row
 * per key is the last of them.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { FeatureViewDef } from '../../../features/types.ts'
import { readFeatureRowsByEntity } from '../../../adapters/offline/iceberg/feature-rows.ts'
import { createEngineScenario } from '../../support/engine-scenario.ts'
import { runKfs } from '../../support/kfs-process.ts'
import {
  assertOnlineHoldsLastRows,
  assertSameRows,
  expectedRowsByEntity,
  generatePurchases,
  type ProducedRecord,
} from '../../support/scenario.ts'

void test('a view changed to v2 between runs, rolled back to v1, then forward again: each version holds every row once', async () => {
  const scenario = await createEngineScenario()
  try {
    const { source, env, store, online, view: v1 } = scenario
    const { userPurchasesV2: v2 } = (await import('../../fixtures/features/run-scoped-v2.ts')) as {
      userPurchasesV2: FeatureViewDef
    }
    assert.equal(v2.name, v1.name)
    const withV2 = { ...env, KFS_FEATURES: 'test/fixtures/features/run-scoped-v2.ts' }
    const runArgs = [...scenario.runArgs, '--until-caught-up', '--idle', '1s']
    const events = generatePurchases({ count: 2_000, users: 60, seed: 61 })
    const produced: ProducedRecord[] = []
    const check = async (view: FeatureViewDef, what: string) => {
      const expected = expectedRowsByEntity([view], source, produced).get(view.name)!
      assertSameRows(await readFeatureRowsByEntity(store, view), expected, `${what}: v${view.version} offline`)
      await assertOnlineHoldsLastRows(online, view, expected)
    }

    produced.push(...(await scenario.produce(events.slice(0, 600))))
    await runKfs(runArgs, env)
    await check(v1, 'v1 live')

    const refused = await runKfs(runArgs, withV2).catch((err: Error) => err.message)
    assert.match(
      String(refused),
      /user_purchases_\S+ v2 is not published: run `kfs apply` first/,
      'an unpublished version does not run',
    )
    await runKfs(['apply'], withV2)
    produced.push(...(await scenario.produce(events.slice(600, 1_100))))
    await runKfs(runArgs, withV2)
    await check(v2, 'v2 backfilled and handed over')

    produced.push(...(await scenario.produce(events.slice(1_100, 1_600))))
    await runKfs(runArgs, env)
    await check(v1, 'v1 rolled back')

    produced.push(...(await scenario.produce(events.slice(1_600))))
    await runKfs(runArgs, withV2)
    await check(v2, 'v2 rolled forward')
  } finally {
    await scenario.close()
  }
})
