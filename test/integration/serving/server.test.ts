import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { encodeEntityKey } from '../../../core/entity-key.ts'
import { RedisOnlineStore } from '../../../adapters/online-store/redis/redis-online-store.ts'
import { createServer, type FeatureServer } from '../../../serving/server/index.ts'
import { row } from '../../contracts/online-store.ts'
import { redisUrl, uniquePrefix } from '../redis/redis-env.ts'
import { allViews, itemStats, rankingService, spendPerClick, userItem, userStats } from '../../unit/serving/fixtures.ts'
import { openWs } from '../../unit/serving/ws-client.ts'
import { transportsUnderTest } from '../../unit/serving/server-harness.ts'

const KEY = 'test-key-1'
const auth = { authorization: `Bearer ${KEY}` }

/** Over each transport: uWebSockets.js where it loads (or as KFS_SERVE_TRANSPORT says), and node:http + ws. */
for (const transport of transportsUnderTest()) void describe(`serving > server over Redis (transport ${transport})`, () => {
  let store: RedisOnlineStore
  let server: FeatureServer
  let base: string
  const now = Date.now()

  before(async () => {
    store = new RedisOnlineStore({ url: redisUrl(), keyPrefix: uniquePrefix() })
    await store.ready()
    await store.writeRows(userStats, [row('u1', now - 1000, [7, 12.5, 'Oslo']), row('stale', now - userStats.ttlMs - 5000, [1, 1, 'x'])])
    await store.writeRows(itemStats, [row('9', now - 50, [20, ['u1', 'u2']])])
    await store.writeRows(userItem, [row(encodeEntityKey(['u1', '9']), now - 10, [3])])
    server = createServer({
      store,
      views: allViews,
      services: [rankingService],
      requestFeatures: [spendPerClick],
      options: { transport, apiKeys: [KEY, 'other-key'], maxBodyBytes: 4096, maxLookups: 50 },
    })
    base = `http://127.0.0.1:${await server.listen(0)}`
  })

  after(async () => {
    await server.close()
    await store.close()
  })

  const get = (path: string, headers: Record<string, string> = auth) => fetch(base + path, { headers })
  const post = (body: unknown, headers: Record<string, string> = auth) =>
    fetch(`${base}/v1/features`, { method: 'POST', headers: { ...headers, 'content-type': 'application/json' }, body: typeof body === 'string' ? body : JSON.stringify(body) })

  void test('GET one view: PRESENT, MISSING and OUTSIDE_TTL', async () => {
    const present = await get('/v1/features/user_stats/u1')
    assert.equal(present.status, 200)
    const body = (await present.json()) as Record<string, unknown>
    assert.equal(body.status, 'PRESENT')
    assert.equal(body.as_of, now - 1000)
    assert.ok((body.age_ms as number) >= 1000)
    assert.deepEqual(body.features, { clicks_1h: 7, spend_1h: 12.5, last_city: 'Oslo' })
    const missing = (await (await get('/v1/features/user_stats/nobody')).json()) as Record<string, unknown>
    assert.deepEqual([missing.status, missing.as_of], ['MISSING', null])
    const stale = (await (await get('/v1/features/user_stats/stale')).json()) as Record<string, unknown>
    assert.deepEqual([stale.status, stale.features], ['OUTSIDE_TTL', { clicks_1h: null, spend_1h: null, last_city: null }])
    const composite = (await (await get('/v1/features/user_item?user_id=u1&item_id=9')).json()) as Record<string, unknown>
    assert.deepEqual(composite.features, { views_1d: 3 })
  })

  void test('POST batch across views and entity types, with request-time features', async () => {
    const res = await post({ entities: { user_id: ['u1', 'u2'], item_id: [9] }, service: 'ranking', request: { discount: 0.5 } })
    assert.equal(res.status, 200)
    const { features, rows } = (await res.json()) as { features: string[]; rows: { values: unknown[]; views: Record<string, { status: string }> }[] }
    assert.deepEqual(features, ['user_stats:clicks_1h', 'item_stats:price', 'user_item:views_1d', 'discounted_price'])
    assert.deepEqual(rows[0]?.values, [7, 20, 3, spendPerClick.fn({ discount: 0.5 }, { 'item_stats:price': 20, 'user_stats:spend_1h': 12.5 }, {})])
    assert.deepEqual(rows[1]?.values, [null, 20, null, spendPerClick.fn({ discount: 0.5 }, { 'item_stats:price': 20, 'user_stats:spend_1h': null }, {})])
    assert.deepEqual(Object.values(rows[1]!.views).map((v) => v.status), ['MISSING', 'PRESENT', 'MISSING'])
  })

  void test('auth: every route but /healthz needs a configured key', async () => {
    assert.equal((await get('/v1/features/user_stats/u1', {})).status, 401)
    assert.equal((await get('/v1/features/user_stats/u1', { authorization: 'Bearer nope' })).status, 401)
    assert.equal((await get('/v1/features/user_stats/u1', { authorization: 'Bearer other-key' })).status, 200)
    assert.equal((await post({ entities: { user_id: ['u1'] }, features: ['user_stats:clicks_1h'] }, {})).status, 401)
    assert.equal((await get('/v1/registry', {})).status, 401)
    assert.equal((await get('/healthz', {})).status, 200)
  })

  void test('validation errors are JSON and name the culprit', async () => {
    const cases: [Promise<Response>, number, string][] = [
      [get('/v1/features/ghost/u1'), 404, 'ghost'],
      [get('/v1/features/user_stats/a%00b'), 400, 'user_id'],
      [get('/v1/features/user_stats/%E0%A4%A'), 400, 'percent'],
      [get('/v1/features/item_stats/abc'), 400, 'item_id'],
      [post({ entities: { user_id: ['u1'] }, features: ['user_stats:nope'] }), 404, 'user_stats:nope'],
      [post({ entities: { user_id: ['u1'] }, service: 'ghost' }), 404, 'ghost'],
      [post({ entities: { user_id: ['u1'] }, features: ['item_stats:price'] }), 400, 'item_id'],
      [post('{"entities":'), 400, 'JSON'],
      [post({ entities: { user_id: Array.from({ length: 51 }, (_, i) => `u${i}`) }, features: ['user_stats:clicks_1h'] }), 413, 'limit'],
      [post({ entities: { user_id: ['x'.repeat(5000)] }, features: ['user_stats:clicks_1h'] }), 413, 'bytes'],
      [get('/nowhere'), 404, 'route'],
    ]
    for (const [pending, status, mention] of cases) {
      const res = await pending
      const body = (await res.json()) as { error: { code: string; message: string } }
      assert.equal(res.status, status, JSON.stringify(body))
      assert.ok(res.headers.get('content-type')?.startsWith('application/json'))
      assert.ok(JSON.stringify(body.error).includes(mention), `${JSON.stringify(body)} should mention ${mention}`)
    }
  })

  void test('registry JSON and the catalog page', async () => {
    const registry = (await (await get('/v1/registry')).json()) as { views: { name: string; owner: string }[]; lineage: { edges: { from: string; to: string }[] } }
    assert.deepEqual(registry.views.map((v) => v.name), ['user_stats', 'item_stats', 'user_item'])
    assert.ok(registry.lineage.edges.some((e) => e.to === 'service:ranking'))
    const page = await get('/')
    assert.equal(page.status, 200)
    assert.match(page.headers.get('content-type') ?? '', /text\/html/)
    const html = await page.text()
    // The lineage graph draws each edge: source clicks → view user_stats@1.
    for (const text of ['user_stats', 'clicks_1h', 'growth', 'ranking-team', 'data-from="source:clicks" data-to="view:user_stats@1"']) assert.ok(html.includes(text), text)
  })

  void test('WebSocket subscribers receive each row as it lands', async () => {
    const ws = await openWs(Number(new URL(base).port), '/v1/subscribe', auth)
    try {
      ws.send(JSON.stringify({ subscribe: [{ view: 'user_stats', entity: 'u-live' }] }))
      assert.deepEqual(JSON.parse(await ws.next()), { type: 'subscribed', topics: 1 })
      assert.deepEqual(JSON.parse(await ws.next()), {
        type: 'snapshot',
        view: 'user_stats',
        version: 1,
        entity: 'u-live',
        status: 'MISSING',
        as_of: null,
        features: { clicks_1h: null, spend_1h: null, last_city: null },
      })
      const t = Date.now()
      await store.writeRows(userStats, [row('someone-else', t, [1, 1, 'x'])])
      await store.writeRows(userStats, [row('u-live', t, [42, 0.5, 'Lima'])])
      await store.writeRows(userStats, [row('u-live', t - 1, [0, 0, 'zombie'])])
      await store.writeRows(userStats, [row('u-live', t + 1, [43, null, 'Lima'])])
      const first = JSON.parse(await ws.next())
      assert.deepEqual(first, { type: 'row', view: 'user_stats', version: 1, entity: 'u-live', as_of: t, features: { clicks_1h: 42, spend_1h: 0.5, last_city: 'Lima' } })
      const second = JSON.parse(await ws.next())
      assert.deepEqual([second.as_of, second.features], [t + 1, { clicks_1h: 43, spend_1h: null, last_city: 'Lima' }])
      ws.send('not json')
      assert.equal(JSON.parse(await ws.next()).error.code, 'BAD_REQUEST')
    } finally {
      ws.close()
    }
    await assert.rejects(openWs(Number(new URL(base).port), '/v1/subscribe', {}), /401/)
  })

  void test('metrics expose per-route latency and status counts', async () => {
    await get('/v1/features/user_stats/u1')
    const text = await (await get('/metrics')).text()
    assert.match(text, /kfs_serving_request_duration_seconds_bucket\{le="[^"]+",route="get_features"\}/)
    assert.match(text, /kfs_serving_responses_total\{route="get_features",status="200"\} \d+/)
    assert.match(text, /kfs_serving_responses_total\{route="post_features",status="413"\} \d+/)
  })
})
