/**
 * Every kind of change to a published view between two applies: `diff` says what changed, apply
 * refuses a logic change under the same version (naming the next version, writing nothing),
 * publishes it as the next version beside the old one, and lets metadata change in place. And a
 * new version may not break what the registry already serves from the old one: a published
 * service or request feature whose unpinned refs (`view:feature`, which read the latest version)
 * would name a feature the new version no longer has. Before, such an apply succeeded when the
 * module applied did not itself define that service, and training sets of the service then failed
 * (or serving and training read different versions) with nothing said at apply.
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import type { Clock } from '../../../core/clock.ts'
import { DefinitionError } from '../../../core/errors.ts'
import { entity, featureService, featureView, requestFeature, source, type FeatureViewOptions } from '../../../features/index.ts'
import { collectDefinitions, createRegistry, DefinitionChangedError } from '../../../registry/index.ts'
import { MemoryObjectStore } from '../../../adapters/object-store/index.ts'
import { clickSchema, clicks, user, viewBase } from '../define/fixtures.ts'

const clock: Clock = { nowMs: () => 1_700_000_000_000, sleep: async () => {} }

const base: FeatureViewOptions = {
  ...viewBase,
  aggregations: [
    { op: 'count', windows: ['1h'] },
    { op: 'sum', field: 'price', windows: ['1h', '1d'] },
  ],
}

const withSchema = (fields: typeof clickSchema.fields) =>
  source({ name: 'clicks', topic: 'clicks', schema: { ...clickSchema, fields }, eventTimeField: 'ts', keyedBy: user })

interface Evolution {
  readonly patch: Partial<FeatureViewOptions>
  readonly change: 'changed' | 'metadata-changed' | 'unchanged'
  /** A line of the plan that says what changed. */
  readonly says: RegExp
}

const EVOLUTIONS: Record<string, Evolution> = {
  'a feature added': {
    patch: { aggregations: [...base.aggregations!, { op: 'max', field: 'price', windows: ['1h'] }] },
    change: 'changed',
    says: /feature price_max_1h added/,
  },
  'a feature removed': {
    patch: { aggregations: [{ op: 'count', windows: ['1h'] }] },
    change: 'changed',
    says: /feature price_sum_1h removed/,
  },
  'a feature renamed': {
    patch: { aggregations: [{ op: 'count', windows: ['1h'], name: 'clicks_1h' }, base.aggregations![1]!] },
    change: 'changed',
    says: /feature count_1h removed[\s\S]*feature clicks_1h added/,
  },
  'a window changed': {
    patch: { aggregations: [{ op: 'count', windows: ['2h'] }, base.aggregations![1]!] },
    change: 'changed',
    says: /feature count_2h added/,
  },
  'a hop changed': {
    patch: { aggregations: [{ op: 'count', windows: ['1h'], hop: '5m' }, base.aggregations![1]!] },
    change: 'changed',
    says: /feature count_1h\.hopMs: 60000 → 300000/,
  },
  'an aggregation changed under the same name': {
    patch: {
      aggregations: [
        { op: 'count', windows: ['1h'] },
        { op: 'avg', field: 'price', windows: ['1h'], name: 'price_sum_1h' },
        { op: 'sum', field: 'price', windows: ['1d'] },
      ],
    },
    change: 'changed',
    says: /feature price_sum_1h\.op: "sum" → "avg"/,
  },
  'features reordered': {
    patch: { aggregations: [base.aggregations![1]!, base.aggregations![0]!] },
    change: 'changed',
    says: /feature order: /,
  },
  'a filter added': { patch: { filter: (e) => e.bot !== true }, change: 'changed', says: /^filter: null → "/ },
  'a map added': { patch: { map: (e) => ({ ...e, price: Number(e.price) * 2 }) }, change: 'changed', says: /^map: null → "/ },
  'the entity key type changed': {
    patch: { entity: entity({ name: 'user', joinKeys: ['user_id'], keyType: 'int' }) },
    change: 'changed',
    says: /entity\.keyType: "string" → "int"/,
  },
  'the source topic changed': {
    patch: { source: source({ name: 'clicks', topic: 'clicks_v2', schema: clickSchema, eventTimeField: 'ts', keyedBy: user }) },
    change: 'changed',
    says: /source\.topic: "clicks" → "clicks_v2"/,
  },
  'the source schema gained an optional field (compatible)': {
    patch: { source: withSchema([...clickSchema.fields, { name: 'coupon', type: ['null', 'string'], default: null }]) },
    change: 'changed',
    says: /source\.schema\.fields: /,
  },
  'the source schema changed a field type (incompatible)': {
    patch: {
      source: withSchema(
        (clickSchema.fields as { name: string }[]).map((f) => (f.name === 'item_id' ? { name: 'item_id', type: 'long' } : f)),
      ),
    },
    change: 'changed',
    says: /source\.schema\.fields\[1\]\.type: "string" → "long"/,
  },
  'the TTL changed': { patch: { ttl: '2d' }, change: 'changed', says: /ttlMs: 86400000 → 172800000/ },
  'the owner changed': {
    patch: { owner: 'new@example.com' },
    change: 'metadata-changed',
    says: /owner: "team@example.com" → "new@example.com"/,
  },
  'the freshness SLA changed': {
    patch: { freshnessSla: '5m' },
    change: 'metadata-changed',
    says: /freshnessSlaMs: 60000 → 300000/,
  },
  'tags added': { patch: { tags: { tier: 'gold' } }, change: 'metadata-changed', says: /tags\.tier: \(absent\) → "gold"/ },
  'schema docs only': {
    patch: { source: withSchema((clickSchema.fields as object[]).map((f) => ({ ...f, doc: 'documented' }))) },
    change: 'unchanged',
    says: /^$/,
  },
}

function registry() {
  const store = new MemoryObjectStore()
  return { store, registry: createRegistry({ store, clock }) }
}

async function bytesOf(store: MemoryObjectStore): Promise<[string, Uint8Array | undefined][]> {
  return Promise.all(
    (await store.list('registry/')).map(async (k) => [k, await store.get(k)] as [string, Uint8Array | undefined]),
  )
}

void describe('registry > every kind of change to a published view', () => {
  for (const [what, e] of Object.entries(EVOLUTIONS)) {
    void test(`${what}: diff says ${e.change}, and apply ${e.change === 'changed' ? 'refuses it as v1 and publishes it as v2' : 'keeps v1'}`, async () => {
      const { store, registry: r } = registry()
      await r.apply(collectDefinitions([featureView(base)]))
      const edited = featureView({ ...base, ...e.patch })
      const plan = await r.diff(collectDefinitions([edited]))
      const v = plan.views[0]!
      assert.equal(v.change, e.change)
      const lines = [...v.logicChanges, ...v.metadataChanges]
      if (e.change === 'unchanged') assert.deepEqual(lines, [])
      else assert.ok(e.says.test(lines.join('\n')), `plan lines ${JSON.stringify(lines)} should match ${String(e.says)}`)
      if (e.change !== 'changed') {
        await r.apply(collectDefinitions([edited]))
        assert.deepEqual(
          (await r.snapshot()).views.map((s) => s.version),
          [1],
        )
        assert.equal((await r.getView('user_stats', 1))?.metadata.owner, edited.owner)
        return
      }
      assert.equal(v.nextVersion, 2)
      const before = await bytesOf(store)
      await assert.rejects(
        r.apply(collectDefinitions([edited])),
        (err: unknown) => err instanceof DefinitionChangedError && /publish it as version 2/.test(err.message),
      )
      assert.deepEqual(await bytesOf(store), before, 'a refused apply writes nothing')
      // The source and entity records are one per name: v2 is applied alone, as a module that moved on would be.
      const v2 = featureView({ ...base, ...e.patch, version: 2 })
      const published = await r.apply(collectDefinitions([v2]))
      assert.deepEqual(
        published.views.map((p) => [p.version, p.change]),
        [[2, 'added']],
      )
      assert.deepEqual(published.notInDefinitions, [{ name: 'user_stats', version: 1 }])
      const snap = await r.snapshot()
      assert.deepEqual(
        snap.views.map((s) => s.version),
        [1, 2],
      )
      assert.notEqual(snap.views[0]!.hash, snap.views[1]!.hash)
      assert.equal((await r.getView('user_stats'))?.version, 2, 'an unpinned read follows the latest version')
      assert.deepEqual(
        (await r.getView('user_stats', 1))?.logic.features.map((f) => f.name),
        featureView(base).features.map((f) => f.name),
        'v1 keeps its logic',
      )
      // Applying the same definitions again changes nothing, byte for byte.
      const settled = await bytesOf(store)
      const again = await r.apply(collectDefinitions([v2]))
      assert.deepEqual(
        again.views.map((p) => p.change),
        ['unchanged'],
      )
      assert.deepEqual(await bytesOf(store), settled)
    })
  }
})

function dependents(view: FeatureViewOptions, refs: readonly string[]) {
  const v = featureView(view)
  const total = requestFeature({
    name: 'total',
    request: {},
    features: refs,
    outputType: 'double',
    description: 'sum of the features',
    fn: (_r, f) => Object.values(f).reduce<number>((a, x) => a + (typeof x === 'number' ? x : 0), 0),
  })
  const service = featureService({ name: 'model', features: refs, requestFeatures: [total], owner: 'o', description: 'd' })
  return { view: v, total, service }
}

interface NextVersion {
  /** The refs the published service and request feature use. */
  readonly refs: readonly string[]
  /** The features of v2. */
  readonly v2: FeatureViewOptions['aggregations']
  /** Whether the module applied with v2 also redefines the service and request feature, with these refs. */
  readonly redefine?: readonly string[]
  readonly refused: RegExp | undefined
}

const NEXT_VERSIONS: Record<string, NextVersion> = {
  'v2 drops a feature an unpinned service ref reads': {
    refs: ['user_stats:count_1h'],
    v2: [{ op: 'sum', field: 'price', windows: ['1h'] }],
    refused: /published feature service model: 'user_stats:count_1h' — view user_stats v2 has no feature count_1h/,
  },
  'v2 renames a feature an unpinned ref reads': {
    refs: ['user_stats:price_sum_1d'],
    v2: [
      { op: 'count', windows: ['1h'] },
      { op: 'sum', field: 'price', windows: ['1h'] },
      { op: 'sum', field: 'price', windows: ['1d'], name: 'spend_1d' },
    ],
    refused: /published request feature total: 'user_stats:price_sum_1d' — view user_stats v2 has no feature price_sum_1d/,
  },
  'v2 keeps every feature the refs read': {
    refs: ['user_stats:count_1h', 'user_stats:price_sum_1d'],
    v2: [...base.aggregations!, { op: 'max', field: 'price', windows: ['1h'] }],
    refused: undefined,
  },
  'the refs pin v1': {
    refs: ['user_stats@1:count_1h'],
    v2: [{ op: 'sum', field: 'price', windows: ['1h'] }],
    refused: undefined,
  },
  'the module redefines the service and request feature pinned to v1': {
    refs: ['user_stats:count_1h'],
    v2: [{ op: 'sum', field: 'price', windows: ['1h'] }],
    redefine: ['user_stats@1:count_1h'],
    refused: undefined,
  },
  'the module redefines them, still unpinned': {
    refs: ['user_stats:count_1h'],
    v2: [{ op: 'sum', field: 'price', windows: ['1h'] }],
    redefine: ['user_stats:count_1h'],
    refused: /feature service model: 'user_stats:count_1h' — view user_stats v2 has no feature count_1h/,
  },
}

void describe('registry > a new version and what the registry already serves from the old one', () => {
  for (const [what, c] of Object.entries(NEXT_VERSIONS)) {
    void test(`${what}: ${c.refused === undefined ? 'published' : 'refused, nothing written'}`, async () => {
      const { store, registry: r } = registry()
      const first = dependents(base, c.refs)
      await r.apply(collectDefinitions(first))
      const v2 = featureView({ ...base, version: 2, aggregations: c.v2 })
      const module = c.redefine === undefined ? [v2] : [v2, first.view, dependents(base, c.redefine)]
      const before = await bytesOf(store)
      if (c.refused === undefined) {
        const plan = await r.apply(collectDefinitions(module))
        assert.ok(plan.views.some((v) => v.version === 2 && v.change === 'added'))
        return
      }
      for (const attempt of [r.diff(collectDefinitions(module)), r.apply(collectDefinitions(module))]) {
        await assert.rejects(attempt, (err: unknown) => {
          assert.ok(err instanceof DefinitionError, String(err))
          assert.match(err.message, c.refused!)
          return true
        })
      }
      assert.deepEqual(await bytesOf(store), before)
    })
  }

  void test('the refusal says how to go on: keep the feature, or pin the version', async () => {
    const { registry: r } = registry()
    await r.apply(collectDefinitions(dependents(base, ['user_stats:count_1h'])))
    const v2 = featureView({ ...base, version: 2, aggregations: [{ op: 'sum', field: 'price', windows: ['1h'] }] })
    await assert.rejects(
      r.apply(collectDefinitions([v2])),
      /keep the feature in the new version, or pin the version it reads, e\.g\. view@1:feature/,
    )
  })

  void test('a view the module no longer declares stays published, listed as kept, and its services keep resolving', async () => {
    const { registry: r } = registry()
    await r.apply(collectDefinitions(dependents(base, ['user_stats:count_1h'])))
    const other = featureView({ ...base, name: 'user_spend', aggregations: [{ op: 'sum', field: 'price', windows: ['1h'] }] })
    const plan = await r.apply(collectDefinitions([other, clicks, user]))
    assert.deepEqual(plan.notInDefinitions, [{ name: 'user_stats', version: 1 }])
    const snap = await r.snapshot()
    assert.deepEqual(
      snap.views.map((v) => v.name),
      ['user_spend', 'user_stats'],
    )
    assert.deepEqual(
      snap.services.map((s) => s.features),
      [['user_stats:count_1h']],
    )
  })
})

void describe('registry > one topic, one source, across modules', () => {
  const onTopic = (name: string, topic: string) =>
    source({ name, topic, schema: clickSchema, eventTimeField: 'ts', keyedBy: user })
  const CASES: Record<string, { readonly applied: readonly unknown[]; readonly refused: RegExp | undefined }> = {
    'another module declares a second source on a published topic': {
      applied: [onTopic('clicks_b', 'clicks')],
      refused: /source clicks_b reads topic clicks, which published source clicks reads; use source clicks/,
    },
    'a view over a second source on a published topic': {
      applied: [featureView({ ...base, name: 'b_stats', source: onTopic('clicks_b', 'clicks') })],
      refused: /source clicks_b reads topic clicks, which published source clicks reads/,
    },
    'the published source itself, from another module': { applied: [clicks, user], refused: undefined },
    'a source on a topic of its own': { applied: [onTopic('orders', 'orders')], refused: undefined },
    'the published source moved to another topic while a new one takes its topic': {
      applied: [onTopic('clicks', 'clicks_archive'), onTopic('clicks_b', 'clicks')],
      refused: undefined,
    },
  }
  for (const [what, c] of Object.entries(CASES)) {
    void test(`${what}: ${c.refused === undefined ? 'published' : 'refused, nothing written'}`, async () => {
      const { store, registry: r } = registry()
      await r.apply(collectDefinitions([featureView(base)]))
      const before = await bytesOf(store)
      if (c.refused === undefined) {
        await r.apply(collectDefinitions(c.applied))
        const topics = (await r.snapshot()).sources.map((s) => s.topic)
        assert.equal(new Set(topics).size, topics.length, `one source per topic: ${topics.join(', ')}`)
        return
      }
      await assert.rejects(
        r.apply(collectDefinitions(c.applied)),
        (err: unknown) => err instanceof DefinitionError && c.refused!.test(err.message),
      )
      assert.deepEqual(await bytesOf(store), before)
    })
  }
})
