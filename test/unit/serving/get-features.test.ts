import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { encodeEntityKey } from '../../../core/entity-key.ts'
import { featureMessageJson } from '../../../core/feature-json.ts'
import { SourceError } from '../../../core/errors.ts'
import type { OnlineStore } from '../../../ports/online-store.ts'
import { EmbeddedOnlineStore } from '../../../adapters/online-store/embedded/embedded-online-store.ts'
import { createFeatureCatalog } from '../../../serving/feature-catalog.ts'
import * as handlers from '../../../serving/handlers/get-features.ts'
import type { FeatureHandlerDeps } from '../../../serving/handlers/get-features.ts'

// The handlers answer with the response's JSON text; these tests read it back as the client would.
const getFeatures = async (...args: Parameters<typeof handlers.getFeatures>): Promise<unknown> => JSON.parse((await handlers.getFeatures(...args)).text)
const getViewFeatures = async (...args: Parameters<typeof handlers.getViewFeatures>): Promise<unknown> => JSON.parse((await handlers.getViewFeatures(...args)).text)
import { HotCache } from '../../../serving/hot-cache.ts'
import { row } from '../../contracts/online-store.ts'
import { allViews, itemStats, rankingService, spendPerClick, userItem, userStats } from './fixtures.ts'

const NOW = 1_700_000_000_000

async function setup(options: { cache?: HotCache } = {}) {
  let now = NOW
  const clock = { nowMs: () => now, sleep: async () => {} }
  const store = new EmbeddedOnlineStore({ clock })
  await store.writeRows(userStats, [row('u1', NOW - 1000, [7, 12.5, 'Oslo']), row('old', NOW - 3_600_000, [1, 1, 'x'])])
  await store.writeRows(itemStats, [row('9', NOW - 50, [20, ['u1', 'u2']])])
  await store.writeRows(userItem, [row(encodeEntityKey(['u1', '9']), NOW - 10, [3])])
  const calls: number[] = []
  const counting: Pick<OnlineStore, 'readRows'> = {
    readRows: (lookups, nowMs) => {
      calls.push(lookups.length)
      return store.readRows(lookups, nowMs)
    },
  }
  const deps: FeatureHandlerDeps = {
    catalog: createFeatureCatalog({ views: allViews, services: [rankingService], requestFeatures: [spendPerClick] }),
    store: counting,
    clock,
    cache: options.cache,
    maxLookups: 100,
  }
  return { deps, calls, store, advance: (ms: number) => void (now += ms) }
}

function status(fn: () => Promise<unknown>, expected: number, code?: string) {
  return assert.rejects(fn, (err: { status?: number; code?: string }) => {
    assert.equal(err.status, expected)
    if (code) assert.equal(err.code, code)
    return true
  })
}

void describe('serving > get features', () => {
  void test('single view: PRESENT with age, MISSING, OUTSIDE_TTL', async () => {
    const { deps } = await setup()
    assert.deepEqual(await getViewFeatures({ view: 'user_stats', entityKey: 'u1' }, deps), {
      view: 'user_stats',
      version: 1,
      entity: { user_id: 'u1' },
      status: 'PRESENT',
      as_of: NOW - 1000,
      age_ms: 1000,
      features: { clicks_1h: 7, spend_1h: 12.5, last_city: 'Oslo' },
    })
    const missing = (await getViewFeatures({ view: 'user_stats', entityKey: 'nobody' }, deps)) as Record<string, unknown>
    assert.deepEqual([missing.status, missing.as_of, missing.features], ['MISSING', null, { clicks_1h: null, spend_1h: null, last_city: null }])
    const old = (await getViewFeatures({ view: 'user_stats', entityKey: 'old' }, deps)) as Record<string, unknown>
    assert.deepEqual([old.status, old.age_ms, old.features], ['OUTSIDE_TTL', 3_600_000, { clicks_1h: null, spend_1h: null, last_city: null }])
  })

  void test('composite views take join keys from the query; int keys must be canonical', async () => {
    const { deps } = await setup()
    const res = (await getViewFeatures({ view: 'user_item', query: { user_id: 'u1', item_id: '9' } }, deps)) as Record<string, unknown>
    assert.deepEqual([res.status, res.features], ['PRESENT', { views_1d: 3 }])
    await status(() => getViewFeatures({ view: 'user_item', entityKey: 'u1' }, deps), 400)
    await status(() => getViewFeatures({ view: 'item_stats', entityKey: '09' }, deps), 400)
    await status(() => getViewFeatures({ view: 'user_stats', entityKey: 'a\u0000b' }, deps), 400)
    await status(() => getViewFeatures({ view: 'user_stats', entityKey: '' }, deps), 400)
    await status(() => getViewFeatures({ view: 'nope', entityKey: 'u1' }, deps), 404)
  })

  void test('batch: rows zip entity lists (length 1 repeats), views by join keys, one store call, deduped lookups', async () => {
    const { deps, calls } = await setup()
    const res = (await getFeatures(
      {
        entities: { user_id: ['u1', 'u2', 'u1'], item_id: [9] },
        features: ['user_stats:clicks_1h', 'item_stats:recent_buyers', 'user_item:views_1d'],
      },
      deps,
    )) as { features: string[]; rows: { entities: unknown; values: unknown[]; views: Record<string, { status: string }> }[] }
    assert.deepEqual(calls, [5]) // user u1, u2; item 9; user_item (u1,9), (u2,9)
    assert.deepEqual(res.features, ['user_stats:clicks_1h', 'item_stats:recent_buyers', 'user_item:views_1d'])
    assert.deepEqual(
      res.rows.map((r) => r.values),
      [
        [7, ['u1', 'u2'], 3],
        [null, ['u1', 'u2'], null],
        [7, ['u1', 'u2'], 3],
      ],
    )
    assert.deepEqual(res.rows[1]?.entities, { user_id: 'u2', item_id: 9 })
    assert.deepEqual(
      res.rows.map((r) => [r.views.user_stats?.status, r.views.item_stats?.status]),
      [['PRESENT', 'PRESENT'], ['MISSING', 'PRESENT'], ['PRESENT', 'PRESENT']],
    )
  })

  void test('request-time features run the definition fn on the request and the stored inputs', async () => {
    const { deps } = await setup()
    const res = (await getFeatures({ entities: { user_id: ['u1', 'u2'], item_id: [9] }, service: 'ranking', request: { discount: 0.25 } }, deps)) as {
      features: string[]
      rows: { values: unknown[] }[]
    }
    const expected = [
      spendPerClick.fn({ discount: 0.25 }, { 'item_stats:price': 20, 'user_stats:spend_1h': 12.5 }, {}),
      spendPerClick.fn({ discount: 0.25 }, { 'item_stats:price': 20, 'user_stats:spend_1h': null }, {}),
    ]
    assert.deepEqual(res.rows.map((r) => r.values[3]), expected)
    assert.notEqual(expected[0], expected[1])
    assert.deepEqual(res.features, ['user_stats:clicks_1h', 'item_stats:price', 'user_item:views_1d', 'discounted_price'])
  })

  void test('batch errors name what is wrong', async () => {
    const { deps, calls } = await setup()
    await status(() => getFeatures({ entities: { user_id: ['u1'] }, features: ['user_stats:nope'] }, deps), 404)
    await status(() => getFeatures({ entities: { user_id: ['u1'] }, features: ['ghost:x'] }, deps), 404)
    await status(() => getFeatures({ entities: { user_id: ['u1'] }, service: 'ghost' }, deps), 404)
    await status(() => getFeatures({ entities: { user_id: ['u1'] }, features: ['item_stats:price'] }, deps), 400)
    await status(() => getFeatures({ entities: { user_id: ['u1', 'u2'], item_id: [1, 2, 3] }, features: ['item_stats:price'] }, deps), 400)
    await status(() => getFeatures({ entities: { user_id: ['u1'], item_id: [9] }, service: 'ranking' }, deps), 400) // discount missing
    await status(() => getFeatures({ entities: { user_id: ['u1'] }, features: ['user_stats:clicks_1h'], service: 'ranking' }, deps), 400)
    await status(() => getFeatures({ entities: { user_id: [{}] }, features: ['user_stats:clicks_1h'] }, deps), 400)
    await status(() => getFeatures([], deps), 400)
    const many = Array.from({ length: 101 }, (_, i) => `u${i}`)
    await status(() => getFeatures({ entities: { user_id: many }, features: ['user_stats:clicks_1h'] }, deps), 413, 'BATCH_TOO_LARGE')
    assert.deepEqual(calls, [])
  })

  void test('store failures propagate as the store error (mapped to 503 by errors.ts)', async () => {
    const { deps } = await setup()
    const down: FeatureHandlerDeps = { ...deps, store: { readRows: () => Promise.reject(new SourceError('SOURCE_UNAVAILABLE', 'redis down')) } }
    await assert.rejects(getViewFeatures({ view: 'user_stats', entityKey: 'u1' }, down), { code: 'SOURCE_UNAVAILABLE' })
  })

  void test('the bodies are what JSON.stringify writes for the values read (a double -0 as -0.0), edge numbers included', async () => {
    const { deps, store } = await setup()
    // Plain decimals go into the body as stored; -0, exponents, NaN and the infinities the long way.
    // featureMessageJson is JSON.stringify keeping -0's sign, as the offline table keeps it.
    const spends = [0, -0, 0.1 + 0.2, 1e-6, 1e-7, 1e21, 123456789.125, -5e-324, Number.MAX_VALUE, Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]
    const clicks = [0, -1, Number.MAX_SAFE_INTEGER, 2 ** 70, -(2 ** 53)]
    const keys = spends.map((_, i) => `e${i}`)
    await store.writeRows(userStats, keys.map((k, i) => row(k, NOW - 5, [clicks[i % clicks.length]!, spends[i]!, `"${k}"\u2028`])))
    const names = userStats.features.map((f) => f.name)
    const reads = await store.readRows(keys.map((entityKey) => ({ view: userStats, entityKey, features: names })), NOW)
    const expectedValues = reads.map((r) => r.values.map((v) => v ?? null))
    for (const [i, k] of keys.entries()) {
      const text = (await handlers.getViewFeatures({ view: 'user_stats', entityKey: k }, deps)).text
      const expected = { view: 'user_stats', version: 1, entity: { user_id: k }, status: 'PRESENT', as_of: NOW - 5, age_ms: 5, features: Object.fromEntries(names.map((n, j) => [n, expectedValues[i]![j]])) }
      assert.equal(text, featureMessageJson(expected))
    }
    const batch = (await handlers.getFeatures({ entities: { user_id: [...keys, 'nobody'] }, features: names.map((n) => `user_stats:${n}`) }, deps)).text
    const missing = { status: 'MISSING', as_of: null, age_ms: null }
    const expectedBatch = {
      features: names.map((n) => `user_stats:${n}`),
      rows: [...keys, 'nobody'].map((k, i) => ({
        entities: { user_id: k },
        values: i < keys.length ? expectedValues[i] : [null, null, null],
        views: { user_stats: i < keys.length ? { status: 'PRESENT', as_of: NOW - 5, age_ms: 5 } : missing },
      })),
    }
    assert.equal(batch, featureMessageJson(expectedBatch))
  })

  void test('hot-key cache answers repeats without the store, and expires', async () => {
    const cache = new HotCache({ ttlMs: 1000, maxEntries: 10, views: ['user_stats'] })
    const { deps, calls, advance, store } = await setup({ cache })
    const first = await getViewFeatures({ view: 'user_stats', entityKey: 'u1' }, deps)
    await store.writeRows(userStats, [row('u1', NOW, [8, 0, 'Rome'])])
    assert.deepEqual(await getViewFeatures({ view: 'user_stats', entityKey: 'u1' }, deps), first)
    assert.deepEqual(calls, [1])
    assert.deepEqual([cache.hits, cache.misses], [1, 1])
    await getViewFeatures({ view: 'item_stats', entityKey: '9' }, deps)
    assert.deepEqual(calls, [1, 1])
    advance(1000)
    const fresh = (await getViewFeatures({ view: 'user_stats', entityKey: 'u1' }, deps)) as { features: unknown }
    assert.deepEqual(fresh.features, { clicks_1h: 8, spend_1h: 0, last_city: 'Rome' })
  })
})
