/**
 * The answers of authentication and body limits, byte for byte (status line, headers but Date,
 * body, who closes): what clients of every route see when a key is missing or wrong, or a body is
 * too large. The served-feature log is on, so the tests also pin that a refused request gets no
 * `x-request-id` (it is refused before it is identified) — except a body found too large while
 * streaming, which was already identified. Last, the proof that the guard covers every route: each
 * route the server reports refuses an unauthenticated request, and only the router registers routes.
 *
 * Both transports answer byte for byte alike but for two things: node:http announces keep-alive
 * (`Connection: keep-alive`, `Keep-Alive`), which uWS leaves to HTTP/1.1's default, and a refused
 * WebSocket upgrade on node:http closes its connection (`Connection: close`): node:http has
 * handed that socket over and cannot read another request from it.
 */
import assert from 'node:assert/strict'
import { readdir, readFile } from 'node:fs/promises'
import { after, before, describe, test } from 'node:test'
import type { ServerOptions } from '../../../serving/server/index.ts'
import type { TransportName } from '../../../serving/server/index.ts'
import { parseResponse, rawRequest, startServer, type TestServer } from './server-harness.ts'

const KEYS = ['key-one', 'key-two']
const LIMIT = 96

const servedLogStub: NonNullable<ServerOptions['servedLog']> = {
  isSampled: () => false,
  record: () => {},
  stats: () => ({ sampledRequests: 0, sent: 0, dropped: { buffer_full: 0, encode_failed: 0, send_failed: 0, shutdown: 0 } }),
}

const UNAUTHORIZED_BODY = '{"error":{"code":"UNAUTHORIZED","message":"missing or unknown API key (Authorization: Bearer <key>)"}}'

interface Answer {
  readonly head: string
  readonly body: string
  readonly requestId: boolean
}

/** One raw request's answer: the status line and headers (Date, server name, keep-alive's announcement and x-request-id's value left out), body. */
async function ask(port: number, request: string): Promise<Answer> {
  const { text } = await rawRequest(port, request, { idleMs: 5000 })
  const { body, headers } = parseResponse(text)
  const head = text
    .slice(0, text.indexOf('\r\n\r\n'))
    .split('\r\n')
    .filter((line) => !/^(date|uwebsockets|x-request-id|keep-alive):|^connection: keep-alive$/i.test(line))
    .join('\n')
  return { head, body, requestId: headers['x-request-id'] !== undefined }
}

function unauthorizedHead(closes: boolean): string {
  return ['HTTP/1.1 401 Unauthorized', 'content-type: application/json', ...(closes ? ['Connection: close'] : []), 'Content-Length: 102'].join('\n')
}

/** A refused WebSocket upgrade: no Connection header on uWS, which keeps the connection; node:http closes it. */
function upgradeRefusedHead(transport: TransportName): string {
  return ['HTTP/1.1 401 Unauthorized', 'content-type: application/json', ...(transport === 'node' ? ['Connection: close'] : []), 'Content-Length: 102'].join('\n')
}

const tooLargeBody = `{"error":{"code":"PAYLOAD_TOO_LARGE","message":"body larger than ${LIMIT} bytes"}}`
const tooLargeHead = ['HTTP/1.1 413 Payload Too Large', 'content-type: application/json', 'Connection: close', `Content-Length: ${tooLargeBody.length}`].join('\n')

const GUARDED_GETS = ['/metrics', '/v1/registry', '/', '/v1/features/user_stats/u1', '/v1/features/user_item?user_id=u1&item_id=9']
const VALID_POST = '{"entities":{"user_id":["u1"]},"features":["user_stats:clicks_1h"]}'

function get(path: string, headers = ''): string {
  return `GET ${path} HTTP/1.1\r\nHost: x\r\n${headers}\r\n`
}

function post(body: string, headers = ''): string {
  return `POST /v1/features HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n${headers}\r\n${body}`
}

function upgrade(path: string, headers = ''): string {
  return `GET ${path} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n${headers}\r\n`
}

void describe('serving > auth and body limits: the answers clients see', () => {
  let s: TestServer
  before(async () => {
    s = await startServer({ options: { apiKeys: KEYS, maxBodyBytes: LIMIT, servedLog: servedLogStub } })
  })
  after(() => s.close())

  const refusals: readonly [string, string][] = [
    ['no Authorization', ''],
    ['an unknown key', 'Authorization: Bearer nope\r\n'],
    ['a key without "Bearer "', 'Authorization: key-one\r\n'],
    ['a lower-case scheme', 'Authorization: bearer key-one\r\n'],
    ['an empty bearer', 'Authorization: Bearer \r\n'],
  ]

  for (const [what, header] of refusals) {
    void test(`${what}: every guarded GET is 401 (connection kept), POST is 401 (connection closed), no request id`, async () => {
      for (const path of GUARDED_GETS) {
        assert.deepEqual(await ask(s.port, get(path, header)), { head: unauthorizedHead(false), body: UNAUTHORIZED_BODY, requestId: false }, path)
      }
      assert.deepEqual(await ask(s.port, post(VALID_POST, header)), { head: unauthorizedHead(true), body: UNAUTHORIZED_BODY, requestId: false })
    })
  }

  void test('an HTTP route does not take ?access_token= (only the WebSocket upgrade does)', async () => {
    const answer = await ask(s.port, get('/v1/features/user_stats/u1?access_token=key-one'))
    assert.deepEqual(answer, { head: unauthorizedHead(false), body: UNAUTHORIZED_BODY, requestId: false })
  })

  void test('either configured key opens every route; /healthz needs none', async () => {
    for (const key of KEYS) {
      for (const path of GUARDED_GETS) {
        const answer = await ask(s.port, get(path, `Authorization: Bearer ${key}\r\n`))
        assert.match(answer.head, /^HTTP\/1\.1 200 OK\n/, `${path} with ${key}`)
      }
      const answer = await ask(s.port, post(VALID_POST, `Authorization: Bearer ${key}\r\n`))
      assert.match(answer.head, /^HTTP\/1\.1 200 OK\n/)
      assert.equal(answer.requestId, true)
    }
    assert.match((await ask(s.port, get('/healthz'))).head, /^HTTP\/1\.1 200 OK\n/)
  })

  void test('a declared Content-Length over the limit is 413 before the body is read: closed, no request id', async () => {
    const request = `POST /v1/features HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer key-one\r\nContent-Length: ${LIMIT + 1}\r\n\r\n`
    assert.deepEqual(await ask(s.port, request), { head: tooLargeHead, body: tooLargeBody, requestId: false })
  })

  void test('a chunked body that grows past the limit is 413 once it does: closed, with the request id', async () => {
    const chunk = 'x'.repeat(LIMIT + 10)
    const request = `POST /v1/features HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer key-one\r\nTransfer-Encoding: chunked\r\n\r\n${chunk.length.toString(16)}\r\n${chunk}\r\n0\r\n\r\n`
    assert.deepEqual(await ask(s.port, request), { head: tooLargeHead, body: tooLargeBody, requestId: true })
  })

  void test('a body of exactly the limit is read and parsed (not refused)', async () => {
    const body = VALID_POST.padEnd(LIMIT, ' ')
    assert.equal(Buffer.byteLength(body), LIMIT)
    const answer = await ask(s.port, post(body, 'Authorization: Bearer key-one\r\n'))
    assert.match(answer.head, /^HTTP\/1\.1 200 OK\n/)
  })

  void test('auth is judged before size: an unauthenticated oversized POST is 401', async () => {
    const request = `POST /v1/features HTTP/1.1\r\nHost: x\r\nContent-Length: ${LIMIT * 10}\r\n\r\n`
    assert.deepEqual(await ask(s.port, request), { head: unauthorizedHead(true), body: UNAUTHORIZED_BODY, requestId: false })
  })

  void test('WebSocket upgrade: 401 without a key or with a wrong one; a Bearer header or ?access_token= opens it', async () => {
    const refused = upgradeRefusedHead(s.transport)
    for (const request of [upgrade('/v1/subscribe'), upgrade('/v1/subscribe?access_token=nope'), upgrade('/v1/subscribe', 'Authorization: Bearer nope\r\n')]) {
      assert.deepEqual(await ask(s.port, request), { head: refused, body: UNAUTHORIZED_BODY, requestId: false }, request)
    }
    for (const request of [upgrade('/v1/subscribe?access_token=key-two'), upgrade('/v1/subscribe', 'Authorization: Bearer key-one\r\n')]) {
      const { text } = await rawRequest(s.port, request, { idleMs: 300 })
      assert.match(text, /^HTTP\/1\.1 101 Switching Protocols\r\n/, request)
    }
  })

  void test('refusals are counted per route and status in the metrics', async () => {
    await ask(s.port, get('/v1/features/user_stats/u1'))
    await ask(s.port, post(VALID_POST))
    await ask(s.port, `POST /v1/features HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer key-one\r\nContent-Length: ${LIMIT + 1}\r\n\r\n`)
    const text = await s.server.metricsText()
    assert.match(text, /kfs_serving_responses_total\{route="get_features",status="401"\} [1-9]/)
    assert.match(text, /kfs_serving_responses_total\{route="post_features",status="401"\} [1-9]/)
    assert.match(text, /kfs_serving_responses_total\{route="post_features",status="413"\} [1-9]/)
  })
})

void describe('serving > auth and body limits: no keys configured', () => {
  let s: TestServer
  before(async () => {
    s = await startServer({ options: { maxBodyBytes: LIMIT } })
  })
  after(() => s.close())

  void test('every route is open, and the body limit still holds', async () => {
    for (const path of GUARDED_GETS) assert.match((await ask(s.port, get(path))).head, /^HTTP\/1\.1 200 OK\n/, path)
    assert.match((await ask(s.port, post(VALID_POST))).head, /^HTTP\/1\.1 200 OK\n/)
    assert.match((await rawRequest(s.port, upgrade('/v1/subscribe'), { idleMs: 300 })).text, /^HTTP\/1\.1 101 /)
    const request = `POST /v1/features HTTP/1.1\r\nHost: x\r\nContent-Length: ${LIMIT + 1}\r\n\r\n`
    assert.deepEqual(await ask(s.port, request), { head: tooLargeHead, body: tooLargeBody, requestId: false })
  })
})

void describe('serving > auth and body limits: every route is behind the request guard', () => {
  let s: TestServer
  before(async () => {
    s = await startServer({ options: { apiKeys: KEYS, maxBodyBytes: LIMIT, servedLog: servedLogStub } })
  })
  after(() => s.close())

  /** The route's pattern with each `:param` filled in (the guard answers before the handler looks at it). */
  const concrete = (pattern: string): string => pattern.replace(/:[^/]+/g, 'x')

  const requestFor = (method: 'GET' | 'POST' | 'WS', path: string, headers = ''): string =>
    method === 'WS' ? upgrade(path, headers) : method === 'POST' ? `POST ${path} HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n${headers}\r\n{}` : get(path, headers)

  void test('each mounted route but /healthz answers an unauthenticated request with the 401; with a key none does', async () => {
    const routes = s.server.routes
    assert.ok(routes.length >= 8, `the server reports its routes (${routes.length})`)
    assert.deepEqual(
      routes.filter((r) => r.access === 'public').map((r) => `${r.method} ${r.pattern}`),
      ['GET /healthz'],
      'a new public route is a decision: add it here',
    )
    for (const route of routes) {
      const path = concrete(route.pattern)
      const what = `${route.method} ${route.pattern}`
      const anonymous = await ask(s.port, requestFor(route.method, path))
      if (route.access === 'public') {
        assert.doesNotMatch(anonymous.head, /^HTTP\/1\.1 401/, what)
        continue
      }
      // An HTTP route that reads a body closes the connection it refused (the body stays unread).
      const head = route.method === 'WS' ? upgradeRefusedHead(s.transport) : unauthorizedHead(route.method === 'POST')
      assert.deepEqual(anonymous, { head, body: UNAUTHORIZED_BODY, requestId: false }, what)
      const { text } = await rawRequest(s.port, requestFor(route.method, path, 'Authorization: Bearer key-two\r\n'), { idleMs: 300 })
      assert.doesNotMatch(text, /^HTTP\/1\.1 401/, `${what} with a key`)
    }
  })

  void test('routes are registered only by the router (serving/server/router.ts), so none can skip the guard', async () => {
    const root = new URL('../../../', import.meta.url)
    const registering = /\bapp\s*\.\s*(get|post|put|patch|del|options|head|connect|trace|any|ws)\s*[<(]|\bapp\s*\[/
    const offenders: string[] = []
    for (const file of await readdir(new URL('serving/', root), { recursive: true })) {
      if (!file.endsWith('.ts')) continue
      const text = await readFile(new URL(`serving/${file}`, root), 'utf8')
      if (registering.test(text)) offenders.push(file)
    }
    assert.deepEqual(offenders, ['server/router.ts'])
  })
})
