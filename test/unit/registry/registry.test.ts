import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import type { Clock } from '../../../core/clock.ts'
import { DefinitionError, FeatureStoreError } from '../../../core/errors.ts'
import { featureService, featureView, requestFeature, type FeatureViewOptions } from '../../../features/index.ts'
import { collectDefinitions, createRegistry, DefinitionChangedError, focusLineage, viewHash, type DefinitionSet } from '../../../registry/index.ts'
import { MemoryObjectStore } from '../../../adapters/object-store/index.ts'
import { clicks, user } from '../define/fixtures.ts'

function manualClock(start = 1_700_000_000_000): Clock & { advance(ms: number): void } {
  let now = start
  return { nowMs: () => now, sleep: async () => {}, advance: (ms) => void (now += ms) }
}

const viewOptions: FeatureViewOptions = {
  name: 'user_stats',
  version: 1,
  entity: user,
  source: clicks,
  aggregations: [{ op: 'sum', field: 'price', windows: ['1h', '1d'] }, { op: 'count', windows: ['1h'] }],
  ttl: '1d',
  freshnessSla: '1m',
  owner: 'a@example.com',
  description: 'spend per user',
  tags: { team: 'a' },
}

function definitions(patch: Partial<FeatureViewOptions> = {}, extra: unknown[] = []): DefinitionSet {
  const view = featureView({ ...viewOptions, ...patch })
  const ratio = requestFeature({
    name: 'price_ratio',
    request: { price: 'double' },
    features: ['user_stats:price_sum_1h'],
    outputType: 'double',
    description: 'price over hourly spend',
    fn: (r, f) => (typeof f['user_stats:price_sum_1h'] === 'number' && f['user_stats:price_sum_1h'] !== 0 ? Number(r.price) / f['user_stats:price_sum_1h'] : null),
  })
  const service = featureService({ name: 'model', features: ['user_stats:count_1h', 'user_stats:price_sum_1d'], requestFeatures: [ratio], owner: 'o', description: 'd' })
  return collectDefinitions({ view, ratio, service, extra })
}

function setup() {
  const store = new MemoryObjectStore()
  const clock = manualClock()
  return { store, clock, registry: createRegistry({ store, clock }) }
}

void describe('registry > apply', () => {
  void test('publishes everything once; a second apply changes nothing', async () => {
    const { store, registry } = setup()
    const first = await registry.apply(definitions())
    assert.deepEqual(first.views.map((v) => [v.name, v.version, v.change]), [['user_stats', 1, 'added']])
    assert.deepEqual([first.services, first.requestFeatures, first.sources, first.entities].map((l) => l.map((i) => i.change)), [['added'], ['added'], ['added'], ['added']])
    const keys = await store.list('registry/')
    assert.ok(keys.includes('registry/views/user_stats/v1.json'))
    assert.ok(keys.includes('registry/views/user_stats/v1.backfill.json'))
    const second = await registry.apply(definitions())
    assert.equal(second.views[0]?.change, 'unchanged')
    assert.ok([second.services, second.requestFeatures, second.sources, second.entities].every((l) => l.every((i) => i.change === 'unchanged')))
    assert.deepEqual(await store.list('registry/'), keys)
    const stored = await registry.getView('user_stats')
    assert.equal(stored?.hash, viewHash(featureView(viewOptions)))
  })

  void test('metadata may change in place: same hash, publishedAt kept', async () => {
    const { registry, clock } = setup()
    await registry.apply(definitions())
    const before = await registry.getView('user_stats', 1)
    clock.advance(5_000)
    const plan = await registry.apply(definitions({ owner: 'b@example.com', tags: { team: 'b' } }))
    assert.equal(plan.views[0]?.change, 'metadata-changed')
    assert.ok(plan.views[0]?.metadataChanges.some((c) => c.includes('owner') && c.includes('b@example.com')))
    const after = await registry.getView('user_stats', 1)
    assert.equal(after?.metadata.owner, 'b@example.com')
    assert.equal(after?.hash, before?.hash)
    assert.equal(after?.publishedAtMs, before?.publishedAtMs)
    assert.equal(after?.metadataUpdatedAtMs, (before?.publishedAtMs ?? 0) + 5_000)
  })

  void test('a logic change without a version bump is refused, names the view and the next version, and writes nothing', async () => {
    const { store, registry } = setup()
    await registry.apply(definitions())
    const keysBefore = await store.list('registry/')
    const viewBefore = await store.get('registry/views/user_stats/v1.json')
    const changed = definitions({ aggregations: [{ op: 'sum', field: 'price', windows: ['1h', '7d'] }, { op: 'count', windows: ['1h'] }], owner: 'new@example.com' })
    await assert.rejects(registry.apply(collectDefinitions({ ...changed, services: [] })), (err: unknown) => {
      assert.ok(err instanceof DefinitionChangedError)
      assert.equal(err.code, 'DEFINITION_CHANGED')
      assert.match(err.message, /view user_stats v1 changed \(hash [0-9a-f]{12}… → [0-9a-f]{12}…\): publish it as version 2/)
      assert.match(err.message, /feature price_sum_1d removed/)
      assert.match(err.message, /feature price_sum_7d added/)
      return true
    })
    assert.deepEqual(await store.list('registry/'), keysBefore)
    assert.deepEqual(await store.get('registry/views/user_stats/v1.json'), viewBefore)
  })

  void test('the same change as version 2 publishes alongside v1; unpinned refs follow the latest version', async () => {
    const { registry } = setup()
    await registry.apply(definitions())
    const v2 = featureView({ ...viewOptions, version: 2, aggregations: [{ op: 'sum', field: 'price', windows: ['1h', '1d'] }, { op: 'count', windows: ['1h', '1d'] }] })
    const plan = await registry.apply(collectDefinitions([definitions(), v2]))
    assert.deepEqual(plan.views.map((v) => [v.version, v.change]), [[1, 'unchanged'], [2, 'added']])
    const snap = await registry.snapshot()
    assert.deepEqual(snap.views.map((v) => v.version), [1, 2])
    const lineage = await registry.lineage()
    assert.ok(lineage.edges.some((e) => e.from === 'view:user_stats@2' && e.to === 'service:model'))
    assert.ok(!lineage.edges.some((e) => e.from === 'view:user_stats@1' && e.to === 'service:model'))
  })

  void test('two publishers racing on one new version with different logic: exactly one wins', async () => {
    const store = new MemoryObjectStore()
    const a = createRegistry({ store, clock: manualClock() })
    const b = createRegistry({ store, clock: manualClock() })
    const results = await Promise.allSettled([a.apply(definitions()), b.apply(definitions({ ttl: '2d' }))])
    assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1)
    const lost = results.find((r) => r.status === 'rejected')
    assert.ok(lost?.status === 'rejected' && lost.reason instanceof DefinitionChangedError)
  })

  void test('cross-references are checked: unknown features and request features', async () => {
    const { registry } = setup()
    const badService = featureService({ name: 'model2', features: ['user_stats:count_1d', 'nope:x'], requestFeatures: ['missing_rf'], owner: 'o', description: 'd' })
    await assert.rejects(registry.apply(definitions({}, [badService])), (err: unknown) => {
      assert.ok(err instanceof DefinitionError)
      assert.match(err.message, /3 problems/)
      assert.match(err.message, /feature service model2: 'user_stats:count_1d' — view user_stats v1 has no feature count_1d\. Features: price_sum_1h, price_sum_1d, count_1h/)
      assert.match(err.message, /no view named nope/)
      assert.match(err.message, /request feature 'missing_rf' is not defined/)
      return true
    })
  })

  void test('definitions may reference views published earlier', async () => {
    const { registry } = setup()
    await registry.apply(definitions())
    const later = featureService({ name: 'later', features: ['user_stats:count_1h'], owner: 'o', description: 'd' })
    const plan = await registry.apply(collectDefinitions({ later }))
    assert.deepEqual(plan.services.map((s) => [s.name, s.change]), [['later', 'added']])
    assert.deepEqual(plan.notInDefinitions, [{ name: 'user_stats', version: 1 }])
  })
})

void describe('registry > diff', () => {
  void test('reports added, then unchanged, then what changed', async () => {
    const { registry } = setup()
    assert.equal((await registry.diff(definitions())).views[0]?.change, 'added')
    assert.deepEqual(await registry.snapshot().then((s) => s.views.length), 0, 'diff writes nothing')
    await registry.apply(definitions())
    assert.equal((await registry.diff(definitions())).views[0]?.change, 'unchanged')
    const plan = await registry.diff(definitions({ filter: (e) => e.bot !== true }))
    const v = plan.views[0]
    assert.equal(v?.change, 'changed')
    assert.equal(v?.nextVersion, 2)
    assert.ok(v?.logicChanges.some((c) => c.startsWith('filter: null →') && c.includes('bot')), String(v?.logicChanges))
  })
})

void describe('registry > lineage', () => {
  void test('source → view → request feature → service, with the features on each edge', async () => {
    const { registry } = setup()
    await registry.apply(definitions())
    const lineage = await registry.lineage()
    const edge = (from: string, to: string) => lineage.edges.find((e) => e.from === from && e.to === to)
    assert.ok(edge('source:clicks', 'view:user_stats@1'))
    assert.ok(edge('entity:user', 'view:user_stats@1'))
    assert.deepEqual(edge('view:user_stats@1', 'service:model')?.features, ['count_1h', 'price_sum_1d'])
    assert.deepEqual(edge('view:user_stats@1', 'requestFeature:price_ratio')?.features, ['price_sum_1h'])
    assert.ok(edge('requestFeature:price_ratio', 'service:model'))
    const focused = focusLineage(lineage, 'price_ratio')
    assert.deepEqual(focused.nodes.map((n) => n.id).sort(), ['entity:user', 'requestFeature:price_ratio', 'service:model', 'source:clicks', 'view:user_stats@1'])
  })
})

void describe('registry > backfill status', () => {
  void test('pending at publish, complete when replay says so; training sets can require it', async () => {
    const { registry } = setup()
    await registry.apply(definitions())
    assert.equal((await registry.getBackfillStatus('user_stats', 1))?.state, 'pending')
    await assert.rejects(registry.assertBackfillComplete('user_stats', 1), (err: unknown) => err instanceof FeatureStoreError && err.code === 'BACKFILL_INCOMPLETE')
    await registry.setBackfillStatus('user_stats', 1, { state: 'complete', completeThrough: [{ topic: 'clicks', partition: 0, offset: '42' }], detail: 'snapshot 7' })
    const status = await registry.getBackfillStatus('user_stats', 1)
    assert.equal(status?.state, 'complete')
    assert.deepEqual(status?.completeThrough, [{ topic: 'clicks', partition: 0, offset: '42' }])
    await registry.assertBackfillComplete('user_stats', 1)
    await registry.apply(definitions({ owner: 'x@example.com' }))
    assert.equal((await registry.getBackfillStatus('user_stats', 1))?.state, 'complete', 'metadata updates keep the backfill status')
    await assert.rejects(registry.setBackfillStatus('user_stats', 9, { state: 'running' }), (err: unknown) => err instanceof FeatureStoreError && err.code === 'NOT_FOUND')
  })
})
