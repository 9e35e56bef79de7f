/**
 * The doors of `kfs serve` as an outside client finds them, on both transports (uWebSockets.js
 * where it loads, and node:http + ws), for the classes the fixed corpus (audit-request-corpus.test.ts)
 * does not draw: random bodies from a seeded generator, a client gone before the answer on every
 * route while its answer is still being worked out, and requests arriving while the server shuts
 * down. On uWS a write to an aborted response ends the process, so "the next request answered"
 * is the check that the server lived through each.
 */
import assert from 'node:assert/strict'
import { connect } from 'node:net'
import { after, before, describe, test } from 'node:test'
import fc from 'fast-check'
import type { CatalogStatus } from '../../../serving/handlers/catalog/status.ts'
import type { CatalogTable } from '../../../serving/handlers/iceberg-catalog.ts'
import { echoAmount, GOOD, ROUTE_PATHS } from './request-corpus.ts'
import { gatedStore, rawRequest, startServer, transportsUnderTest, type TestServer } from './server-harness.ts'

const STATUSES_OF_A_BAD_BODY = new Set([200, 400, 404, 413])

/** JSON-ish text a client might send: values with odd strings, keys twice, deep or wide, then cut or spliced. */
function hostileBodies(seed: number, count: number): string[] {
  const oddString = fc.oneof(
    fc.string(),
    fc.string({ unit: 'binary' }),
    fc.constantFrom('\u0000', '\ud800', '\udfff', 'a\u0000b', '\ufeff', 'u1', '', 'x'.repeat(600)),
  )
  const value = fc.letrec((tie) => ({
    any: fc.oneof(
      { depthSize: 'small' },
      fc.constant(null),
      fc.boolean(),
      fc.double(),
      fc.integer(),
      fc.bigInt().map((b) => b.toString()),
      oddString,
      tie('list'),
      tie('object'),
    ),
    list: fc.array(tie('any'), { maxLength: 5 }),
    object: fc.dictionary(oddString, tie('any'), { maxKeys: 4 }),
  })).any
  const request = fc.record(
    {
      entities: fc.oneof(value, fc.dictionary(fc.constantFrom('user_id', 'item_id', 'x'), fc.array(value, { maxLength: 3 }))),
      features: fc.oneof(
        value,
        fc.array(fc.constantFrom('user_stats:clicks_1h', 'item_stats:price', 'echo_amount', 'nope:x'), { maxLength: 3 }),
      ),
      service: value,
      request: fc.oneof(value, fc.record({ amount: value })),
    },
    { requiredKeys: [] },
  )
  const text = fc.oneof(
    request.map((r) => JSON.stringify(r)),
    // A key given twice, spliced into a good body.
    fc.constantFrom('entities', 'features', 'user_id').map((key) => GOOD.replace(`"${key}":`, `"${key}":1,"${key}":`)),
    // Deep or wide nesting where a list of keys goes.
    fc.integer({ min: 1, max: 50_000 }).map((n) => GOOD.replace('["u1"]', '['.repeat(n) + ']'.repeat(n))),
    fc
      .integer({ min: 1, max: 3_000 })
      .map((n) => GOOD.replace('["u1"]', JSON.stringify(Array.from({ length: n }, (_, i) => (i % 3 === 0 ? i : `u${i}`))))),
  )
  // Then cut short, or a byte changed, now and then.
  const mangled = fc
    .tuple(text, fc.nat(), fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 255 }))
    .map(([t, at, how, byte]) => {
      const bytes = Buffer.from(t, 'utf8')
      if (how === 1) return bytes.subarray(0, at % (bytes.length + 1)).toString('latin1')
      if (how === 2 && bytes.length > 0) bytes[at % bytes.length] = byte
      return bytes.toString('latin1')
    })
  return fc.sample(mangled, { seed, numRuns: count })
}

void describe('serving > audit > hostile clients on both transports', () => {
  const servers: TestServer[] = []
  /** Per server: lets its store reads, catalog status and table listings answer. */
  const releases = new Map<TestServer, () => void>()
  before(async () => {
    for (const transport of transportsUnderTest()) {
      const gate = gatedStore()
      const held: (() => void)[] = []
      const s = await startServer({
        requestFeatures: [echoAmount],
        store: gate.store,
        options: {
          transport,
          requestTimeoutMs: 5_000,
          // Answers that wait until the test lets them go, so a client can leave before them.
          catalogStatus: () => new Promise<CatalogStatus>((resolve) => held.push(() => resolve({ views: {} }))),
          icebergTables: () => new Promise<readonly CatalogTable[]>((resolve) => held.push(() => resolve([]))),
        },
      })
      if (servers.some((other) => other.transport === s.transport)) {
        await s.close()
        continue
      }
      servers.push(s)
      releases.set(s, () => {
        gate.release()
        for (const answer of held.splice(0)) answer()
      })
    }
  })
  after(async () => {
    for (const s of servers) {
      releases.get(s)?.()
      await s.close()
    }
  })

  const failures = (s: TestServer): unknown[] =>
    s.logs.filter((l) => l.level === 'error' || l.level === 'fatal' || l.level === 'warn')

  void test('a client gone before the answer, on every route and method: counted as aborted (499), nothing written or logged, the server serves on', async () => {
    const targets = [
      ...ROUTE_PATHS.filter(([path, method]) => method === 'GET' && path !== '/v1/subscribe').flatMap(([path]) => [
        `GET ${path}`,
        `HEAD ${path}`,
      ]),
      'GET /v1/features/user_item?user_id=u1&item_id=1',
    ]
    for (const s of servers) {
      const sockets = await Promise.all(
        [
          ...targets.map((t) => `${t} HTTP/1.1\r\nHost: x\r\n\r\n`),
          `POST /v1/features HTTP/1.1\r\nHost: x\r\nContent-Length: ${GOOD.length}\r\n\r\n${GOOD}`,
        ].map(async (request) => {
          const socket = connect(s.port, '127.0.0.1')
          socket.on('error', () => {})
          await new Promise((resolve) => socket.once('connect', resolve))
          socket.write(request)
          return socket
        }),
      )
      // Every request in: the waiting ones wait on the store, the catalog status or the table listing.
      await new Promise((resolve) => setTimeout(resolve, 200))
      for (const socket of sockets) socket.destroy()
      const waiting = ['get_features', 'post_features', 'catalog', 'iceberg_catalog']
      const abortedOf = (text: string, route: string): number =>
        Number(new RegExp(`^kfs_serving_responses_total\\{route="${route}",status="499"\\} (\\d+)$`, 'm').exec(text)?.[1] ?? '0')
      for (;;) {
        const text = await s.server.metricsText()
        if (waiting.every((route) => abortedOf(text, route) > 0)) break
        await new Promise((resolve) => setTimeout(resolve, 10))
      }
      // Their answers come now, to responses that are gone.
      releases.get(s)?.()
      await new Promise((resolve) => setTimeout(resolve, 100))
      const res = await fetch(`${s.base}/v1/features/user_stats/u1`)
      assert.equal(res.status, 200, s.transport)
      assert.deepEqual(failures(s), [], s.transport)
    }
  })

  void test('200 random bodies from a seeded generator: each a 2xx or a client error naming it, never a server failure; the server serves on', async () => {
    for (const seed of [39, 160]) {
      const bodies = hostileBodies(seed, 100)
      for (const s of servers) {
        releases.get(s)?.()
        const answers = await Promise.all(
          bodies.map(async (text) => {
            const res = await fetch(`${s.base}/v1/features`, { method: 'POST', body: Buffer.from(text, 'latin1') })
            return { status: res.status, body: await res.text(), text }
          }),
        )
        for (const { status, body, text } of answers) {
          const where = `${s.transport}, seed ${seed}: ${JSON.stringify(text.slice(0, 200))} → ${status} ${body.slice(0, 200)}`
          assert.ok(STATUSES_OF_A_BAD_BODY.has(status), where)
          if (status === 200) continue
          const { error } = JSON.parse(body) as { error: { code: unknown; message: unknown; errorId?: unknown } }
          assert.match(String(error.code), /^[A-Z_]+$/, where)
          assert.ok(typeof error.message === 'string' && error.message.length > 0, where)
          assert.equal(error.errorId, undefined, `${where}: a client's mistake is not a server failure`)
        }
        assert.deepEqual(failures(s), [], s.transport)
      }
    }
  })

  void test('requests while the server shuts down: the ones in flight answered, new connections refused, close() ends', async () => {
    for (const transport of transportsUnderTest()) {
      const gate = gatedStore()
      const s = await startServer({ store: gate.store, options: { transport } })
      const inFlight = Array.from({ length: 5 }, () =>
        rawRequest(s.port, 'GET /v1/features/user_stats/u1 HTTP/1.1\r\nHost: x\r\n\r\n', { idleMs: 10_000 }),
      )
      await new Promise((resolve) => setTimeout(resolve, 100))
      const closing = s.close()
      const late = await rawRequest(s.port, 'GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n', { idleMs: 2_000 }).then(
        (answer) => answer.text,
        (err: NodeJS.ErrnoException) => err.code,
      )
      assert.equal(late, 'ECONNREFUSED', `${s.transport}: a connection after close() began`)
      gate.release()
      await closing
      for (const answer of await Promise.all(inFlight)) assert.match(answer.text, /^HTTP\/1\.1 200 /, s.transport)
      assert.deepEqual(failures(s), [], s.transport)
    }
  })
})
