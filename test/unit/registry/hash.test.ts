import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { fileURLToPath } from 'node:url'
import { describe, test } from 'node:test'
import { featureView, source, type FeatureViewOptions } from '../../../features/index.ts'
import { canonicalJson } from '../../../registry/canonical-json.ts'
import { viewHash } from '../../../registry/index.ts'
import { clickSchema, clicks, user } from '../define/fixtures.ts'
import { TS_NODE_ARGS } from '../../support/node-ts.ts'

const base: FeatureViewOptions = {
  name: 'user_stats',
  version: 1,
  entity: user,
  source: clicks,
  filter: (e) => Number(e.price) > 0,
  aggregations: [{ op: 'sum', field: 'price', windows: ['1h', '1d'] }, { op: 'count', windows: ['1h'] }],
  ttl: '1d',
  freshnessSla: '1m',
  owner: 'a@example.com',
  description: 'spend',
  tags: { team: 'a' },
}

const hashOf = (patch: Partial<FeatureViewOptions>): string => viewHash(featureView({ ...base, ...patch }))

void describe('registry > canonical JSON', () => {
  void test('sorts keys at every depth, drops undefined members, keeps array order', () => {
    assert.equal(canonicalJson({ b: 1, a: { d: [2, 1], c: 'x', e: undefined } }), '{"a":{"c":"x","d":[2,1]},"b":1}')
    assert.equal(canonicalJson({ a: { c: 'x', d: [2, 1] }, b: 1 }), canonicalJson({ b: 1, a: { d: [2, 1], c: 'x' } }))
    assert.throws(() => canonicalJson({ a: Number.NaN }), TypeError)
  })
})

void describe('registry > view hash', () => {
  void test('is a sha256 hex digest and the same for the same definition built twice', () => {
    const h = hashOf({})
    assert.match(h, /^[0-9a-f]{64}$/)
    assert.equal(hashOf({}), h)
  })

  void test('ignores metadata: owner, description, tags, freshness SLA, online/offline, schema docs', () => {
    const h = hashOf({})
    assert.equal(hashOf({ owner: 'b@example.com' }), h)
    assert.equal(hashOf({ description: 'other words' }), h)
    assert.equal(hashOf({ tags: { team: 'b', tier: 'gold' } }), h)
    assert.equal(hashOf({ freshnessSla: '10m' }), h)
    assert.equal(hashOf({ online: false, offline: true }), h)
    const documented = source({ name: 'clicks', topic: 'clicks', schema: { ...clickSchema, doc: 'now documented' } as never, eventTimeField: 'ts', keyedBy: user })
    assert.equal(hashOf({ source: documented }), h)
  })

  void test('changes with any logic: windows, hops, ops, filter text, schema, lateness, keying, ttl', () => {
    const h = hashOf({})
    const variants: Partial<FeatureViewOptions>[] = [
      { aggregations: [{ op: 'sum', field: 'price', windows: ['1h', '2d'] }, { op: 'count', windows: ['1h'] }] },
      { aggregations: [{ op: 'sum', field: 'price', windows: ['1h', '1d'], hop: '30m' }, { op: 'count', windows: ['1h'] }] },
      { aggregations: [{ op: 'avg', field: 'price', windows: ['1h', '1d'] }, { op: 'count', windows: ['1h'] }] },
      { aggregations: [{ op: 'count', windows: ['1h'] }, { op: 'sum', field: 'price', windows: ['1h', '1d'] }] },
      { filter: (e) => Number(e.price) >= 0 },
      { filter: undefined },
      { ttl: '2d' },
      { source: source({ name: 'clicks', topic: 'clicks', schema: { ...clickSchema, fields: [...clickSchema.fields, { name: 'extra', type: 'int' }] }, eventTimeField: 'ts', keyedBy: user }) },
      { source: source({ name: 'clicks', topic: 'clicks', schema: clickSchema, eventTimeField: 'ts', keyedBy: user, allowedLateness: '2m' }) },
      { source: source({ name: 'clicks', topic: 'clicks', schema: clickSchema, eventTimeField: 'ts' }) },
      { source: source({ name: 'clicks', topic: 'clicks_v2', schema: clickSchema, eventTimeField: 'ts', keyedBy: user }) },
      { version: 2 },
    ]
    const hashes = variants.map(hashOf)
    for (const [i, v] of hashes.entries()) assert.notEqual(v, h, `variant #${i} should change the hash`)
    assert.equal(new Set(hashes).size, hashes.length, 'every variant hashes differently')
  })

  void test('is the same in another process', () => {
    const examples = fileURLToPath(new URL('../../../examples/features.ts', import.meta.url))
    const script = `const m = await import(${JSON.stringify(examples)}); const { viewHash } = await import(${JSON.stringify(fileURLToPath(new URL('../../../registry/hash.ts', import.meta.url)))}); console.log(JSON.stringify([m.userClicks, m.userPurchases, m.itemClicks].map(viewHash)))`
    const child = JSON.parse(execFileSync(process.execPath, [...TS_NODE_ARGS, '--input-type=module', '-e', script], { encoding: 'utf8' })) as string[]
    return import('../../../examples/features.ts').then((m) => {
      assert.deepEqual(child, [m.userClicks, m.userPurchases, m.itemClicks].map(viewHash))
    })
  })

  void test('is sha256 over the canonical text, so tools outside kfs can recompute it', async () => {
    const { viewLogic } = await import('../../../registry/index.ts')
    const v = featureView(base)
    assert.equal(viewHash(v), createHash('sha256').update(canonicalJson(viewLogic(v))).digest('hex'))
  })
})
