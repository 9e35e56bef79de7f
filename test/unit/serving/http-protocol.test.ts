/**
 * Serving robustness, HTTP protocol: every known route answers a method it does not have with 405
 * and `Allow` (HEAD of a GET route and OPTIONS are answered: head-and-options.test.ts); unknown paths are 404; a plain GET of the WebSocket path is 426. Requests the uWS
 * parser cannot take (HTTP/1.0, HTTP/1.1 without Host, garbage) get no answer from uWS at all —
 * its parser waits for more bytes until its fixed 10-s idle timeout — so on uWS the test pins
 * what we can promise: those connections are closed by the server and never hold up other
 * clients. node:http answers them: HTTP/1.0 (and a request line without a version, as HTTP/0.9)
 * is served, HTTP/1.1 without Host and garbage are 400; each connection is then closed.
 */
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { allowOf } from './request-corpus.ts'
import { parseResponse, rawRequest, startServer, type TestServer } from './server-harness.ts'

const ROUTES: readonly (readonly [path: string, allow: string])[] = [
  ['/healthz', 'GET'],
  ['/metrics', 'GET'],
  ['/v1/registry', 'GET'],
  ['/', 'GET'],
  ['/v1/features/user_stats/u1', 'GET'],
  ['/v1/features/user_item', 'GET'],
  ['/v1/features', 'POST'],
  ['/v1/subscribe', 'GET'],
]
const METHODS = ['GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'HEAD'] as const

void describe('serving > robustness > HTTP methods and paths', () => {
  let s: TestServer
  before(async () => {
    s = await startServer()
  })
  after(() => s.close())

  for (const [path, allow] of ROUTES) {
    void test(`${path}: every method but ${allowOf(allow)} is 405 with Allow: ${allowOf(allow)}`, async () => {
      for (const method of METHODS) {
        if (allowOf(allow).split(', ').includes(method)) continue
        if (path === '/v1/subscribe' && method === 'GET') continue
        const body = method === 'GET' || method === 'HEAD' ? '' : '{}'
        const head = `${method} ${path} HTTP/1.1\r\nHost: test\r\nContent-Length: ${body.length}\r\n\r\n${body}`
        const { text, closedByServer } = await rawRequest(s.port, head, { untilClose: body.length > 0, idleMs: 10_000 })
        const res = parseResponse(text)
        assert.equal(res.status, 405, `${method} ${path}: ${text}`)
        assert.equal(res.headers.allow, allowOf(allow), `${method} ${path}`)
        if (method !== 'HEAD')
          assert.equal((JSON.parse(res.body) as { error: { code: string } }).error.code, 'METHOD_NOT_ALLOWED')
        if (body.length > 0) assert.ok(closedByServer, `${method} ${path}: an unread body closes the connection`)
      }
    })
  }

  void test('the allowed methods still work on the same paths', async () => {
    for (const path of [
      '/healthz',
      '/metrics',
      '/v1/registry',
      '/',
      '/v1/features/user_stats/u1',
      '/v1/features/user_item?user_id=u1&item_id=9',
    ]) {
      assert.equal((await fetch(s.base + path)).status, 200, path)
    }
    const posted = await fetch(`${s.base}/v1/features`, {
      method: 'POST',
      body: JSON.stringify({ entities: { user_id: ['u1'] }, features: ['user_stats:clicks_1h'] }),
    })
    assert.equal(posted.status, 200)
  })

  void test('unknown paths are 404 whatever the method; a plain GET of the WebSocket path is 426 with Upgrade', async () => {
    for (const method of METHODS) {
      for (const path of ['/nope', '/v1', '/v1/features/a/b/c', '/v1/registry/x']) {
        const res = await fetch(s.base + path, { method })
        assert.equal(res.status, 404, `${method} ${path}`)
        assert.equal(res.headers.get('allow'), null)
      }
    }
    const plain = await fetch(`${s.base}/v1/subscribe`)
    assert.equal(plain.status, 426)
    assert.equal(plain.headers.get('upgrade'), 'websocket')
  })
})

void describe('serving > robustness > requests uWS cannot parse', () => {
  void test('HTTP/1.0, HTTP/1.1 without Host and garbage: closed by the server (uWS: unanswered; node:http: answered), other clients answered meanwhile', async (t) => {
    const s = await startServer()
    try {
      // Each request with the status node:http answers it with.
      const unparseable: readonly (readonly [request: string, nodeStatus: number])[] = [
        ['GET /healthz HTTP/1.0\r\n\r\n', 200],
        ['GET /healthz HTTP/1.0\r\nHost: test\r\n\r\n', 200],
        ['GET /healthz HTTP/1.1\r\n\r\n', 400],
        // llhttp takes a request line without a version as HTTP/0.9.
        ['GET /healthz\r\n\r\n', 200],
        ['NOT HTTP AT ALL\r\n\r\n', 400],
      ]
      const started = performance.now()
      const pending = unparseable.map(([request]) => rawRequest(s.port, request, { untilClose: true, idleMs: 60_000 }))
      for (let i = 0; i < 20; i++) assert.equal((await fetch(`${s.base}/v1/features/user_stats/u1`)).status, 200)
      const answers = await Promise.all(pending)
      answers.forEach((a, i) => {
        const [request, nodeStatus] = unparseable[i]!
        assert.ok(a.closedByServer, `${JSON.stringify(request)}: the server closed the connection`)
        if (s.transport === 'uws') {
          // Pinned so that a uWS upgrade that starts answering these (400/505) shows up here.
          assert.equal(a.text, '', `${JSON.stringify(request)}: uWS sends nothing`)
        } else {
          const res = parseResponse(a.text)
          assert.equal(res.status, nodeStatus, `${JSON.stringify(request)}: ${a.text}`)
          if (nodeStatus === 200) assert.deepEqual(JSON.parse(res.body), { status: 'ok' })
        }
      })
      t.diagnostic(
        `unparseable requests closed after ${((performance.now() - started) / 1000).toFixed(1)} s on ${s.transport} (uWS: its HTTP idle timeout; informative)`,
      )
    } finally {
      await s.close()
    }
  })
})
