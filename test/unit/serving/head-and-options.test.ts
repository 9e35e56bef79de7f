/**
 * Every route × every method (GET, HEAD, POST, PUT, DELETE, PATCH, OPTIONS and a token no parser
 * knows), on both transports, answered as serving/server/router.ts and the OpenAPI info say:
 *
 * - HEAD of a GET route answers as its GET does — status, headers, Content-Length of the GET's body
 *   (RFC 9110 §9.3.2) — without the body, its guard included (no key: 401 as the GET);
 * - OPTIONS of a known path is 204 with `Allow` listing its methods, no body, no Content-Length,
 *   without auth (a preflight carries no credentials); the server sends no CORS headers anywhere;
 * - another method is 405 with that `Allow` (HEAD's without the body);
 * - the unknown token is the parser's refusal (node:http 400 and closes, uWS closes unanswered).
 *
 * Each request is followed on its connection by a GET /healthz: a bodiless answer that is framed
 * wrong (a body after HEAD, a Content-Length the body does not follow) shows as a second answer
 * that is not the health check's (a POST the fallback answers 405 closes, its body unread). Before, HEAD and OPTIONS were 405 everywhere, and uWS sent the
 * 405's body after HEAD — the next answer on the connection was read as garbage.
 */
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { allowOf, AUTH, echoAmount, GOOD, KEY, ROUTE_PATHS } from './request-corpus.ts'
import { rawRequest, startServer, transportsUnderTest, type TestServer } from './server-harness.ts'

const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'BREW'] as const
const NEXT = 'GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'
/** Headers that differ by transport or by the second, not by the answer. */
const TRANSPORT_HEADERS = new Set(['date', 'uwebsockets', 'connection', 'keep-alive'])

interface Answer {
  readonly status: number
  readonly headers: Readonly<Record<string, string>>
  readonly body: string
  /** The answer to the GET /healthz sent after it on the connection ('' when the connection closed first). */
  readonly next: string
  /** Nothing came back at all. */
  readonly none: boolean
}

/** Sends `method path` (POST with a good body), then GET /healthz on the same connection. */
async function ask(s: TestServer, method: string, path: string, auth = AUTH): Promise<Answer> {
  const body = method === 'POST' ? GOOD : ''
  const request = `${method} ${path} HTTP/1.1\r\nHost: x\r\n${auth}${body === '' ? '' : `Content-Length: ${body.length}\r\n`}\r\n${body}`
  const { text } = await rawRequest(s.port, request + NEXT, { untilClose: true, idleMs: 10_000 })
  if (text === '') return { status: 0, headers: {}, body: '', next: '', none: true }
  const end = text.indexOf('\r\n\r\n')
  assert.ok(end > 0, `${s.transport} ${method} ${path}: ${text.slice(0, 200)}`)
  const [statusLine, ...lines] = text.slice(0, end).split('\r\n')
  const headers: Record<string, string> = {}
  for (const line of lines) headers[line.slice(0, line.indexOf(':')).toLowerCase()] = line.slice(line.indexOf(':') + 1).trim()
  const status = Number(statusLine!.split(' ')[1])
  // HEAD and 204 answers have no body whatever their Content-Length says (RFC 9110 §6.3).
  const bodyless = method === 'HEAD' || status === 204
  const rest = Buffer.from(text.slice(end + 4), 'utf8')
  const length = bodyless ? 0 : Number(headers['content-length'] ?? '0')
  return {
    status,
    headers,
    body: rest.subarray(0, length).toString('utf8'),
    next: rest.subarray(length).toString('utf8'),
    none: false,
  }
}

function assertNextAnswered(a: Answer, where: string): void {
  assert.match(
    a.next,
    /^HTTP\/1\.1 200 OK\r\n[\s\S]*\r\n\r\n\{"status":"ok"\}$/,
    `${where}: the next request on the connection is answered`,
  )
}

/** The answer as both transports must give it alike. */
function comparable(a: Answer, path: string): unknown {
  const headers = Object.entries(a.headers).filter(([name]) => !TRANSPORT_HEADERS.has(name))
  // /metrics names the transport serving: its body, and so its length, differ by transport.
  if (path === '/metrics')
    return { status: a.status, headers: headers.filter(([name]) => name !== 'content-length').map(([n]) => n) }
  return { status: a.status, headers: Object.fromEntries(headers), body: a.body }
}

void describe('serving > HEAD and OPTIONS on every route, both transports alike', () => {
  const servers: TestServer[] = []
  before(async () => {
    for (const transport of transportsUnderTest()) {
      const s = await startServer({ requestFeatures: [echoAmount], options: { transport, apiKeys: [KEY] } })
      if (servers.some((other) => other.transport === s.transport)) await s.close()
      else servers.push(s)
    }
  })
  after(async () => {
    for (const s of servers) await s.close()
  })

  for (const [path, taken] of ROUTE_PATHS) {
    const allow = allowOf(taken)
    void test(`${path} (${allow}): every method`, async () => {
      for (const method of METHODS) {
        const answers = await Promise.all(servers.map(async (s) => ({ s, a: await ask(s, method, path) })))
        for (const { s, a } of answers) {
          const where = `${s.transport} ${method} ${path}: ${JSON.stringify(a).slice(0, 400)}`
          if (method === 'BREW') {
            if (s.transport === 'uws') assert.ok(a.none, `${where}: uWS closes unanswered`)
            else assert.deepEqual([a.status, a.next], [400, ''], `${where}: 400, then closed`)
            continue
          }
          assert.equal(a.headers['access-control-allow-origin'], undefined, `${where}: no CORS header`)
          // A body the fallback leaves unread closes the connection (router.ts; http-protocol.test.ts
          // checks it, and uWS may answer a request already read with it first); any other answer keeps it.
          if (method === 'POST' && a.status === 405) assert.equal(a.headers.connection, 'close', where)
          else assertNextAnswered(a, where)
          if (method === 'OPTIONS') {
            assert.equal(a.status, 204, where)
            assert.equal(a.headers.allow, allow, where)
            assert.equal(a.headers['content-length'], undefined, `${where}: no Content-Length on a 204`)
            assert.equal(a.headers['content-type'], undefined, where)
            continue
          }
          const get = method === 'HEAD' ? await ask(s, 'GET', path) : undefined
          if (get !== undefined) {
            // HEAD answers as GET: the same status and headers, GET's body length, no body.
            assert.equal(a.status, get.status, where)
            assert.equal(a.body, '', where)
            const expectedBody = get.status === 405 ? get.body.replace('GET is not allowed', 'HEAD is not allowed') : get.body
            // /metrics counts the requests themselves: its length changes between any two.
            if (path === '/metrics') assert.ok(Number(a.headers['content-length']) > 0, where)
            else assert.equal(a.headers['content-length'], String(Buffer.byteLength(expectedBody)), where)
            const headersOf = (x: Answer) =>
              Object.keys(x.headers)
                .filter((n) => !TRANSPORT_HEADERS.has(n))
                .sort()
            assert.deepEqual(headersOf(a), headersOf(get), where)
            for (const name of headersOf(get))
              if (name !== 'content-length') assert.equal(a.headers[name], get.headers[name], `${where}: ${name}`)
            continue
          }
          if (method === taken) {
            // The route's own answer (a 400 for the join keys missing from the query, 426 without
            // Upgrade, 404 for a table the store has not), not a fallback's.
            assert.notEqual(a.status, 405, where)
            assert.ok(!a.body.includes('no such route'), where)
            continue
          }
          assert.equal(a.status, 405, where)
          assert.equal(a.headers.allow, allow, where)
          const error = JSON.parse(a.body) as { error: { code: string; message: string } }
          assert.deepEqual(error.error.code, 'METHOD_NOT_ALLOWED', where)
          assert.match(error.error.message, new RegExp(`^${method} is not allowed on \\S+; use ${allow}$`), where)
        }
        if (method !== 'BREW' && answers.length > 1) {
          const [first, ...others] = answers.map(({ a }) => comparable(a, path))
          for (const other of others) assert.deepEqual(other, first, `${method} ${path}: the transports answer alike`)
        }
      }
    })
  }

  void test('HEAD runs its GET route guard: without a key, the GET answer (401) without its body; OPTIONS needs no key', async () => {
    for (const s of servers) {
      for (const [path, taken] of ROUTE_PATHS.filter(([, m]) => m === 'GET')) {
        const head = await ask(s, 'HEAD', path, '')
        const get = await ask(s, 'GET', path, '')
        const where = `${s.transport} HEAD ${path} without a key: ${JSON.stringify(head).slice(0, 300)}`
        assert.equal(head.status, get.status, where)
        if (path !== '/healthz' && path !== '/v1/subscribe') assert.equal(head.status, 401, where)
        assert.equal(head.body, '', where)
        if (path !== '/metrics' || get.status !== 200)
          assert.equal(head.headers['content-length'], String(Buffer.byteLength(get.body)), where)
        assertNextAnswered(head, where)
        const options = await ask(s, 'OPTIONS', path, '')
        assert.deepEqual(
          [options.status, options.headers.allow],
          [204, allowOf(taken)],
          `${s.transport} OPTIONS ${path} without a key`,
        )
      }
    }
  })

  void test('OPTIONS and HEAD with a body: answered bodiless, the body skipped, the next request on the connection answered', async () => {
    for (const s of servers) {
      for (const [method, path, status] of [
        ['OPTIONS', '/v1/features', 204],
        ['OPTIONS', '/healthz', 204],
        ['HEAD', '/healthz', 200],
        ['HEAD', '/v1/features', 405],
      ] as const) {
        const { text } = await rawRequest(
          s.port,
          `${method} ${path} HTTP/1.1\r\nHost: x\r\n${AUTH}Content-Length: 2\r\n\r\n{}${NEXT}`,
          {
            untilClose: true,
            idleMs: 10_000,
          },
        )
        const where = `${s.transport} ${method} ${path} with a body: ${JSON.stringify(text)}`
        const end = text.indexOf('\r\n\r\n')
        assert.equal(Number(text.split(' ')[1]), status, where)
        assertNextAnswered({ status, headers: {}, body: '', next: text.slice(end + 4), none: false }, where)
      }
    }
  })

  void test('HEAD and OPTIONS of a path no route has: 404 (HEAD without its body), like GET', async () => {
    for (const s of servers) {
      for (const path of ['/nope', '/v1', '/v1/features/a/b/c']) {
        const get = await ask(s, 'GET', path)
        const head = await ask(s, 'HEAD', path)
        const options = await ask(s, 'OPTIONS', path)
        const where = `${s.transport} ${path}`
        assert.equal(get.status, 404, where)
        assert.deepEqual(
          [head.status, head.body, head.headers['content-length']],
          [404, '', String(Buffer.byteLength(get.body))],
          where,
        )
        assert.equal(options.status, 404, where)
        assert.equal(options.headers.allow, undefined, where)
        for (const a of [head, options]) assertNextAnswered(a, where)
      }
    }
  })
})
