/**
 * The client `kfs codegen` prints, run against every answer (stubbed fetch): null values and each
 * status come through; a value its feature's type cannot hold, a proxy's page, a 2xx that is not
 * a feature answer, a cut body, nothing listening — each is a KfsError with a code, never a
 * TypeError and never a wrong value handed to code typed to trust it.
 */
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import { pathToFileURL } from 'node:url'
import { generatedModules } from './awkward-services.ts'

const work = generatedModules()

type Row = { entity: unknown; features: Record<string, unknown>; views: Record<string, { status: string; as_of: number | null }> }
type ClientModule = {
  createNewClient(o: { url: string; fetch?: typeof fetch }): {
    getOnlineFeatures(e: readonly Record<string, unknown>[]): Promise<Row[]>
  }
}

const answerOf = (rows: readonly { values: unknown[]; status: string; as_of: number | null }[]): unknown => ({
  features: ['enum:yield'],
  rows: rows.map((r, i) => ({
    entities: { in: i, default: 1 },
    values: r.values,
    views: { enum: { status: r.status, as_of: r.as_of, age_ms: null } },
  })),
})
const json = (body: unknown, status = 200): Response =>
  new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } })

/** A body that errors after its first bytes: the connection closed mid-body. */
function cutShort(status: number, start: string): Response {
  const stream = new ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(new TextEncoder().encode(start))
      controller.error(new Error('socket closed'))
    },
  })
  return new Response(stream, { status, headers: { 'content-type': 'application/json' } })
}

const TWO = [
  { in: 1, default: 1 },
  { in: 2, default: 1 },
]

// Each answer the client can get, and the code of the KfsError it must throw.
const FAILURES: readonly {
  readonly name: string
  readonly answer: () => Response | Promise<Response>
  readonly code: string
  readonly status?: number
}[] = [
  {
    name: 'a proxy page with 200',
    answer: () => new Response('<html>hello</html>', { status: 200, headers: { 'content-type': 'text/html' } }),
    code: 'BAD_RESPONSE',
  },
  { name: 'an empty 200', answer: () => new Response('', { status: 200 }), code: 'BAD_RESPONSE' },
  { name: 'a JSON list', answer: () => json([]), code: 'BAD_RESPONSE' },
  { name: 'JSON null', answer: () => json(null), code: 'BAD_RESPONSE' },
  { name: 'no features', answer: () => json({ rows: [] }), code: 'BAD_RESPONSE' },
  { name: 'no rows', answer: () => json({ features: ['enum:yield'] }), code: 'BAD_RESPONSE' },
  {
    name: 'fewer rows than entities',
    answer: () => json(answerOf([{ values: [1], status: 'PRESENT', as_of: 1 }])),
    code: 'BAD_RESPONSE',
  },
  {
    name: 'a row without values',
    answer: () => json({ features: ['enum:yield'], rows: [{ views: {} }, { views: {} }] }),
    code: 'BAD_RESPONSE',
  },
  {
    name: 'a row with too few values',
    answer: () =>
      json(
        answerOf([
          { values: [], status: 'PRESENT', as_of: 1 },
          { values: [], status: 'PRESENT', as_of: 1 },
        ]),
      ),
    code: 'BAD_RESPONSE',
  },
  {
    name: 'a row without views',
    answer: () => json({ features: ['enum:yield'], rows: [{ values: [1] }, { values: [1] }] }),
    code: 'BAD_RESPONSE',
  },
  {
    name: 'an unknown status',
    answer: () =>
      json(
        answerOf([
          { values: [1], status: 'STALE', as_of: 1 },
          { values: [1], status: 'PRESENT', as_of: 1 },
        ]),
      ),
    code: 'BAD_RESPONSE',
  },
  {
    name: 'text for a long',
    answer: () =>
      json(
        answerOf([
          { values: ['7'], status: 'PRESENT', as_of: 1 },
          { values: [1], status: 'PRESENT', as_of: 1 },
        ]),
      ),
    code: 'BAD_RESPONSE',
  },
  {
    name: 'a fraction for a long',
    answer: () =>
      json(
        answerOf([
          { values: [1.5], status: 'PRESENT', as_of: 1 },
          { values: [1], status: 'PRESENT', as_of: 1 },
        ]),
      ),
    code: 'BAD_RESPONSE',
  },
  {
    name: 'a list for a long',
    answer: () =>
      json(
        answerOf([
          { values: [[1]], status: 'PRESENT', as_of: 1 },
          { values: [1], status: 'PRESENT', as_of: 1 },
        ]),
      ),
    code: 'BAD_RESPONSE',
  },
  {
    name: 'a boolean for a long',
    answer: () =>
      json(
        answerOf([
          { values: [true], status: 'PRESENT', as_of: 1 },
          { values: [1], status: 'PRESENT', as_of: 1 },
        ]),
      ),
    code: 'BAD_RESPONSE',
  },
  { name: 'a 200 cut short', answer: () => cutShort(200, '{"features":'), code: 'UNREACHABLE', status: 200 },
  {
    name: 'a proxy page with 502',
    answer: () => new Response('<html>Bad Gateway</html>', { status: 502 }),
    code: 'HTTP_ERROR',
    status: 502,
  },
  { name: 'an error that is not an object', answer: () => json({ error: 'odd' }, 500), code: 'HTTP_ERROR', status: 500 },
  { name: 'an error cut short', answer: () => cutShort(500, '{"error":'), code: 'UNREACHABLE', status: 500 },
  {
    name: 'kfs STORED_ROW_UNREADABLE',
    answer: () => json({ error: { code: 'STORED_ROW_UNREADABLE', message: 'm', view: 'enum' } }, 500),
    code: 'STORED_ROW_UNREADABLE',
    status: 500,
  },
  {
    name: 'kfs STORE_READ_REFUSED',
    answer: () => json({ error: { code: 'STORE_READ_REFUSED', message: 'm' } }, 500),
    code: 'STORE_READ_REFUSED',
    status: 500,
  },
  {
    name: 'kfs DATA_CORRUPT',
    answer: () => json({ error: { code: 'DATA_CORRUPT', message: 'm' } }, 500),
    code: 'DATA_CORRUPT',
    status: 500,
  },
  { name: 'nothing listening', answer: () => Promise.reject(new TypeError('fetch failed')), code: 'UNREACHABLE' },
]

void describe('kfs codegen: the generated client parses every answer into rows or a KfsError with a code', async () => {
  const { createNewClient } = (await import(pathToFileURL(join(work, 'new.ts')).href)) as ClientModule
  const client = (answer: () => Response | Promise<Response>) =>
    createNewClient({ url: 'http://kfs', fetch: () => Promise.resolve().then(answer) })

  void test('null values and every status come through as the server sent them', async () => {
    const sent = [
      { values: [null], status: 'MISSING', as_of: null },
      { values: [null], status: 'OUTSIDE_TTL', as_of: 5 },
      { values: [-0], status: 'PRESENT', as_of: 6 },
    ]
    const rows = await client(() => new Response(JSON.stringify(answerOf(sent)).replace('[0]', '[-0.0]'))).getOnlineFeatures([
      ...TWO,
      { in: 3, default: 1 },
    ])
    assert.deepEqual(
      rows.map((r) => [r.features['enum:yield'], r.views.enum!.status, r.views.enum!.as_of]),
      sent.map((s) => [s.values[0], s.status, s.as_of]),
    )
    assert.ok(Object.is(rows[2]!.features['enum:yield'], -0), 'a double -0.0 stays -0')
  })

  for (const failure of FAILURES) {
    void test(`${failure.name}: KfsError ${failure.code}`, async () => {
      await assert.rejects(client(failure.answer).getOnlineFeatures(TWO), (err: Error & { code?: string; status?: number }) => {
        assert.equal(err.name, 'KfsError', `${err.name}: ${err.message}`)
        assert.equal(err.code, failure.code, err.message)
        if (failure.status !== undefined) assert.equal(err.status, failure.status)
        return true
      })
    })
  }
})

void describe('kfs codegen: values of every type are taken, and refused when their type cannot hold them', async () => {
  type ClassModule = {
    CLASS_FEATURES: readonly string[]
    createClassClient(o: { url: string; fetch?: typeof fetch }): {
      getOnlineFeatures(e: readonly Record<string, unknown>[], r: Record<string, unknown>): Promise<Row[]>
    }
  }
  const { CLASS_FEATURES, createClassClient } = (await import(pathToFileURL(join(work, 'class.ts')).href)) as ClassModule
  // One good value per output, in answer order (function@1: long, double, string, long[], double[], string[]; function@2: double, long; enum: long; return, void, typeof, await).
  const good: unknown[] = [3, -0.5, 'ü', [1, 2], [], ['a'], 2, 7, 9, true, 4, 'x', 1.5]
  const answer = (values: unknown[]): Response =>
    json({
      features: CLASS_FEATURES,
      rows: [{ entities: {}, values, views: { 'function@1': { status: 'PRESENT', as_of: 1, age_ms: 0 } } }],
    })
  const call = (values: unknown[]) =>
    createClassClient({ url: 'http://kfs', fetch: () => Promise.resolve(answer(values)) }).getOnlineFeatures(
      [{ default: 'd', in: 1 }],
      { if: 1, else: 1.5, for: 'x', while: true },
    )

  void test('a value of each type, and null for each, come through', async () => {
    assert.equal(good.length, CLASS_FEATURES.length)
    const [row] = await call(good)
    assert.deepEqual(Object.values(row!.features), good)
    const [nulls] = await call(good.map(() => null))
    assert.ok(Object.values(nulls!.features).every((v) => v === null))
  })

  const WRONG: readonly [string, number, unknown][] = [
    ['a fraction for a long', 0, 1.5],
    ['text for a double', 1, '1'],
    ['a number for a string', 2, 3],
    ['a fraction in a long list', 3, [1, 2.5]],
    ['a scalar for a double list', 4, 1],
    ['a number in a string list', 5, ['a', 1]],
    ['a number for a boolean', 9, 1],
    ['a boolean for a string', 11, false],
  ]
  for (const [name, at, value] of WRONG) {
    void test(`${name}: BAD_RESPONSE`, async () => {
      const values = [...good]
      values[at] = value
      await assert.rejects(
        call(values),
        (err: Error & { code?: string }) => err.name === 'KfsError' && err.code === 'BAD_RESPONSE',
      )
    })
  }
})
