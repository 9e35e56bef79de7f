/**
 * Values that are not JSON data given to a builder option (a JavaScript module's `partitions: 4n`,
 * `version: 1n`, a symbol, an object without a prototype): the builder's message names the option
 * and the fix, as for any wrong value. Before, the message itself failed: JSON.stringify of a
 * bigint threw "Do not know how to serialize a BigInt" (and a symbol or a prototype-less field
 * "Cannot convert … to a string"), so `kfs apply` said only that, naming neither view nor option.
 */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { DefinitionError } from '../../../core/errors.ts'
import {
  changelogSource,
  entity,
  featureService,
  featureView,
  requestFeature,
  source,
  tableSource,
} from '../../../features/index.ts'
import { runKfsInProcess } from '../../support/in-process-cli.ts'
import { clicks, clickSchema, user, viewBase } from './fixtures.ts'

const NOT_JSON: Record<string, unknown> = {
  'a bigint': 4n,
  'a symbol': Symbol('x'),
  'an object without a prototype': Object.create(null) as object,
  'an array holding a bigint': [1n],
}

type Build = (value: unknown) => unknown
const any = (o: object) => o as never

/** Every option of every builder, given `value` in place of a valid one. */
const OPTIONS: Record<string, Build> = {}
for (const key of [
  'name',
  'version',
  'ttl',
  'freshnessSla',
  'owner',
  'description',
  'hop',
  'mapFields',
  'constants',
  'tags',
  'attributes',
])
  OPTIONS[`featureView ${key}`] = (v) =>
    featureView(any({ ...viewBase, aggregations: [{ op: 'count', windows: ['1h'] }], [key]: v }))
for (const key of ['op', 'field', 'hop', 'name', 'n', 'quantile'])
  OPTIONS[`aggregation ${key}`] = (v) =>
    featureView(any({ ...viewBase, aggregations: [{ op: 'sum', field: 'price', windows: ['1h'], [key]: v }] }))
OPTIONS['aggregation window'] = (v) =>
  featureView(any({ ...viewBase, aggregations: [{ op: 'sum', field: 'price', windows: [v] }] }))
OPTIONS['mapFields type'] = (v) =>
  featureView(any({ ...viewBase, map: (e: object) => e, mapFields: { extra: v }, aggregations: [{ op: 'count' }] }))
const sourceBase = { name: 'more_clicks', topic: 'more_clicks', schema: clickSchema, eventTimeField: 'ts', keyedBy: user }
for (const key of [
  'name',
  'topic',
  'eventTimeField',
  'partitions',
  'outOfOrderness',
  'allowedLateness',
  'idleTimeout',
  'maxFutureSkew',
  'description',
])
  OPTIONS[`source ${key}`] = (v) => source(any({ ...sourceBase, [key]: v }))
for (const key of ['name', 'keyType', 'description'])
  OPTIONS[`entity ${key}`] = (v) => entity(any({ name: 'e', joinKeys: ['a'], [key]: v }))
OPTIONS['entity join key'] = (v) => entity(any({ name: 'e', joinKeys: [v] }))
const serviceBase = { name: 's', features: ['user_stats:count_1h'], owner: 'o', description: 'd' }
for (const key of ['name', 'owner', 'description'])
  OPTIONS[`featureService ${key}`] = (v) => featureService(any({ ...serviceBase, [key]: v }))
OPTIONS['featureService feature'] = (v) => featureService(any({ ...serviceBase, features: [v] }))
const requestBase = {
  name: 'r',
  version: 1,
  inputs: ['user_stats:count_1h'],
  request: { amount: 'double' },
  outputType: 'double',
  fn: () => 1,
  owner: 'o',
  description: 'd',
}
for (const key of ['name', 'version', 'outputType', 'constants', 'owner', 'description'])
  OPTIONS[`requestFeature ${key}`] = (v) => requestFeature(any({ ...requestBase, [key]: v }))
OPTIONS['requestFeature request type'] = (v) => requestFeature(any({ ...requestBase, request: { amount: v } }))
const tableBase = {
  name: 't',
  topic: 't',
  schema: clickSchema,
  keyedBy: user,
  eventTimeField: 'ts',
  location: { format: 'csv', path: 'x.csv' },
}
for (const key of ['eventTimeField', 'partitions'])
  OPTIONS[`tableSource ${key}`] = (v) => tableSource(any({ ...tableBase, [key]: v }))
OPTIONS['tableSource location.format'] = (v) => tableSource(any({ ...tableBase, location: { format: v, path: 'x' } }))
OPTIONS['tableSource location.path'] = (v) => tableSource(any({ ...tableBase, location: { format: 'csv', path: v } }))
OPTIONS['tableSource location.table'] = (v) => tableSource(any({ ...tableBase, location: { format: 'iceberg', table: v } }))
for (const key of ['format', 'unavailableValue'])
  OPTIONS[`changelogSource ${key}`] = (v) =>
    changelogSource(any({ name: 'c', topic: 'c', schema: clickSchema, keyedBy: user, [key]: v }))

void describe('define > an option given a value that is not JSON data', () => {
  void test('the fixtures build with valid options (the table below changes one option each)', () => {
    assert.ok(clicks.name === 'clicks' && featureView(any({ ...viewBase, aggregations: [{ op: 'count', windows: ['1h'] }] })))
  })
  for (const [what, value] of Object.entries(NOT_JSON)) {
    void test(`${what}: every builder option takes it or refuses it with a DefinitionError, never another error`, () => {
      const failures: string[] = []
      for (const [option, build] of Object.entries(OPTIONS)) {
        try {
          build(value)
        } catch (err: unknown) {
          if (!(err instanceof DefinitionError)) failures.push(`${option}: ${String(err)}`)
        }
      }
      assert.deepEqual(failures, [])
    })
  }

  void test('kfs apply of a JavaScript module with partitions: 4n names the source, the option and the value', async () => {
    const repo = fileURLToPath(new URL('../../../', import.meta.url))
    const dir = mkdtempSync(join(tmpdir(), 'kfs-audit-non-json-'))
    after(() => rmSync(dir, { recursive: true, force: true }))
    writeFileSync(join(dir, 'package.json'), '{"type":"module"}')
    const module = join(dir, 'features.js')
    writeFileSync(
      module,
      `import { entity, source } from '${repo}features/index.ts'
export const user = entity({ name: 'user', joinKeys: ['user_id'] })
export const clicks = source({ name: 'clicks', topic: 'clicks', schema: ${JSON.stringify(clickSchema)}, eventTimeField: 'ts', keyedBy: user, partitions: 4n })\n`,
    )
    const r = await runKfsInProcess(['apply', '--features', module], join(dir, 'data'))
    assert.equal(r.code, 1, r.stderr)
    assert.match(r.stderr, /source clicks: partitions must be a whole number from 1 to 10000, got 4n \(a bigint\)/)
  })
})
