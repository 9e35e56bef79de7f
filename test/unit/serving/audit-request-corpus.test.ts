/**
 * The bad-request corpus, one table, on both transports (uWebSockets.js where it loads and
 * node:http + ws): every kind of malformed target, method, header, framing, body and auth. For
 * each request: the status is one the OpenAPI document lists for the operation (or a router
 * fallback, 404/405), an error body fits the document's Error schema, the answer is the same on
 * both transports, nothing is logged as a server failure, and a good request right after it is
 * answered with the stored value.
 *
 * Requests the HTTP parser itself refuses (a Content-Length that is not a number, a method no
 * parser knows…) never reach the routes: node:http answers them with the error body and closes
 * (node-client-errors.ts), uWebSockets.js closes the connection without a word. Those rows say
 * `parser` and the test pins both behaviours; every other row must answer alike on both.
 */
import assert from 'node:assert/strict'
import { connect, type Socket } from 'node:net'
import { after, before, describe, test } from 'node:test'
import type { TransportName } from '../../../serving/server/index.ts'
import { FALLBACK_STATUSES, operationOf, PARSER_STATUSES, schemaErrors, type OpenApiDoc } from './openapi-check.ts'
import {
  AUTH,
  AUTHS,
  echoAmount,
  GOOD,
  HANDSHAKES,
  HEADERS,
  KEY,
  METHODS,
  STALLS,
  TARGETS,
  type Answered,
  type Case,
  type ParserRefusal,
} from './request-corpus.ts'
import { BODIES } from './request-corpus-bodies.ts'
import { parseResponse, rawRequest, startServer, transportsUnderTest, type TestServer } from './server-harness.ts'

const CORPUS: readonly (readonly [section: string, cases: readonly Case[]])[] = [
  ['request targets and methods', TARGETS],
  ['every other method on every route', METHODS],
  ['WebSocket handshakes', HANDSHAKES],
  ['headers and framing', HEADERS],
  ['bodies of POST /v1/features', BODIES],
  ['authentication', AUTHS],
]

/** POSTs of features counted as aborted (499) so far. */
async function aborted(s: TestServer): Promise<number> {
  const line = /^kfs_serving_responses_total\{route="post_features",status="499"\} (\d+)$/m.exec(await s.server.metricsText())
  return Number(line?.[1] ?? '0')
}

/** A connected socket that has sent `first`. */
async function open(port: number, first = ''): Promise<Socket> {
  const socket = connect(port, '127.0.0.1')
  socket.on('error', () => {})
  await new Promise<void>((resolve) => socket.once('connect', resolve))
  if (first !== '') socket.write(first)
  return socket
}

interface Observed {
  readonly transport: TransportName
  readonly text: string
  readonly closedByServer: boolean
}

/** The method and path of a raw request, for the operation it addresses. */
function methodAndPath(request: string | Buffer): [string, string] {
  const line = (typeof request === 'string' ? request : request.subarray(0, 2048).toString('latin1')).split('\r\n')[0]!
  const [method = '', target = ''] = line.split(' ')
  return [method, target.split('?')[0]!]
}

void describe('serving > audit > the bad-request corpus on both transports', () => {
  const servers: TestServer[] = []
  let doc: OpenApiDoc
  before(async () => {
    for (const transport of transportsUnderTest()) {
      const s = await startServer({ requestFeatures: [echoAmount], options: { transport, apiKeys: [KEY] } })
      if (servers.some((other) => other.transport === s.transport)) await s.close()
      else servers.push(s)
    }
    doc = (await (
      await fetch(`${servers[0]!.base}/openapi.json`, { headers: { authorization: `Bearer ${KEY}` } })
    ).json()) as OpenApiDoc
  })
  after(async () => {
    for (const s of servers) await s.close()
  })

  const goodRequestAnswered = async (s: TestServer): Promise<void> => {
    const res = await fetch(`${s.base}/v1/features/user_stats/u1`, { headers: { authorization: `Bearer ${KEY}` } })
    assert.equal(res.status, 200, `${s.transport}: the next good request`)
    assert.equal(((await res.json()) as { features: { clicks_1h: unknown } }).features.clicks_1h, 7)
  }

  /** Sends `request` to every server at once and checks each answer against `expect`, and the answers against each other. */
  const checkCase = async (request: string | Buffer, expect: Answered | ParserRefusal): Promise<void> => {
    const untilClose = ('parser' in expect ? expect.parser : expect).closes === true
    const observed: Observed[] = await Promise.all(
      servers.map(async (s) => ({
        transport: s.transport,
        ...(await rawRequest(s.port, request, { idleMs: 5000, untilClose })),
      })),
    )
    for (const s of servers) await goodRequestAnswered(s)
    const [method, path] = methodAndPath(request)
    const compared: unknown[] = []
    for (const { transport, text, closedByServer } of observed) {
      const where = `${transport}: ${text.slice(0, 300)}`
      if ('parser' in expect && transport === 'uws') {
        assert.equal(text, '', `${where}: uWS sends nothing`)
        assert.ok(closedByServer, `${where}: uWS closes`)
        continue
      }
      const expected = 'parser' in expect ? expect.parser : expect
      const res = parseResponse(text)
      assert.equal(res.status, expected.status, where)
      if (expected.closes === true) assert.ok(closedByServer, `${where}: the server closes the connection`)
      if (res.status === 100) continue
      const operation = operationOf(doc, method, path)
      const listed =
        'parser' in expect || expected.framing === true
          ? [...PARSER_STATUSES]
          : [...Object.keys(operation?.responses ?? {}).map(Number), ...FALLBACK_STATUSES]
      assert.ok(
        listed.includes(res.status),
        `${where}: ${res.status} is not in the OpenAPI document for ${method} ${path} (${listed.join(', ')})`,
      )
      if (expected.code === undefined) {
        // A success body fits the schema its operation names for it.
        const content = operation?.responses[String(res.status)]?.content as
          Record<string, { schema: Record<string, unknown> }> | undefined
        const schema = content?.['application/json']?.schema
        if (schema !== undefined) assert.deepEqual(schemaErrors(doc, schema, JSON.parse(res.body)), [], where)
        continue
      }
      assert.equal(res.headers['content-type'], 'application/json', where)
      const error = JSON.parse(res.body) as { error: { code: string; message: string; errorId?: string } }
      assert.deepEqual(schemaErrors(doc, { $ref: '#/components/schemas/Error' }, error), [], where)
      assert.equal(error.error.code, expected.code, where)
      assert.match(error.error.message, expected.message ?? /./, where)
      assert.equal(error.error.errorId, undefined, `${where}: a client's mistake is not a server failure`)
      // The answer names what was wrong; it does not carry the input back.
      assert.ok(res.body.length < 2048, `${where}: a ${res.body.length}-byte answer`)
      compared.push({ status: res.status, body: error })
    }
    if (compared.length > 1)
      for (const other of compared.slice(1)) assert.deepEqual(other, compared[0], 'the transports answer alike')
    for (const s of servers) {
      assert.deepEqual(
        s.logs.filter((l) => l.level === 'error' || l.level === 'fatal'),
        [],
        `${s.transport}: nothing logged as a server failure`,
      )
    }
  }

  for (const [section, cases] of CORPUS) {
    for (const [what, request, expect] of cases) void test(`${section}: ${what}`, () => checkCase(request, expect))
  }

  void test('clients that stall mid-body: 408 once the request timeout passes, closed, on both (at once, not one by one)', async () => {
    await Promise.all(STALLS.map(([, request, expect]) => checkCase(request, expect)))
  })

  void test('a client gone mid-body: counted as aborted (499), nothing written or logged, the next request answered', async () => {
    for (const s of servers) {
      const before = await aborted(s)
      const socket = await open(s.port)
      socket.write(`POST /v1/features HTTP/1.1\r\nHost: x\r\n${AUTH}Content-Length: ${GOOD.length}\r\n\r\n${GOOD.slice(0, 10)}`)
      await new Promise((resolve) => setTimeout(resolve, 50))
      socket.destroy()
      while ((await aborted(s)) !== before + 1) await new Promise((resolve) => setTimeout(resolve, 10))
      await goodRequestAnswered(s)
      assert.deepEqual(
        s.logs.filter((l) => l.level === 'error' || l.level === 'warn'),
        [],
        s.transport,
      )
    }
  })

  void test('200 connections that send part of a head and stall, beside 200 good requests at once: the good ones answered, the stalled ones closed within the 10-s head bound', async () => {
    // Both transports at once: each waits out its own head timeout.
    await Promise.all(
      servers.map(async (s) => {
        const stalled = await Promise.all(
          Array.from({ length: 200 }, (_, i) => open(s.port, i % 2 === 0 ? '' : 'GET /healthz HTTP/1.1\r\nHost: x\r\n')),
        )
        const closed = stalled.map(
          (socket) =>
            new Promise<string>((resolve) => {
              let text = ''
              socket.on('data', (chunk: Buffer) => (text += chunk.toString('latin1')))
              socket.on('close', () => resolve(text))
            }),
        )
        const answers = await Promise.all(
          Array.from({ length: 200 }, (_, i) =>
            fetch(`${s.base}/v1/features/user_stats/u${i % 3}`, { headers: { authorization: `Bearer ${KEY}` } }),
          ),
        )
        assert.deepEqual(new Set(answers.map((r) => r.status)), new Set([200]), s.transport)
        await Promise.all(answers.map((r) => r.text()))
        const started = performance.now()
        const texts = await Promise.all(closed)
        // uWS checks its timeouts every 4 s, so a 10-s timeout fires within 8-12 s of the last byte.
        assert.ok(
          performance.now() - started < 13_000,
          `${s.transport}: closed after ${(performance.now() - started).toFixed(0)} ms`,
        )
        for (const text of texts) {
          if (s.transport === 'uws') assert.equal(text, '', 'uWS closes a stalled head without an answer')
          else
            assert.match(
              text,
              /^HTTP\/1\.1 408 Request Timeout\r\n[^]*"code":"REQUEST_TIMEOUT"/,
              'node:http answers 408 with the error body',
            )
        }
        await goodRequestAnswered(s)
      }),
    )
  })
})
