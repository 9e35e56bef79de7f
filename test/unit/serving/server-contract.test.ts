/**
 * The serving contract end to end over a real socket, on whichever transport the harness runs
 * (uWebSockets.js where it loads; node-transport.test.ts runs this file on node:http + ws too):
 * feature values by GET and POST, WebSocket subscribe with snapshot and push of a landed row,
 * an aborted request counted as such, an `Upgrade: h2c` request answered as the plain HTTP/1.1
 * it also is, and /metrics naming the transport.
 */
import assert from 'node:assert/strict'
import { connect } from 'node:net'
import { after, before, describe, test } from 'node:test'
import { row } from '../../contracts/online-store.ts'
import { userStats } from './fixtures.ts'
import { NOW, parseResponse, rawRequest, startServer, type TestServer } from './server-harness.ts'
import { openWs } from './ws-client.ts'

const USER_FEATURES = ['user_stats:clicks_1h', 'user_stats:spend_1h', 'user_stats:last_city']

void describe('serving > contract over the transport', () => {
  let s: TestServer
  before(async () => {
    s = await startServer()
  })
  after(() => s.close())

  void test('GET one view and POST a batch answer the stored values', async () => {
    const one = await fetch(`${s.base}/v1/features/user_stats/u1`)
    assert.equal(one.status, 200)
    assert.match(one.headers.get('content-type') ?? '', /^application\/json/)
    const body = (await one.json()) as { status: string; as_of: number; features: Record<string, unknown> }
    assert.deepEqual(
      [body.status, body.as_of, body.features],
      ['PRESENT', NOW - 1000, { clicks_1h: 7, spend_1h: 12.5, last_city: 'Oslo' }],
    )

    const batch = await fetch(`${s.base}/v1/features`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ entities: { user_id: ['u1', 'nobody'] }, features: USER_FEATURES }),
    })
    assert.equal(batch.status, 200)
    const { rows } = (await batch.json()) as { rows: { values: unknown[] }[] }
    assert.deepEqual(
      rows.map((r) => r.values),
      [
        [7, 12.5, 'Oslo'],
        [null, null, null],
      ],
    )
  })

  void test('a POST body sent in pieces is read whole', async () => {
    const body = JSON.stringify({ entities: { user_id: ['u1'] }, features: ['user_stats:clicks_1h'] })
    const socket = connect(s.port, '127.0.0.1')
    let text = ''
    socket.on('data', (chunk) => (text += chunk.toString()))
    await new Promise<void>((resolve) => socket.once('connect', resolve))
    socket.write(`POST /v1/features HTTP/1.1\r\nHost: x\r\nContent-Length: ${body.length}\r\n\r\n${body.slice(0, 10)}`)
    await new Promise((resolve) => setTimeout(resolve, 50))
    socket.write(body.slice(10))
    while (!/\r\n\r\n.*\}$/s.test(text)) await new Promise((resolve) => setTimeout(resolve, 10))
    socket.destroy()
    const res = parseResponse(text)
    assert.equal(res.status, 200, text)
    assert.deepEqual((JSON.parse(res.body) as { rows: { values: unknown[] }[] }).rows[0]!.values, [7])
  })

  void test('a POST asking to upgrade to h2c is answered as plain HTTP/1.1, body and all', async () => {
    const body = JSON.stringify({ entities: { user_id: ['u1'] }, features: ['user_stats:last_city'] })
    const request = `POST /v1/features HTTP/1.1\r\nHost: x\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`
    const res = parseResponse((await rawRequest(s.port, request, { idleMs: 5000 })).text)
    assert.equal(res.status, 200)
    assert.deepEqual((JSON.parse(res.body) as { rows: { values: unknown[] }[] }).rows[0]!.values, ['Oslo'])
  })

  void test('WebSocket: subscribe gets the snapshot, then each landed row of the entity is pushed', async () => {
    const ws = await openWs(s.port, '/v1/subscribe')
    try {
      ws.send(JSON.stringify({ subscribe: [{ view: 'user_stats', entity: 'u1' }] }))
      assert.deepEqual(JSON.parse(await ws.next()), { type: 'subscribed', topics: 1 })
      const snapshot = JSON.parse(await ws.next()) as { type: string; status: string; features: unknown }
      assert.deepEqual(
        [snapshot.type, snapshot.status, snapshot.features],
        ['snapshot', 'PRESENT', { clicks_1h: 7, spend_1h: 12.5, last_city: 'Oslo' }],
      )
      await s.store.writeRows(userStats, [row('someone-else', NOW, [1, 1, 'x'])])
      await s.store.writeRows(userStats, [row('u1', NOW, [8, 13, 'Bergen'])])
      const pushed = JSON.parse(await ws.next()) as { type: string; entity: string; as_of: number; features: unknown }
      assert.deepEqual(pushed, {
        type: 'row',
        view: 'user_stats',
        version: 1,
        entity: 'u1',
        as_of: NOW,
        features: { clicks_1h: 8, spend_1h: 13, last_city: 'Bergen' },
      })
      const metrics = await s.server.metricsText()
      assert.match(metrics, /^kfs_serving_ws_pushes_total 1$/m)
      assert.match(metrics, /^kfs_serving_ws_connections 1$/m)
      ws.send(JSON.stringify({ unsubscribe: [{ view: 'user_stats', entity: 'u1' }] }))
      assert.deepEqual(JSON.parse(await ws.next()), { type: 'subscribed', topics: 0 })
      assert.equal(await ws.end(), 1000)
      assert.match(
        await s.server.metricsText(),
        /^kfs_serving_ws_connections 0$/m,
        'the close handler ran before the close was answered',
      )
    } finally {
      ws.close()
    }
  })

  void test('/metrics names the transport serving, and only it', async () => {
    const text = await (await fetch(`${s.base}/metrics`)).text()
    assert.match(text, /^# TYPE kfs_serving_transport_info gauge$/m)
    const series = text.split('\n').filter((line) => line.startsWith('kfs_serving_transport_info{'))
    assert.deepEqual(series, [`kfs_serving_transport_info{transport="${s.transport}"} 1`])
    assert.equal(s.server.transport.name, s.transport)
    const started = s.logs.find((l) => l.msg === 'serving started')
    assert.equal(started?.obj.transport, s.transport)
    assert.equal(started?.obj.reason, s.server.transport.reason)
  })
})

void describe('serving > contract over the transport > aborts', () => {
  void test('a client gone before its answer is counted once as 499 and never written to', async () => {
    let reached: () => void = () => {}
    const asked = new Promise<void>((resolve) => (reached = resolve))
    let release: () => void = () => {}
    const gate = new Promise<void>((resolve) => (release = resolve))
    const s = await startServer({
      store: (embedded) => ({
        readRows: async (lookups, nowMs) => {
          reached()
          await gate
          return embedded.readRows(lookups, nowMs)
        },
      }),
    })
    try {
      const socket = connect(s.port, '127.0.0.1')
      await new Promise<void>((resolve) => socket.once('connect', resolve))
      socket.write('GET /v1/features/user_stats/u1 HTTP/1.1\r\nHost: x\r\n\r\n')
      await asked
      socket.destroy()
      while (!(await s.server.metricsText()).includes('kfs_serving_responses_total{route="get_features",status="499"} 1'))
        await new Promise((resolve) => setTimeout(resolve, 10))
      release()
      // A request after the release is answered once the late result was dropped.
      assert.equal(await (await fetch(`${s.base}/healthz`)).text(), '{"status":"ok"}')
      const text = await s.server.metricsText()
      assert.match(
        text,
        /kfs_serving_request_duration_seconds_count\{route="get_features"\} 1\n/,
        'the aborted request was timed once',
      )
      assert.doesNotMatch(text, /route="get_features",status="200"/, 'its late result was not answered')
      assert.deepEqual(
        s.logs.filter((l) => l.level === 'error' || l.level === 'warn'),
        [],
      )
    } finally {
      await s.close()
    }
  })
})
