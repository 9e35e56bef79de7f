import assert from 'node:assert/strict'
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { DefinitionError } from '../../../core/errors.ts'
import { entity, featureView } from '../../../features/index.ts'
import { collectDefinitions, loadDefinitions } from '../../../registry/index.ts'
import { clicks, user, viewBase } from '../define/fixtures.ts'

const repo = fileURLToPath(new URL('../../../', import.meta.url))

void describe('registry > collect definitions', () => {
  void test('finds definitions nested in arrays and objects, and the entities and sources views use', () => {
    const v = featureView({ ...viewBase, aggregations: [{ op: 'count', windows: ['1h'] }] })
    const set = collectDefinitions({ group: { views: [v] }, unrelated: 42, text: 'x', fn: () => 1 })
    assert.deepEqual(set.views, [v])
    assert.deepEqual(set.entities, [user])
    assert.deepEqual(set.sources, [clicks])
  })

  void test('the same definition exported twice is fine; two different ones under one name are not', () => {
    const v = featureView({ ...viewBase, aggregations: [{ op: 'count', windows: ['1h'] }] })
    assert.equal(collectDefinitions({ a: v, b: [v] }).views.length, 1)
    const w = featureView({ ...viewBase, aggregations: [{ op: 'count', windows: ['1d'] }] })
    assert.throws(() => collectDefinitions({ v, w }), (err: unknown) => err instanceof DefinitionError && /view user_stats v1 is defined twice/.test(err.message))
    assert.throws(() => collectDefinitions([user, entity({ name: 'user', joinKeys: ['uid'] })]), /entity user is defined twice/)
  })
})

void describe('registry > load definitions', () => {
  void test('loads the example module', async () => {
    const set = await loadDefinitions('examples/features.ts', { cwd: repo })
    assert.deepEqual(set.views.map((v) => v.name), ['item_clicks', 'user_clicks', 'user_purchases'])
    assert.deepEqual(set.entities.map((e) => e.name), ['item', 'user'])
    assert.deepEqual(set.sources.map((s) => s.name), ['clicks', 'purchases'])
    assert.deepEqual(set.services.map((s) => s.name), ['fraud_model', 'recommender'])
    assert.deepEqual(set.requestFeatures.map((r) => r.name), ['amount_vs_avg_7d'])
  })

  void test('the example request feature is null-safe', async () => {
    const set = await loadDefinitions('examples/features.ts', { cwd: repo })
    const fn = set.requestFeatures[0]!.fn
    assert.equal(fn({ amount: 50 }, { 'user_purchases:amount_avg_7d': 25 }, {}), 2)
    assert.equal(fn({ amount: 50 }, { 'user_purchases:amount_avg_7d': null }, {}), null)
    assert.equal(fn({ amount: 50 }, { 'user_purchases:amount_avg_7d': 0 }, {}), null)
  })

  void test('a folder loads through its index.ts; errors name the path', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kfs-defs-'))
    writeFileSync(join(dir, 'package.json'), '{"type":"module"}')
    mkdirSync(join(dir, 'defs'))
    writeFileSync(join(dir, 'defs', 'index.ts'), `import { entity } from ${JSON.stringify(join(repo, 'features/index.ts'))}\nexport const all = [entity({ name: 'shop', joinKeys: ['shop_id'] })]\n`)
    assert.deepEqual((await loadDefinitions(join(dir, 'defs'))).entities.map((e) => e.name), ['shop'])
    writeFileSync(join(dir, 'empty.ts'), 'export const x = 1\n')
    await assert.rejects(loadDefinitions(join(dir, 'empty.ts')), /exports no definitions/)
    await assert.rejects(loadDefinitions(join(dir, 'missing.ts')), (err: unknown) => err instanceof DefinitionError && err.message.includes('missing.ts does not exist'))
    writeFileSync(join(dir, 'broken.ts'), `import { entity } from ${JSON.stringify(join(repo, 'features/index.ts'))}\nexport const e = entity({ name: 'Bad', joinKeys: ['x'] })\n`)
    await assert.rejects(loadDefinitions(join(dir, 'broken.ts')), (err: unknown) => err instanceof DefinitionError && /lower_snake_case/.test(err.message))
    rmSync(dir, { recursive: true, force: true })
  })
})

void describe('registry > validate definitions', () => {
  void test('a source keyed by name must name a known entity whose join keys are in its schema', async () => {
    const { source } = await import('../../../features/index.ts')
    const { validateDefinitions } = await import('../../../registry/index.ts')
    const { clickSchema } = await import('../define/fixtures.ts')
    const byName = source({ name: 'clicks', topic: 'clicks', schema: clickSchema, eventTimeField: 'ts', keyedBy: 'shop' })
    assert.throws(() => validateDefinitions(collectDefinitions([byName])), /source clicks: keyedBy 'shop' — no entity with that name/)
    const shop = entity({ name: 'shop', joinKeys: ['shop_id'] })
    assert.throws(() => validateDefinitions(collectDefinitions([byName, shop])), /keyedBy entity shop has join key\(s\) shop_id missing from Avro record Click/)
    validateDefinitions(collectDefinitions([source({ name: 'clicks', topic: 'clicks', schema: clickSchema, eventTimeField: 'ts', keyedBy: 'user' }), user]))
  })
})
