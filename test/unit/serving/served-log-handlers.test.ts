import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { EmbeddedOnlineStore } from '../../../adapters/online-store/embedded/embedded-online-store.ts'
import { createFeatureCatalog } from '../../../serving/feature-catalog.ts'
import * as handlers from '../../../serving/handlers/get-features.ts'
import type { FeatureHandlerDeps } from '../../../serving/handlers/get-features.ts'

// The handlers answer with the response's JSON text; these tests read it back as the client would.
const getFeatures = async (...args: Parameters<typeof handlers.getFeatures>): Promise<unknown> => JSON.parse((await handlers.getFeatures(...args)).text)
const getViewFeatures = async (...args: Parameters<typeof handlers.getViewFeatures>): Promise<unknown> => JSON.parse((await handlers.getViewFeatures(...args)).text)
import type { ServedLogRecorder, ServedRecord } from '../../../serving/served-log/index.ts'
import { feature, row, view } from '../../contracts/online-store.ts'
import { allViews, itemStats, rankingService, spendPerClick, userEntity, userStats } from './fixtures.ts'

const NOW = 1_700_000_000_000

function recorder(sampled: (id: string) => boolean): ServedLogRecorder & { records: ServedRecord[] } {
  const records: ServedRecord[] = []
  return { records, isSampled: sampled, record: (rs) => void records.push(...rs) }
}

async function setup(views = allViews, log?: ServedLogRecorder) {
  const clock = { nowMs: () => NOW, sleep: async () => {} }
  const store = new EmbeddedOnlineStore({ clock })
  await store.writeRows(userStats, [row('u1', NOW - 1000, [7, 12.5, 'Oslo'])])
  await store.writeRows(itemStats, [row('9', NOW - 50, [20, ['u1', 'u2']])])
  const deps: FeatureHandlerDeps = {
    catalog: createFeatureCatalog({ views, services: [rankingService], requestFeatures: [spendPerClick] }),
    store,
    clock,
    maxLookups: 100,
    servedLog: log,
  }
  return { deps, store }
}

void describe('serving > served log > handlers', () => {
  void test('a sampled batch records every lookup with the values it returned', async () => {
    const log = recorder(() => true)
    const { deps } = await setup(allViews, log)
    const body = (await getFeatures({ entities: { user_id: ['u1', 'u2'], item_id: [9] }, features: ['user_stats:clicks_1h', 'user_stats:last_city', 'item_stats:price'] }, deps, 'req-1')) as {
      rows: { values: unknown[] }[]
    }
    const byKey = new Map(log.records.map((r) => [`${r.viewName}|${r.entityKey}`, r]))
    assert.equal(log.records.length, 3, 'u1, u2 for user_stats and one shared item lookup')
    assert.ok(log.records.every((r) => r.requestId === 'req-1' && r.servedAtMs === NOW))
    const u1 = byKey.get('user_stats|u1')!
    assert.deepEqual([u1.viewVersion, u1.status, u1.asOfMs, u1.features, u1.values], [1, 'PRESENT', NOW - 1000, ['clicks_1h', 'last_city'], [7, 'Oslo']])
    assert.deepEqual(body.rows[0]!.values, [u1.values[0], u1.values[1], byKey.get('item_stats|9')!.values[0]])
    const u2 = byKey.get('user_stats|u2')!
    assert.deepEqual([u2.status, u2.asOfMs, u2.values], ['MISSING', null, [null, null]])
  })

  void test('unsampled requests, and requests without an id, record nothing', async () => {
    const log = recorder((id) => id === 'yes')
    const { deps } = await setup(allViews, log)
    await getFeatures({ entities: { user_id: ['u1'] }, features: ['user_stats:clicks_1h'] }, deps, 'no')
    await getFeatures({ entities: { user_id: ['u1'] }, features: ['user_stats:clicks_1h'] }, deps)
    await getViewFeatures({ view: 'user_stats', entityKey: 'u1' }, deps, 'no')
    assert.equal(log.records.length, 0)
    await getViewFeatures({ view: 'user_stats', entityKey: 'u1' }, deps, 'yes')
    assert.deepEqual(
      log.records.map((r) => [r.requestId, r.viewName, r.entityKey, r.features, r.values]),
      [['yes', 'user_stats', 'u1', ['clicks_1h', 'spend_1h', 'last_city'], [7, 12.5, 'Oslo']]],
    )
  })

  void test('a request that fails after the read logs nothing', async () => {
    const log = recorder(() => true)
    const { deps } = await setup(allViews, log)
    const throwing = { ...spendPerClick, name: 'boom', fn: () => { throw new Error('bad input') } }
    const failing = { ...deps, catalog: createFeatureCatalog({ views: allViews, requestFeatures: [throwing] }) }
    await assert.rejects(getFeatures({ entities: { user_id: ['u1'], item_id: [9] }, features: ['boom'], request: { discount: 0.1 } }, failing, 'req-x'), { name: 'RequestFeatureFailure', feature: 'boom' })
    assert.equal(log.records.length, 0)
    await getFeatures({ entities: { user_id: ['u1'], item_id: [9] }, features: ['discounted_price'], request: { discount: 0.1 } }, deps, 'req-y')
    assert.deepEqual(log.records.map((r) => r.viewName).sort(), ['item_stats', 'user_stats'], 'request-feature inputs are logged as lookups')
  })

  void test('two versions of one view in one request: distinct view keys, each version its own values', async () => {
    const v2 = view('user_stats', [feature('clicks_1h', 'long'), feature('spend_1h', 'double'), feature('last_city', 'string')], { entity: userEntity, ttlMs: 3_600_000, version: 2 })
    const { deps, store } = await setup([...allViews, v2])
    await store.writeRows(v2, [row('u1', NOW - 10, [70, 125, 'Bergen'])])
    const body = (await getFeatures({ entities: { user_id: ['u1'], item_id: [9] }, features: ['user_stats@1:clicks_1h', 'user_stats@2:clicks_1h', 'item_stats:price'] }, deps)) as {
      features: string[]
      rows: { values: unknown[]; views: Record<string, { as_of: number }> }[]
    }
    assert.deepEqual(body.features, ['user_stats@1:clicks_1h', 'user_stats@2:clicks_1h', 'item_stats:price'])
    assert.deepEqual(body.rows[0]!.values, [7, 70, 20])
    assert.deepEqual(Object.keys(body.rows[0]!.views), ['user_stats@1', 'user_stats@2', 'item_stats'])
    assert.equal(body.rows[0]!.views['user_stats@1']!.as_of, NOW - 1000)
    assert.equal(body.rows[0]!.views['user_stats@2']!.as_of, NOW - 10)
    // The common case keeps plain view names; a plain name is the latest served version.
    const plain = (await getFeatures({ entities: { user_id: ['u1'] }, features: ['user_stats:clicks_1h'] }, deps)) as { rows: { values: unknown[]; views: object }[] }
    assert.deepEqual([Object.keys(plain.rows[0]!.views), plain.rows[0]!.values], [['user_stats'], [70]])
  })
})
