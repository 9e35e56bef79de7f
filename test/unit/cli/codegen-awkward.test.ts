/**
 * `kfs codegen` over the whole class of awkward definitions and answers. Compile side: feature,
 * view, join-key, request-input and service names that are TypeScript reserved words or
 * Object.prototype members, two versions of one view in one service, request inputs and outputs of
 * every type, a join key shared by a string and an int entity — each module type-checks under
 * strict tsc. Run side: the generated client's parsing of
 * every answer (null values and each status; a proxy's page, a 2xx that is not a feature answer, a
 * cut body, nothing listening) is either the rows or a KfsError with a code — never a TypeError.
 */
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { after, describe, test } from 'node:test'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { generateServiceClient } from '../../../main/commands/codegen-template.ts'
import type { FeatureServiceDef, RequestFeatureDef, RequestValueType } from '../../../features/types.ts'
import { createFeatureCatalog } from '../../../serving/feature-catalog.ts'
import { entity, feature, view } from '../../contracts/online-store.ts'

const repo = fileURLToPath(new URL('../../../', import.meta.url))
mkdirSync(join(repo, '.cache'), { recursive: true })
const work = mkdtempSync(join(repo, '.cache', 'codegen-awkward-'))
after(() => rmSync(work, { recursive: true, force: true }))

function tsc(files: readonly string[]): string[] {
  const r = spawnSync(
    process.execPath,
    [
      join(repo, 'node_modules/typescript/bin/tsc'),
      '--noEmit',
      '--strict',
      '--noUncheckedIndexedAccess',
      '--exactOptionalPropertyTypes',
      '--target',
      'ES2022',
      '--module',
      'NodeNext',
      '--moduleResolution',
      'NodeNext',
      '--allowImportingTsExtensions',
      '--types',
      'node',
      '--skipLibCheck',
      ...files,
    ],
    { cwd: work, encoding: 'utf8' },
  )
  return r.stdout.split('\n').filter((l) => /error TS\d+/.test(l))
}

const klass = { ...entity('class', ['default']) }
const numbered = { ...entity('new', ['in', 'default']), keyType: 'int' as const }
const fn1 = view(
  'function',
  [
    feature('class', 'long'),
    feature('delete', 'double'),
    feature('constructor', 'string'),
    feature('tostring', 'long[]'),
    feature('valueof', 'double[]'),
    feature('prototype', 'string[]'),
  ],
  { entity: klass },
)
const fn2 = view('function', [feature('class', 'double'), feature('hasownproperty', 'long')], { entity: klass, version: 2 })
const shared = view('enum', [feature('yield', 'long')], { entity: numbered })

const everyInput: Record<string, RequestValueType> = { if: 'long', else: 'double', for: 'string', while: 'boolean' }
const requestFeature = (name: string, outputType: RequestValueType): RequestFeatureDef => ({
  kind: 'requestFeature',
  name,
  request: everyInput,
  features: ['function@1:class'],
  outputType,
  fn: () => null,
  description: 'a */ in a description',
})
const requestFeatures = [
  requestFeature('return', 'boolean'),
  requestFeature('void', 'long'),
  requestFeature('typeof', 'string'),
  requestFeature('await', 'double'),
]
const service = (name: string, features: FeatureServiceDef['features'], rfs: readonly string[] = []): FeatureServiceDef => ({
  kind: 'featureService',
  name,
  features,
  requestFeatures: rfs,
  owner: '',
  description: '',
  tags: {},
})
const everything: FeatureServiceDef['features'] = [
  'function@1:class',
  'function@1:delete',
  'function@1:constructor',
  'function@1:tostring',
  'function@1:valueof',
  'function@1:prototype',
  'function@2:class',
  'function@2:hasownproperty',
  'enum:yield',
]
const services = [
  service('class', everything, ['return', 'void', 'typeof', 'await']),
  service('new', ['enum:yield']),
  service('view', ['function:class']),
  service('kfs_error', ['function@1:constructor'], ['return']),
  service('answer_', ['function@1:delete']),
  service('int_first', ['enum:yield', 'function@1:class']),
]
const catalog = createFeatureCatalog({ views: [fn1, fn2, shared], services, requestFeatures })

void describe('kfs codegen: awkward names compile and type what the server takes', () => {
  for (const s of services) {
    writeFileSync(
      join(work, `${s.name}.ts`),
      generateServiceClient({ service: s.name, plan: catalog.servicePlan(s.name), command: 'test' }),
    )
  }

  void test('every module type-checks under strict tsc, and a use of every feature, input and view key too', () => {
    writeFileSync(
      join(work, 'use.ts'),
      [
        "import { createClassClient, CLASS_FEATURES, type ClassFeatures, type ClassRequest, type ClassEntity } from './class.ts'",
        "import { createNewClient } from './new.ts'",
        "import { createViewClient } from './view.ts'",
        "import { createKfsErrorClient } from './kfs_error.ts'",
        "import { createAnswerClient } from './answer_.ts'",
        "const request: ClassRequest = { if: 1, else: 2.5, for: 'x', while: true }",
        "const entity: ClassEntity = { default: 'd', in: 7 }",
        "const row = await createClassClient({ url: 'http://x' }).getOnlineFeature(entity, request)",
        'const f: ClassFeatures = row.features',
        "const a: number | null = f['function@1:class']",
        "const b: number | null = f['function@2:class']",
        "const c: string | null = f['function@1:constructor']",
        "const d: readonly number[] | null = f['function@1:tostring']",
        "const e: readonly string[] | null = f['function@1:prototype']",
        'const g: boolean | null = f.return',
        'const h: number | null = f.void',
        'const i: string | null = f.typeof',
        'const j: number | null = f.await',
        "const k: 'PRESENT' | 'MISSING' | 'OUTSIDE_TTL' = row.views['function@1'].status",
        "const l: number | null = row.views['function@2'].as_of",
        'const m = row.views.enum.age_ms',
        "await createNewClient({ url: 'http://x' }).getOnlineFeature({ in: '7', default: 8 })",
        "await createViewClient({ url: 'http://x' }).getOnlineFeature({ default: 'd' })",
        "await createKfsErrorClient({ url: 'http://x' }).getOnlineFeature({ default: 'd' }, request)",
        "await createAnswerClient({ url: 'http://x' }).getOnlineFeature({ default: 'd' })",
        'export { a, b, c, d, e, g, h, i, j, k, l, m, CLASS_FEATURES }',
        '',
      ].join('\n'),
    )
    assert.deepEqual(tsc(['use.ts']), [])
  })

  void test("a join key a string entity shares with an int entity is typed as the string entity's key, whatever the order of the views", () => {
    writeFileSync(
      join(work, 'shared-key.ts'),
      [
        "import type { ClassEntity } from './class.ts'",
        "import type { IntFirstEntity } from './int_first.ts'",
        "const ok: ClassEntity = { default: 'd', in: 7 }",
        'const wrong: ClassEntity = { default: 5, in: 7 }',
        "const okToo: IntFirstEntity = { default: 'd', in: 7 }",
        'const wrongToo: IntFirstEntity = { default: 5, in: 7 }',
        'export { ok, wrong, okToo, wrongToo }',
        '',
      ].join('\n'),
    )
    const errors = tsc(['shared-key.ts'])
    assert.deepEqual(
      errors.map((e) => Number(/^shared-key\.ts\((\d+),/.exec(e)?.[1])),
      [4, 6],
      errors.join('\n'),
    )
  })
})

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
