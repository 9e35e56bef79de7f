/**
 * Server lifecycle and limits over the embedded store (no Redis needed): per-request timeout,
 * graceful shutdown that lets in-flight requests finish, the hot-key cache kept coherent by the
 * change feed, and the embedded store's push path — on each transport (uWebSockets.js where it
 * loads, and node:http + ws).
 */
import assert from 'node:assert/strict'
import { connect } from 'node:net'
import { test } from 'node:test'
import type { OnlineStore } from '../../../ports/online-store.ts'
import { EmbeddedOnlineStore } from '../../../adapters/online-store/embedded/embedded-online-store.ts'
import { createServer } from '../../../serving/server/index.ts'
import { row } from '../../contracts/online-store.ts'
import { userStats } from '../../unit/serving/fixtures.ts'
import { openWs } from '../../unit/serving/ws-client.ts'
import { transportsUnderTest } from '../../unit/serving/server-harness.ts'

for (const transport of transportsUnderTest()) {
  void test(`serving > a request slower than requestTimeoutMs answers 504; close() waits for in-flight requests (transport ${transport})`, async () => {
    const embedded = new EmbeddedOnlineStore()
    await embedded.writeRows(userStats, [row('u1', Date.now(), [1, 2, 'Oslo'])])
    let release: (() => void) | undefined
    const gated: Pick<OnlineStore, 'readRows'> = {
      readRows: async (lookups, nowMs) => {
        if (lookups[0]?.entityKey === 'hang') await new Promise(() => {})
        if (lookups[0]?.entityKey === 'slow') await new Promise<void>((resolve) => (release = resolve))
        return embedded.readRows(lookups, nowMs)
      },
    }
    const server = createServer({ store: gated, views: [userStats], options: { transport, requestTimeoutMs: 300 } })
    const base = `http://127.0.0.1:${await server.listen(0)}`
    const hung = await fetch(`${base}/v1/features/user_stats/hang`)
    assert.equal(hung.status, 504)
    assert.equal(((await hung.json()) as { error: { code: string } }).error.code, 'TIMEOUT')

    const inflight = fetch(`${base}/v1/features/user_stats/slow`)
    while (!release) await new Promise((r) => setTimeout(r, 5))
    const closing = server.close()
    // New connections are refused at once (keep-alive connections stay until they drain).
    await assert.rejects(
      new Promise((resolve, reject) => connect(Number(new URL(base).port), '127.0.0.1').once('connect', resolve).once('error', reject)),
      { code: 'ECONNREFUSED' },
    )
    release()
    const res = await inflight
    assert.equal(res.status, 200)
    await closing
  })

  void test(`serving > hot-key cache is evicted by the change feed, and WS pushes come from the embedded store (transport ${transport})`, async () => {
    const store = new EmbeddedOnlineStore()
    const t = Date.now()
    await store.writeRows(userStats, [row('u1', t - 10, [1, 1, 'A'])])
    const server = createServer({ store, views: [userStats], options: { transport, cache: { ttlMs: 60_000, maxEntries: 100 } } })
    const port = await server.listen(0)
    const base = `http://127.0.0.1:${port}`
    const read = async () => ((await (await fetch(`${base}/v1/features/user_stats/u1`)).json()) as { features: { clicks_1h: number } }).features.clicks_1h
    const ws = await openWs(port, '/v1/subscribe')
    try {
      assert.equal(await read(), 1)
      assert.equal(await read(), 1)
      ws.send(JSON.stringify({ subscribe: [{ view: 'user_stats', entity: 'u1' }] }))
      assert.equal(JSON.parse(await ws.next()).type, 'subscribed')
      const snapshot = JSON.parse(await ws.next())
      assert.deepEqual([snapshot.type, snapshot.status, snapshot.as_of, snapshot.features.clicks_1h], ['snapshot', 'PRESENT', t - 10, 1])
      await store.writeRows(userStats, [row('u1', t, [2, 1, 'B'])])
      assert.equal(JSON.parse(await ws.next()).features.clicks_1h, 2)
      assert.equal(await read(), 2)
      const metrics = await server.metricsText()
      // Hits: the second GET and the snapshot; misses: the first GET and the GET after the eviction.
      assert.match(metrics, /kfs_serving_cache_lookups_total\{result="hit"\} 2\b/)
      assert.match(metrics, /kfs_serving_cache_lookups_total\{result="miss"\} 2\b/)
      assert.match(metrics, /kfs_serving_ws_pushes_total 1\b/)
    } finally {
      ws.close()
      await server.close()
    }
  })
}
