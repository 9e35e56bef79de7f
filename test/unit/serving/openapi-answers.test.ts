/**
 * The OpenAPI document against the answers schemathesis cannot make a healthy server give: every
 * kind of failing read behind every reading route (a stored row unreadable — corrupt or refused —,
 * the store down, the store hanging; the object store refusing or holding damaged data under the
 * Iceberg catalog), and methods no operation has (HEAD, OPTIONS, PUT, DELETE) on every path. Each
 * answer's status is one its operation lists (or a router fallback the document's info names), and
 * its body fits the schema the document gives that status.
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { FeatureStoreError } from '../../../core/errors.ts'
import { StoredRowUnreadable } from '../../../ports/online-store.ts'
import type { ServingStore } from '../../../ports/serving-store.ts'
import type { CatalogTables } from '../../../serving/handlers/iceberg-catalog.ts'
import { rankingService, spendPerClick } from './fixtures.ts'
import { FALLBACK_STATUSES, operationOf, schemaErrors, type OpenApiDoc } from './openapi-check.ts'
import { startServer, type TestServer } from './server-harness.ts'

const failingStore =
  (err: () => Error): (() => ServingStore) =>
  () => ({ readRows: () => Promise.reject(err()) })

const hangingStore = (): ServingStore => ({ readRows: () => new Promise<never>(() => {}) })

const failingTables =
  (err: () => Error): CatalogTables =>
  () =>
    Promise.reject(err())

// Each fault, and the status and code its answers must carry on every reading route.
const FAULTS: readonly {
  readonly name: string
  readonly store?: () => ServingStore
  readonly tables?: CatalogTables
  readonly status: number
  readonly code: string
  readonly timeout?: boolean
}[] = [
  {
    name: 'a stored row not kfs wrote',
    store: failingStore(() => new StoredRowUnreadable('corrupt', 'bad row', { view: 'user_stats', feature: 'spend_1h' })),
    status: 500,
    code: 'STORED_ROW_UNREADABLE',
  },
  {
    name: 'a stored row read refused',
    store: failingStore(() => new StoredRowUnreadable('refused', 'NOSCRIPT')),
    status: 500,
    code: 'STORED_ROW_UNREADABLE',
  },
  {
    name: 'the online store down',
    store: failingStore(() => new FeatureStoreError('SOURCE_UNAVAILABLE', 'down')),
    status: 503,
    code: 'SOURCE_UNAVAILABLE',
  },
  { name: 'the online store a bug', store: failingStore(() => new Error('boom')), status: 500, code: 'INTERNAL' },
  { name: 'the online store hanging', store: hangingStore, status: 504, code: 'TIMEOUT', timeout: true },
  {
    name: 'the object store refusing',
    tables: failingTables(() => new FeatureStoreError('SOURCE_REJECTED', 'denied', { context: { key: 'kfs/t/metadata.json' } })),
    status: 500,
    code: 'STORE_READ_REFUSED',
  },
  {
    name: 'damaged table metadata',
    tables: failingTables(() => new FeatureStoreError('DATA_CORRUPT', 'bad json', { context: { key: 'kfs/t/metadata.json' } })),
    status: 500,
    code: 'DATA_CORRUPT',
  },
]

const STORE_ROUTES: readonly { readonly method: string; readonly path: string; readonly body?: unknown }[] = [
  {
    method: 'POST',
    path: '/v1/features',
    body: { service: 'ranking', entities: { user_id: ['u1'], item_id: [9] }, request: { discount: 0.5 } },
  },
  { method: 'POST', path: '/v1/features', body: { features: ['user_stats:clicks_1h'], entities: { user_id: ['u1'] } } },
  { method: 'GET', path: '/v1/features/user_stats/u1' },
  { method: 'GET', path: '/v1/features/user_item?user_id=u1&item_id=9' },
]
const TABLE_ROUTES = [
  { method: 'GET', path: '/v1/namespaces/kfs/tables' },
  { method: 'GET', path: '/v1/namespaces/kfs/tables/user_stats' },
]

/** The schema the document gives `status` of an operation's answer, by content type. */
function bodySchema(doc: OpenApiDoc, method: string, path: string, status: number): Record<string, unknown> | undefined {
  const response = operationOf(doc, method, path.split('?')[0]!)?.responses[String(status)] as
    { content?: Record<string, { schema: Record<string, unknown> }> } | undefined
  return response?.content?.['application/json']?.schema
}

async function check(
  s: TestServer,
  doc: OpenApiDoc,
  route: { method: string; path: string; body?: unknown },
  expected?: { status: number; code: string },
): Promise<void> {
  const res = await fetch(`${s.base}${route.path}`, {
    method: route.method,
    ...(route.body === undefined ? {} : { body: JSON.stringify(route.body) }),
  })
  const text = await res.text()
  const where = `${route.method} ${route.path} → ${res.status} ${text.slice(0, 200)}`
  if (expected !== undefined) {
    assert.equal(res.status, expected.status, where)
    assert.equal((JSON.parse(text) as { error: { code: string } }).error.code, expected.code, where)
  }
  const listed = Object.keys(operationOf(doc, route.method, route.path.split('?')[0]!)?.responses ?? {})
  const fallback = (FALLBACK_STATUSES as readonly number[]).includes(res.status)
  assert.ok(listed.includes(String(res.status)) || fallback, `${where}: its operation lists ${listed.join(', ') || 'nothing'}`)
  if (route.method === 'HEAD' || res.status === 204) return
  const schema = listed.includes(String(res.status))
    ? bodySchema(doc, route.method, route.path, res.status)
    : { $ref: '#/components/schemas/Error' }
  if (schema !== undefined) assert.deepEqual(schemaErrors(doc, schema, JSON.parse(text)), [], where)
}

void describe('OpenAPI document > answers of failing reads', () => {
  for (const fault of FAULTS) {
    void test(`${fault.name}: ${fault.status} ${fault.code} on every route that reads it, listed and fitting the Error schema`, async () => {
      const s = await startServer({
        services: [rankingService],
        requestFeatures: [spendPerClick],
        ...(fault.store === undefined ? {} : { store: fault.store }),
        options: {
          ...(fault.tables === undefined ? {} : { icebergTables: fault.tables }),
          ...(fault.timeout === true ? { requestTimeoutMs: 50 } : {}),
        },
      })
      try {
        const doc = (await (await fetch(`${s.base}/openapi.json`)).json()) as OpenApiDoc
        for (const route of fault.store !== undefined ? STORE_ROUTES : TABLE_ROUTES) await check(s, doc, route, fault)
      } finally {
        await s.close()
      }
    })
  }
})

void describe('OpenAPI document > methods no operation has', () => {
  void test('HEAD, OPTIONS, PUT, DELETE and PATCH on every documented path answer a listed or fallback status with an Error body', async () => {
    const s = await startServer({ services: [rankingService], requestFeatures: [spendPerClick] })
    try {
      const doc = (await (await fetch(`${s.base}/openapi.json`)).json()) as OpenApiDoc
      const paths = Object.keys(doc.paths).map((p) =>
        p
          .replace('{view}', 'user_stats')
          .replace('{entityKey}', 'u1')
          .replace('{table}', 'user_stats')
          .replace('{namespace}', 'kfs'),
      )
      assert.ok(!paths.some((p) => p.includes('{')), paths.join(', '))
      for (const path of paths)
        for (const method of ['HEAD', 'OPTIONS', 'PUT', 'DELETE', 'PATCH']) await check(s, doc, { method, path })
    } finally {
      await s.close()
    }
  })
})
