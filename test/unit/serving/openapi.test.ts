/**
 * The OpenAPI document (serving/openapi/) against the real server: it describes exactly the routes
 * the router mounted (a new route without a description, or a description of a route that is gone,
 * fails here), `/openapi.json` serves it, every `$ref` resolves, and every error code the serving
 * code can put in a body is in its ErrorCode enum. schemathesis checks the answers themselves
 * against it (python/tests/test_openapi_schemathesis.py).
 */
import assert from 'node:assert/strict'
import { readdir, readFile } from 'node:fs/promises'
import { after, before, describe, test } from 'node:test'
import { ERROR_CODES } from '../../../core/error-codes.ts'
import { FeatureStoreError } from '../../../core/errors.ts'
import { createFeatureCatalog } from '../../../serving/feature-catalog.ts'
import { OPERATIONS, openApiDocument, openApiPath, SERVING_ERROR_CODES } from '../../../serving/openapi/index.ts'
import { allViews, rankingService, spendPerClick } from './fixtures.ts'
import { operationOf, type OpenApiDoc } from './openapi-check.ts'
import { startServer, type TestServer } from './server-harness.ts'

type Doc = {
  readonly openapi: string
  readonly paths: Record<string, Record<string, { 'x-kfs-websocket'?: unknown }>>
  readonly components: { readonly schemas: Record<string, unknown> }
}

void describe('OpenAPI document > statuses of failing handlers', () => {
  void test('a handler that fails answers a status its operation lists: health check, catalog page, Iceberg tables (failing, unavailable, hanging)', async () => {
    const failing = (): never => {
      throw new Error('boom')
    }
    const servers = await Promise.all([
      startServer({ store: (embedded) => ({ readRows: (l, now) => embedded.readRows(l, now), isReady: failing }), options: { catalogStatus: failing, icebergTables: () => Promise.reject(new Error('boom')) } }),
      startServer({ options: { icebergTables: () => Promise.reject(new FeatureStoreError('SOURCE_UNAVAILABLE', 'object store down')) } }),
      startServer({ options: { requestTimeoutMs: 50, icebergTables: () => new Promise<never>(() => {}) } }),
    ])
    try {
      const doc = (await (await fetch(`${servers[0]!.base}/openapi.json`)).json()) as OpenApiDoc
      const answers: [string, number][] = []
      for (const [i, paths] of [['/healthz', '/', '/v1/namespaces/kfs/tables', '/v1/namespaces/kfs/tables/user_stats'], ['/v1/namespaces/kfs/tables', '/v1/namespaces/kfs/tables/user_stats'], ['/v1/namespaces/kfs/tables', '/v1/namespaces/kfs/tables/user_stats']].entries()) {
        for (const path of paths) {
          const res = await fetch(`${servers[i]!.base}${path}`)
          await res.text()
          answers.push([path, res.status])
          const listed = Object.keys(operationOf(doc, 'GET', path)?.responses ?? {})
          assert.ok(listed.includes(String(res.status)), `GET ${path} answered ${res.status}, which its operation does not list (${listed.join(', ')})`)
        }
      }
      assert.deepEqual(new Set(answers.map(([, status]) => status)), new Set([500, 503, 504]), 'each kind of failure was reached')
    } finally {
      await Promise.all(servers.map((s) => s.close()))
    }
  })
})

void describe('OpenAPI document', () => {
  let s: TestServer
  before(async () => {
    s = await startServer({ services: [rankingService], requestFeatures: [spendPerClick] })
  })
  after(() => s.close())

  const servedDocument = async (): Promise<Doc> => {
    const res = await fetch(`${s.base}/openapi.json`)
    assert.equal(res.status, 200)
    assert.equal(res.headers.get('content-type'), 'application/json')
    return (await res.json()) as Doc
  }

  void test('describes exactly the mounted routes: one operation per route, none more', async () => {
    const doc = await servedDocument()
    // A WebSocket route is described as the GET that upgrades, marked x-kfs-websocket.
    const mounted = s.server.routes.map((r) => `${r.method === 'POST' ? 'post' : 'get'} ${openApiPath(r.pattern)}${r.method === 'WS' ? ' (ws)' : ''}`).sort()
    const described = Object.entries(doc.paths)
      .flatMap(([path, ops]) => Object.entries(ops).map(([verb, op]) => `${verb} ${path}${op['x-kfs-websocket'] === undefined ? '' : ' (ws)'}`))
      .sort()
    assert.ok(mounted.length >= 9, `the server reports its routes (${mounted.length})`)
    assert.deepEqual(described, mounted, 'a route and serving/openapi/document.ts OPERATIONS disagree: describe the new route there (or remove the stale entry)')
    assert.deepEqual(Object.keys(OPERATIONS).sort(), s.server.routes.map((r) => `${r.method} ${r.pattern}`).sort())
  })

  void test('/openapi.json is the document for this server, OpenAPI 3.1, with every $ref resolving', async () => {
    const doc = await servedDocument()
    const catalog = createFeatureCatalog({ views: allViews, services: [rankingService], requestFeatures: [spendPerClick] })
    assert.deepEqual(doc, JSON.parse(JSON.stringify(openApiDocument(catalog))))
    assert.equal(doc.openapi, '3.1.0')
    const refs: string[] = []
    const walk = (node: unknown): void => {
      if (Array.isArray(node)) node.forEach(walk)
      else if (typeof node === 'object' && node !== null) {
        for (const [k, v] of Object.entries(node)) {
          if (k === '$ref' && typeof v === 'string') refs.push(v)
          else walk(v)
        }
      }
    }
    walk(doc)
    assert.ok(refs.length > 20, `refs found (${refs.length})`)
    for (const ref of refs) {
      assert.match(ref, /^#\//, ref)
      let at: unknown = doc
      for (const part of ref.slice(2).split('/')) at = (at as Record<string, unknown> | undefined)?.[part]
      assert.ok(at !== undefined, `${ref} resolves`)
    }
  })

  void test('names in the schemas are the served ones: views, features, services, request inputs', async () => {
    const { components } = await servedDocument()
    const schemas = components.schemas as Record<string, { enum?: string[]; properties?: Record<string, { properties?: object }> }>
    assert.ok(schemas.ViewName!.enum!.includes('user_stats') && schemas.ViewName!.enum!.includes('user_stats@1'))
    assert.ok(schemas.FeatureRef!.enum!.includes('item_stats:price') && schemas.FeatureRef!.enum!.includes('discounted_price'))
    assert.deepEqual(schemas.ServiceName!.enum, ['ranking'])
    assert.deepEqual(schemas.FeatureRequest!.properties!.request!.properties, { discount: { type: 'number' } })
  })

  void test("the ErrorCode enum holds kfs's codes and every code serving/ can put in a body", async () => {
    const { components } = await servedDocument()
    const codes = (components.schemas.ErrorCode as { enum: string[] }).enum
    assert.deepEqual(codes, [...SERVING_ERROR_CODES])
    for (const code of Object.keys(ERROR_CODES)) assert.ok(codes.includes(code), code)
    const root = new URL('../../../serving/', import.meta.url)
    const used = new Set<string>()
    for (const file of await readdir(root, { recursive: true })) {
      if (!file.endsWith('.ts') || file.startsWith('openapi')) continue
      const text = await readFile(new URL(file, root), 'utf8')
      for (const m of text.matchAll(/HttpError\(\s*\d+,\s*'([A-Z_]+)'|\bcode:\s*'([A-Z_]+)'/g)) used.add(m[1] ?? m[2]!)
    }
    assert.ok(used.size >= 10, `codes found in serving/ (${[...used].join(', ')})`)
    for (const code of used) assert.ok(codes.includes(code), `${code} is used in serving/ but missing from serving/openapi/error-codes.ts`)
  })

  void test('error answers carry a code of the enum', async () => {
    const { components } = await servedDocument()
    const codes = (components.schemas.ErrorCode as { enum: string[] }).enum
    const answers = await Promise.all([
      fetch(`${s.base}/v1/features/nope/u1`),
      fetch(`${s.base}/v1/features`, { method: 'POST', body: '{' }),
      fetch(`${s.base}/openapi.json`, { method: 'DELETE' }),
      fetch(`${s.base}/v1/subscribe`),
    ])
    assert.deepEqual(
      answers.map((r) => r.status),
      [404, 400, 405, 426],
    )
    for (const r of answers) {
      const body = (await r.json()) as { error: { code: string } }
      assert.ok(codes.includes(body.error.code), body.error.code)
    }
  })
})
