/**
 * Serving robustness, errors: whatever a request feature returns or throws, whatever a store or
 * handler throws, the request ends in one answer — 400 for the client's mistakes, otherwise a
 * logged 500 whose body carries an errorId and never an exception's text — and the process
 * lives on to answer the next request.
 */
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import type { FeatureValue, RequestFeatureDef, RequestValueType } from '../../../features/types.ts'
import type { OnlineChange } from '../../../ports/online-semantics.ts'
import { MAX_STRING_CHARS } from '../../../serving/request-features.ts'
import type { ServingStore } from '../../../ports/serving-store.ts'
import { openWs } from './ws-client.ts'
import { gatedStore, startServer, type LogLine, type TestServer } from './server-harness.ts'

const SECRET = 'hunter2-db-password'
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/

function requestFeature(name: string, outputType: RequestValueType, fn: () => unknown): RequestFeatureDef {
  return {
    kind: 'requestFeature',
    name,
    request: {},
    features: ['user_stats:clicks_1h'],
    outputType,
    fn: fn as () => FeatureValue,
    description: '',
  }
}

function cyclic(): object {
  const o: Record<string, unknown> = { a: 1 }
  o.self = o
  return o
}

const hostile = new Proxy(
  {},
  {
    get: () => {
      throw new Error(SECRET)
    },
    getPrototypeOf: () => {
      throw new Error(SECRET)
    },
    has: () => {
      throw new Error(SECRET)
    },
  },
)

/** Every kind of value a `fn` can return that must not be served, with the type it claims. */
const BAD_OUTPUTS: readonly (readonly [string, RequestValueType, () => unknown])[] = [
  ['bigint', 'long', () => 10n],
  ['bigint_double', 'double', () => 10n],
  ['nan', 'double', () => NaN],
  ['infinity', 'double', () => Infinity],
  ['neg_infinity', 'double', () => -Infinity],
  ['fraction_long', 'long', () => 1.5],
  ['unsafe_long', 'long', () => 2 ** 53],
  ['function', 'double', () => () => 1],
  ['symbol', 'string', () => Symbol(SECRET)],
  ['cyclic', 'string', cyclic],
  ['date', 'string', () => new Date()],
  ['array', 'double', () => [1, 2]],
  ['string_for_double', 'double', () => '1.5'],
  ['number_for_boolean', 'boolean', () => 1],
  ['huge_string', 'string', () => 'x'.repeat(MAX_STRING_CHARS + 1)],
  [
    'throwing_getter',
    'string',
    () => ({
      get value(): never {
        throw new Error(SECRET)
      },
    }),
  ],
  [
    'throwing_tojson',
    'string',
    () => ({
      toJSON: () => {
        throw new Error(SECRET)
      },
    }),
  ],
  ['proxy', 'string', () => hostile],
  ['promise', 'double', () => Promise.resolve(1)],
  ['rejecting_promise', 'double', () => Promise.reject(new Error(SECRET))],
  [
    'async_rejecting',
    'double',
    async () => {
      await new Promise((resolve) => setTimeout(resolve, 5))
      throw new Error(SECRET)
    },
  ],
  [
    'thenable_throwing_then',
    'double',
    () => ({
      get then(): never {
        throw new Error(SECRET)
      },
    }),
  ],
]

/** Ways a `fn` can throw. */
const THROWS: readonly (readonly [string, () => unknown])[] = [
  [
    'throws_error',
    () => {
      throw new Error(`cannot reach ${SECRET}`)
    },
  ],
  [
    'throws_string',
    () => {
      throw SECRET
    },
  ],
  [
    'throws_null',
    () => {
      throw null
    },
  ],
  [
    'throws_proxy',
    () => {
      throw hostile
    },
  ],
  [
    'stack_overflow',
    function recurse(): unknown {
      return recurse()
    },
  ],
]

function errorLinesWith(logs: readonly LogLine[], errorId: string): LogLine[] {
  return logs.filter((l) => l.level === 'error' && l.obj.errorId === errorId)
}

/** Asserts an opaque 500: code as given, an errorId that one error log line carries with the exception, no secret in the body. */
/** The single-entity GET and the batch POST of the same feature both answer an opaque 500. */
async function assertGetAndPostOpaque500(s: { base: string; logs: readonly LogLine[] }): Promise<void> {
  await assertOpaque500(await fetch(`${s.base}/v1/features/user_stats/u1`), s.logs, 'INTERNAL')
  const post = { entities: { user_id: ['u1'] }, features: ['user_stats:clicks_1h'] }
  await assertOpaque500(await fetch(`${s.base}/v1/features`, { method: 'POST', body: JSON.stringify(post) }), s.logs, 'INTERNAL')
}

async function assertOpaque500(res: Response, logs: readonly LogLine[], code: string): Promise<string> {
  const text = await res.text()
  assert.equal(res.status, 500, text)
  assert.ok(!text.includes(SECRET), `the body leaks the exception: ${text}`)
  const { error } = JSON.parse(text) as { error: { code: string; errorId: string } }
  assert.equal(error.code, code, text)
  assert.match(error.errorId, UUID)
  const lines = errorLinesWith(logs, error.errorId)
  assert.equal(lines.length, 1, `one error log line carries errorId ${error.errorId}`)
  assert.ok(lines[0]!.obj.err !== undefined, 'the log line carries the error')
  return error.errorId
}

void describe('serving > robustness > request features', () => {
  const defs = [
    ...BAD_OUTPUTS.map(([name, type, fn]) => requestFeature(name, type, fn)),
    ...THROWS.map(([name, fn]) => requestFeature(name, 'double', fn)),
    requestFeature('returns_undefined', 'double', () => undefined),
    requestFeature('fine', 'double', () => 0.5),
  ]
  let s: TestServer
  before(async () => {
    s = await startServer({ requestFeatures: defs })
  })
  after(() => s.close())

  const post = (features: string[], body: Record<string, unknown> = {}) =>
    fetch(`${s.base}/v1/features`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ entities: { user_id: ['u1'] }, features, ...body }),
    })

  for (const [name, type] of BAD_OUTPUTS) {
    void test(`a request feature returning ${name.replaceAll('_', ' ')} as a ${type}: logged 500 naming the feature, no crash`, async () => {
      const res = await post([name])
      const errorId = await assertOpaque500(res, s.logs, 'REQUEST_FEATURE_FAILED')
      const err = errorLinesWith(s.logs, errorId)[0]!.obj.err as Error
      assert.match(err.message, new RegExp(`^request feature ${name} returned `), 'the log says what was returned')
      assert.equal((await post(['fine'])).status, 200, 'the server still answers')
    })
  }

  for (const [name] of THROWS) {
    void test(`a request feature that ${name.replaceAll('_', ' ')}: logged 500 with the exception as the cause, its text not in the body`, async () => {
      const errorId = await assertOpaque500(await post([name]), s.logs, 'REQUEST_FEATURE_FAILED')
      const err = errorLinesWith(s.logs, errorId)[0]!.obj.err as Error
      assert.equal(err.message, `request feature ${name} threw`)
      assert.ok('cause' in err, 'the original exception is kept for the log')
      assert.equal((await post(['fine'])).status, 200)
    })
  }

  void test('undefined is served as null (as training-set generation reads it); a mix of good and bad fails as one 500', async () => {
    const res = await post(['returns_undefined', 'fine'])
    assert.equal(res.status, 200)
    assert.deepEqual(((await res.json()) as { rows: { values: unknown[] }[] }).rows[0]!.values, [null, 0.5])
    await assertOpaque500(await post(['fine', 'nan']), s.logs, 'REQUEST_FEATURE_FAILED')
  })

  void test('client mistakes stay clear 400s without an errorId: bad JSON, a missing request input, an unknown feature', async () => {
    const withInput = await startServer({
      requestFeatures: [{ ...requestFeature('needs_x', 'double', () => 1), request: { x: 'double' } }],
    })
    try {
      const cases: [Promise<Response>, RegExp][] = [
        [fetch(`${withInput.base}/v1/features`, { method: 'POST', body: '{"entities":' }), /not valid JSON/],
        [
          fetch(`${withInput.base}/v1/features`, {
            method: 'POST',
            body: JSON.stringify({ entities: { user_id: ['u1'] }, features: ['needs_x'] }),
          }),
          /request\.x \(double\) is required/,
        ],
        [
          fetch(`${withInput.base}/v1/features`, {
            method: 'POST',
            body: JSON.stringify({ entities: { user_id: ['u1'] }, features: ['no_such'] }),
          }),
          /no_such/,
        ],
      ]
      for (const [pending, message] of cases) {
        const res = await pending
        const { error } = (await res.json()) as { error: Record<string, unknown> }
        assert.ok(res.status === 400 || res.status === 404, `status ${res.status}`)
        assert.match(String(error.message), message)
        assert.equal(error.errorId, undefined)
      }
      assert.equal(withInput.logs.filter((l) => l.level === 'error').length, 0, 'client errors are not logged as server errors')
    } finally {
      await withInput.close()
    }
  })
})

void describe('serving > robustness > store and handler failures', () => {
  void test('stored values JSON cannot carry (a store returning a BigInt) answer a logged 500, not a crash', async () => {
    const s = await startServer({
      store: (embedded) => ({
        readRows: async (lookups, nowMs) =>
          (await embedded.readRows(lookups, nowMs)).map((r) => ({
            ...r,
            values: r.values.map(() => 10n as unknown as FeatureValue),
          })),
      }),
    })
    try {
      await assertGetAndPostOpaque500(s)
      assert.equal((await fetch(`${s.base}/healthz`)).status, 200)
    } finally {
      await s.close()
    }
  })

  void test('a store that throws synchronously, rejects with secrets, or hangs: 500 / 500 / 504, each with an errorId', async () => {
    let mode: 'throw' | 'reject' | 'hang' = 'throw'
    const store: ServingStore = {
      readRows: () => {
        if (mode === 'throw') throw new Error(SECRET)
        if (mode === 'reject') return Promise.reject(new Error(SECRET))
        return new Promise(() => {})
      },
    }
    const s = await startServer({ store: () => store, options: { requestTimeoutMs: 50 } })
    try {
      await assertGetAndPostOpaque500(s)
      mode = 'reject'
      await assertOpaque500(await fetch(`${s.base}/v1/features/user_stats/u1`), s.logs, 'INTERNAL')
      mode = 'hang'
      const timedOut = await fetch(`${s.base}/v1/features/user_stats/u1`)
      assert.equal(timedOut.status, 504)
      assert.match(((await timedOut.json()) as { error: { errorId: string } }).error.errorId, UUID)
    } finally {
      await s.close()
    }
  })

  void test('handlers whose own code throws (health check, metrics scrape) answer a logged 500 and the process lives on', async () => {
    const s = await startServer({
      store: (embedded) => ({
        readRows: (lookups, nowMs) => embedded.readRows(lookups, nowMs),
        isReady: () => {
          throw new Error(SECRET)
        },
      }),
      options: {
        servedLog: {
          isSampled: () => false,
          record: () => {},
          stats: () => {
            throw new Error(SECRET)
          },
        },
      },
    })
    try {
      await assertOpaque500(await fetch(`${s.base}/healthz`), s.logs, 'INTERNAL')
      await assertOpaque500(await fetch(`${s.base}/metrics`), s.logs, 'INTERNAL')
      assert.equal((await fetch(`${s.base}/v1/features/user_stats/u1`)).status, 200)
    } finally {
      await s.close()
    }
  })

  void test('WebSocket: a failing snapshot read is an error message with an errorId; a row push that cannot be encoded is logged, not thrown into the change feed', async () => {
    let listener: ((change: OnlineChange) => void) | undefined
    const s = await startServer({
      store: () => ({
        readRows: () => Promise.reject(new Error(SECRET)),
        subscribeChanges: async (_views, l) => {
          listener = l
          return async () => {}
        },
      }),
    })
    const ws = await openWs(s.port, '/v1/subscribe')
    try {
      ws.send(JSON.stringify({ subscribe: [{ view: 'user_stats', entity: 'u1' }] }))
      assert.equal(JSON.parse(await ws.next()).type, 'subscribed')
      const failure = await ws.next()
      assert.ok(!failure.includes(SECRET), failure)
      const { type, error } = JSON.parse(failure) as { type: string; error: { code: string; errorId: string } }
      assert.deepEqual([type, error.code], ['error', 'INTERNAL'])
      assert.equal(errorLinesWith(s.logs, error.errorId).length, 1)

      assert.ok(listener, 'the server subscribed to the change feed')
      const before = s.logs.filter((l) => l.level === 'error').length
      assert.doesNotThrow(() =>
        listener!({
          view: 'user_stats',
          version: 1,
          entityKey: 'u1',
          asOfMs: 1,
          values: { clicks_1h: 10n as unknown as FeatureValue },
        }),
      )
      assert.equal(s.logs.filter((l) => l.level === 'error').length, before + 1, 'the failed push is logged')
      ws.send(JSON.stringify({ unsubscribe: [{ view: 'user_stats', entity: 'u1' }] }))
      assert.deepEqual(JSON.parse(await ws.next()), { type: 'subscribed', topics: 0 }, 'the socket still works')
    } finally {
      ws.close()
      await s.close()
    }
  })

  void test('a client that aborts while its request is in flight: the late answer is dropped, nothing thrown, others are served', async () => {
    const { store, release } = gatedStore()
    const s = await startServer({
      store,
      options: { requestTimeoutMs: 60_000 },
    })
    try {
      const controller = new AbortController()
      const aborted = fetch(`${s.base}/v1/features/user_stats/u1`, { signal: controller.signal }).catch((err: unknown) => err)
      const posted = fetch(`${s.base}/v1/features`, {
        method: 'POST',
        body: JSON.stringify({ entities: { user_id: ['u1'] }, features: ['user_stats:clicks_1h'] }),
        signal: controller.signal,
      }).catch((err: unknown) => err)
      await new Promise((resolve) => setTimeout(resolve, 50))
      controller.abort()
      assert.ok((await aborted) instanceof Error)
      assert.ok((await posted) instanceof Error)
      release()
      const ok = await fetch(`${s.base}/v1/features/user_stats/u1`)
      assert.equal(ok.status, 200)
      assert.deepEqual(
        s.logs.filter((l) => l.level === 'error'),
        [],
      )
    } finally {
      await s.close()
    }
  })
})
