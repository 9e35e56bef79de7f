/**
 * A real Redis whose keys are not all rows kfs wrote, served: a key of another type (WRONGTYPE)
 * and hashes whose texts are not values of their features' types, read through every read path
 * (one key, a pipeline of two, the read script from four keys on). Each answers 500
 * STORED_ROW_UNREADABLE naming the view, without Redis's text or the script's hash, and the
 * server answers the good keys on. Before: WRONGTYPE was a 503 SOURCE_UNAVAILABLE carrying
 * Redis's reply (and the script's hash), retried though it never heals; a bad `@as_of` was served
 * PRESENT with as_of null; a bad long or double as null; `5` or `{"a":1}` as a string[]; and an
 * array whose JSON did not parse an INTERNAL 500.
 */
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { Redis } from 'ioredis'
import { RedisOnlineStore } from '../../../adapters/online-store/redis/redis-online-store.ts'
import { createServer, type FeatureServer } from '../../../serving/server/index.ts'
import { row } from '../../contracts/online-store.ts'
import { allViews, itemStats, userStats } from '../../unit/serving/fixtures.ts'
import { redisUrl, uniquePrefix } from '../redis/redis-env.ts'

const prefix = uniquePrefix()
const keyOf = (view: string, entity: string): string => `${prefix}:${view}:1:{${entity}}`

/** [entity, how its key is spoiled, the view read, the feature named (undefined: the whole row)]. */
const SPOILED: readonly (readonly [string, (raw: Redis, now: number) => Promise<unknown>, string, string | undefined])[] = [
  ['wrongtype', (raw) => raw.set(keyOf('user_stats', 'wrongtype'), 'x'), 'user_stats', undefined],
  ['listkey', (raw) => raw.rpush(keyOf('user_stats', 'listkey'), 'x'), 'user_stats', undefined],
  ['badasof', (raw) => raw.hset(keyOf('user_stats', 'badasof'), '@as_of', 'abc', 'clicks_1h', '3'), 'user_stats', undefined],
  [
    'badlong',
    (raw, now) => raw.hset(keyOf('user_stats', 'badlong'), '@as_of', String(now), 'clicks_1h', 'notanumber'),
    'user_stats',
    'clicks_1h',
  ],
  [
    'baddouble',
    (raw, now) => raw.hset(keyOf('user_stats', 'baddouble'), '@as_of', String(now), 'spend_1h', 'NaNx'),
    'user_stats',
    'spend_1h',
  ],
]
const SPOILED_ITEMS: readonly (readonly [number, string])[] = [
  [5, '{not json'],
  [6, '5'],
  [7, '{"a":1}'],
  [8, '[1]'],
]

void describe('serving > Redis keys that are not kfs rows', () => {
  let raw: Redis
  let store: RedisOnlineStore
  let server: FeatureServer
  let base: string
  before(async () => {
    raw = new Redis(redisUrl())
    store = new RedisOnlineStore({ url: redisUrl(), keyPrefix: prefix })
    await store.ready()
    const now = Date.now()
    await store.writeRows(userStats, [row('u1', now - 1000, [7, 12.5, 'Oslo'])])
    await store.writeRows(itemStats, [row('9', now - 1000, [20, ['u1']])])
    for (const [, spoil] of SPOILED) await spoil(raw, now)
    for (const [item, text] of SPOILED_ITEMS)
      await raw.hset(keyOf('item_stats', String(item)), '@as_of', String(now), 'recent_buyers', text)
    server = createServer({ store, views: allViews, services: [], requestFeatures: [] })
    base = `http://127.0.0.1:${await server.listen(0)}`
  })
  after(async () => {
    await server.close()
    const keys = await raw.keys(`${prefix}:*`)
    if (keys.length > 0) await raw.del(...keys)
    await store.close()
    raw.disconnect()
  })

  const assertUnreadable = async (res: Response, view: string, feature: string | undefined, what: string): Promise<void> => {
    const text = await res.text()
    assert.equal(res.status, 500, `${what}: ${text}`)
    assert.doesNotMatch(text, /WRONGTYPE|script|user_script|notanumber|NaNx|not json/, `${what}: no store text`)
    const { error } = JSON.parse(text) as { error: Record<string, unknown> }
    assert.equal(error.code, 'STORED_ROW_UNREADABLE', what)
    assert.equal(error.view, view, what)
    assert.equal(error.feature, feature, what)
    assert.match(String(error.errorId), /^[0-9a-f-]{36}$/, what)
  }

  const post = (entities: Record<string, unknown[]>, features: string[]): Promise<Response> =>
    fetch(`${base}/v1/features`, { method: 'POST', body: JSON.stringify({ entities, features }) })

  for (const [entity, , view, feature] of SPOILED) {
    void test(`${entity}: 500 STORED_ROW_UNREADABLE on the GET, and in a batch of 2 (pipeline) and of 5 (read script)`, async () => {
      await assertUnreadable(await fetch(`${base}/v1/features/${view}/${entity}`), view, feature, 'GET')
      const features = ['user_stats:clicks_1h', 'user_stats:spend_1h']
      await assertUnreadable(await post({ user_id: ['u1', entity] }, features), view, feature, 'POST of 2')
      await assertUnreadable(await post({ user_id: ['u1', 'a', 'b', 'c', entity] }, features), view, feature, 'POST of 5')
    })
  }

  for (const [item, text] of SPOILED_ITEMS) {
    void test(`a string[] stored as ${JSON.stringify(text)}: 500 STORED_ROW_UNREADABLE naming the feature`, async () => {
      await assertUnreadable(await fetch(`${base}/v1/features/item_stats/${item}`), 'item_stats', 'recent_buyers', 'GET')
    })
  }

  void test('the good keys are served on, and health is 200', async () => {
    const res = await fetch(`${base}/v1/features/user_stats/u1`)
    assert.equal(res.status, 200)
    assert.equal(((await res.json()) as { features: { clicks_1h: number } }).features.clicks_1h, 7)
    assert.equal((await fetch(`${base}/healthz`)).status, 200)
  })
})
