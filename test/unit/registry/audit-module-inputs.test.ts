/**
 * Features modules as users get them wrong, through `kfs apply` and `kfs registry diff`: each is
 * exit 1 with one message naming the module and what is wrong, never a stack trace. Before, an
 * export whose getter (or a proxy's trap) threw escaped as "unexpected error" with kfs's stack, and
 * a module that threw something other than an Error said only "[object Object]" or "undefined".
 *
 * And names: unicode, too long, upper case or spaces are refused by the builders with the rule;
 * a name that is also a member of every JavaScript object (`constructor`) works like any other.
 */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { runKfsInProcess } from '../../support/in-process-cli.ts'

const repo = fileURLToPath(new URL('../../../', import.meta.url))
const dir = mkdtempSync(join(tmpdir(), 'kfs-audit-modules-'))
writeFileSync(join(dir, 'package.json'), '{"type":"module"}')
after(() => rmSync(dir, { recursive: true, force: true }))

const IMPORTS = `import { entity, source, featureView, featureService, requestFeature } from '${repo}features/index.ts'\n`
const SOURCE = `const schema = { type: 'record', name: 'C', fields: [{ name: 'user_id', type: 'string' }, { name: 'price', type: 'double' }, { name: 'ts', type: 'long' }] } as const\n`

let n = 0
function moduleFile(text: string): string {
  const file = join(dir, `m${n++}.ts`)
  writeFileSync(file, text)
  return file
}

const BROKEN: Record<string, { readonly text: string; readonly says: RegExp }> = {
  'throws an Error on import': {
    text: `throw new Error('boom at import')`,
    says: /^cannot load definitions from \S+: boom at import$/,
  },
  'throws a number': { text: 'throw 42', says: /^cannot load definitions from \S+: it threw 42, not an Error$/ },
  'throws undefined': { text: 'throw undefined', says: /^cannot load definitions from \S+: it threw undefined, not an Error$/ },
  'throws a plain object': { text: `throw { reason: 'no config' }`, says: /: it threw \{ reason: 'no config' \}, not an Error$/ },
  'a top-level await rejects': {
    text: `await Promise.reject(new Error('tla failed'))`,
    says: /^cannot load definitions from \S+: tla failed$/,
  },
  'imports a package that is not installed': {
    text: `import 'kfs-no-such-package'\nexport const a = 1`,
    says: /Cannot find package 'kfs-no-such-package'/,
  },
  'exports nothing': { text: 'export {}', says: /exports no definitions; export what entity\(\)/ },
  'exports only other values': { text: 'export const a = 1\nexport default { b: [2, 3] }', says: /exports no definitions/ },
  'exports a getter that throws': {
    text: `export const x = { get y() { throw new Error('getter boom') } }`,
    says: /^cannot read the exports of \S+: getter boom$/,
  },
  'exports a proxy whose trap throws': {
    text: `export const p = new Proxy({}, { getPrototypeOf() { throw new Error('trap boom') } })`,
    says: /^cannot read the exports of \S+: trap boom$/,
  },
  'exports two different definitions under one name': {
    text: `${IMPORTS}export const a = entity({ name: 'user', joinKeys: ['user_id'] })\nexport const b = entity({ name: 'user', joinKeys: ['uid'] })`,
    says: /^entity user is defined twice with different contents; give one a different name$/,
  },
  'a name with a unicode letter': {
    text: `${IMPORTS}export const a = entity({ name: 'usér', joinKeys: ['user_id'] })`,
    says: /^entity: name "usér" is not valid; use lower_snake_case/,
  },
  'a name of 101 characters': {
    text: `${IMPORTS}export const a = entity({ name: '${'u'.repeat(101)}', joinKeys: ['user_id'] })`,
    says: /is not valid; use lower_snake_case starting with a letter \(e\.g\. 'user_clicks'\), at most 100 characters$/,
  },
  'a name differing from another only in case': {
    text: `${IMPORTS}export const a = entity({ name: 'user', joinKeys: ['user_id'] })\nexport const b = entity({ name: 'User', joinKeys: ['user_id'] })`,
    says: /^entity: name "User" is not valid/,
  },
  'a view name with a path separator': {
    text: `${IMPORTS}${SOURCE}const user = entity({ name: 'user', joinKeys: ['user_id'] })\nconst clicks = source({ name: 'clicks', topic: 'clicks', schema, eventTimeField: 'ts', keyedBy: user })\nexport const v = featureView({ name: '../escape', version: 1, entity: user, source: clicks, aggregations: [{ op: 'count', windows: ['1h'] }], ttl: '1d', freshnessSla: '1m', owner: 'o', description: 'd' })`,
    says: /^view: name "\.\.\/escape" is not valid/,
  },
  ...schemaCases(),
  'an import cycle between two modules (a binding read before it is set)': {
    text: `export * from './cycle-a.ts'`,
    says: /^cannot load definitions from \S+: Cannot access 'user' before initialization$/,
  },
}

/** A view over a source whose Avro schema has `field` as its third field, with `setup` run first. */
function overSchema(field: string, setup = ''): string {
  return `${IMPORTS}${setup}const schema: any = { type: 'record', name: 'C', fields: [{ name: 'user_id', type: 'string' }, { name: 'ts', type: 'long' }, ${field}] }
${setup === '' ? '' : 'fix(schema)\n'}const user = entity({ name: 'user', joinKeys: ['user_id'] })
const clicks = source({ name: 'clicks', topic: 'clicks', schema, eventTimeField: 'ts', keyedBy: user })
export const v = featureView({ name: 'v', version: 1, entity: user, source: clicks, aggregations: [{ op: 'count', windows: ['1h'] }], ttl: '1d', freshnessSla: '1m', owner: 'o', description: 'd' })`
}

/** Source schemas that are not JSON data, or not Avro: each named at apply, never published, never a stack overflow. */
function schemaCases(): Record<string, { readonly text: string; readonly says: RegExp }> {
  const notData = (what: string) => new RegExp(`^source clicks: the Avro schema must be JSON data: ${what}$`)
  return {
    'a source schema that contains itself (a cycle)': {
      text: overSchema(`{ name: 'x', type: 'string' }`, 'const fix = (s: any) => { s.fields[2].meta = s }\n'),
      says: notData('schema\\.fields\\[2\\]\\.meta contains itself \\(a cycle\\)'),
    },
    'a source schema holding a function': {
      text: overSchema(`{ name: 'x', type: 'string', doc: () => 'd' }`),
      says: notData('schema\\.fields\\[2\\]\\.doc is a function, which JSON cannot hold'),
    },
    'a source schema with a NaN default': {
      text: overSchema(`{ name: 'x', type: 'double', default: NaN }`),
      says: notData('schema\\.fields\\[2\\]\\.default is NaN, which JSON cannot hold'),
    },
    'a source schema with a bigint default': {
      text: overSchema(`{ name: 'x', type: 'long', default: 5n }`),
      says: notData('schema\\.fields\\[2\\]\\.default is a bigint, which JSON cannot hold'),
    },
    'a source schema holding a Date': {
      text: overSchema(`{ name: 'x', type: 'string', since: new Date(0) }`),
      says: notData('schema\\.fields\\[2\\]\\.since is a Date, not a plain object'),
    },
    'a source schema with a misspelt type': {
      text: overSchema(`{ name: 'x', type: 'strnig' }`),
      says: /^source clicks: its schema is not valid Avro: .*strnig/,
    },
    'a source schema whose default is of another type': {
      text: overSchema(`{ name: 'x', type: 'long', default: 'abc' }`),
      says: /^source clicks: its schema is not valid Avro: .*default/,
    },
  }
}
// Two modules that import each other: b reads a's user before a has set it.
writeFileSync(
  join(dir, 'cycle-a.ts'),
  `${IMPORTS}import { clicks } from './cycle-b.ts'\nexport const user = entity({ name: 'user', joinKeys: ['user_id'] })\nexport const c = clicks`,
)
writeFileSync(
  join(dir, 'cycle-b.ts'),
  `${IMPORTS}import { user } from './cycle-a.ts'\n${SOURCE}export const clicks = source({ name: 'clicks', topic: 'clicks', schema, eventTimeField: 'ts', keyedBy: user })`,
)

// A label file for training-set, which loads its definitions module before it reads the labels.
writeFileSync(join(dir, 'labels.csv'), 'user_id,ts\nu1,2026-11-01T00:00:00Z\n')

void describe('kfs apply, registry diff and training-set over a broken features module', () => {
  for (const [what, m] of Object.entries(BROKEN)) {
    void test(`${what}: exit 1, one message naming the problem, no stack`, async () => {
      const file = moduleFile(m.text)
      for (const args of [
        ['apply', '--features', file],
        ['registry', 'diff', '--features', file],
        ['training-set', '--features', file, '--labels', join(dir, 'labels.csv'), '--feature-refs', 'v:count_1h', '--out', join(dir, 'out.parquet')],
      ]) {
        const r = await runKfsInProcess(args, join(dir, 'data'))
        assert.equal(r.code, 1, r.stderr)
        const prefix = `kfs ${args[0]}: `
        assert.ok(r.stderr.startsWith(prefix), r.stderr)
        const message = r.stderr.slice(prefix.length).trimEnd()
        assert.match(message, m.says)
        assert.doesNotMatch(r.stderr, /unexpected error|\n\s+at /)
        assert.equal(r.stdout, '')
      }
    })
  }
})

void describe('names that are members of every JavaScript object', () => {
  void test('constructor as entity, source, view, feature, request field, request feature and service: applied, listed, shown and traced like any name', async () => {
    const data = join(dir, 'data-constructor')
    const file = moduleFile(
      `${IMPORTS}${SOURCE}const constructor = entity({ name: 'constructor', joinKeys: ['user_id'] })
const src = source({ name: 'constructor', topic: 'constructor', schema, eventTimeField: 'ts', keyedBy: constructor })
export const v = featureView({ name: 'constructor', version: 1, entity: constructor, source: src, aggregations: [{ op: 'count', windows: ['1h'], name: 'constructor' }], ttl: '1d', freshnessSla: '1m', owner: 'o', description: 'd' })
export const r = requestFeature({ name: 'constructor', request: { constructor: 'double' }, features: ['constructor:constructor'], outputType: 'double', description: 'd', fn: (req, f) => Number(req.constructor) + Number(f['constructor:constructor'] ?? 0) })
export const s = featureService({ name: 'constructor', features: ['constructor:constructor'], requestFeatures: [r], owner: 'o', description: 'd' })
`,
    )
    const first = await runKfsInProcess(['apply', '--features', file, '--json'], data)
    assert.equal(first.code, 0, first.stderr)
    const again = await runKfsInProcess(['apply', '--features', file, '--json'], data)
    const plan = (
      JSON.parse(again.stdout) as {
        plan: { views: { change: string }[]; services: { change: string }[]; requestFeatures: { change: string }[] }
      }
    ).plan
    assert.deepEqual(
      [plan.views, plan.services, plan.requestFeatures].map((l) => l.map((i) => i.change)),
      [['unchanged'], ['unchanged'], ['unchanged']],
    )
    const show = await runKfsInProcess(['registry', 'show', 'constructor', '--json'], data)
    assert.equal(show.code, 0, show.stderr)
    assert.deepEqual((JSON.parse(show.stdout) as { usedBy: string[] }).usedBy.length > 0, true)
    const lineage = await runKfsInProcess(['registry', 'lineage', 'constructor', '--json'], data)
    assert.equal(lineage.code, 0, lineage.stderr)
    const nodes = (JSON.parse(lineage.stdout) as { nodes: { id: string }[] }).nodes.map((x) => x.id).sort()
    assert.deepEqual(nodes, [
      'entity:constructor',
      'requestFeature:constructor',
      'service:constructor',
      'source:constructor',
      'view:constructor@1',
    ])
  })
})
