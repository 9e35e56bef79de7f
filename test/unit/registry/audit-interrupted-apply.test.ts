/**
 * An apply stopped at any write (a crash, a lost connection to S3), then run again, leaves the
 * registry byte for byte as one apply that was never stopped; in between, what it wrote is
 * readable and consistent (a service never names a view not yet published). Before, an apply
 * stopped between a view version and its backfill status left that version with no status for
 * good: the re-run saw the view unchanged and wrote nothing, and `kfs registry list` said
 * `unknown` where an uninterrupted apply says `pending`.
 *
 * And applies at once over one store — the same module, two modules, a module and its metadata
 * edit — lose none of them and never corrupt an object.
 */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, test } from 'node:test'
import type { Clock } from '../../../core/clock.ts'
import { featureService, featureView, requestFeature, type FeatureViewOptions } from '../../../features/index.ts'
import type { ObjectStore } from '../../../ports/object-store.ts'
import {
  APPLY_LOCK_KEY,
  collectDefinitions,
  createRegistry,
  validateDefinitions,
  type DefinitionSet,
} from '../../../registry/index.ts'
import { LocalObjectStore, MemoryObjectStore } from '../../../adapters/object-store/index.ts'
import { clicks, user } from '../define/fixtures.ts'

const clock: Clock = { nowMs: () => 1_700_000_000_000, sleep: async () => {} }

const base: FeatureViewOptions = {
  name: 'user_stats',
  version: 1,
  entity: user,
  source: clicks,
  aggregations: [{ op: 'count', windows: ['1h'] }],
  ttl: '1d',
  freshnessSla: '1m',
  owner: 'o@example.com',
  description: 'clicks per user',
}

function module(patch: Partial<FeatureViewOptions> = {}, name = 'user_stats'): DefinitionSet {
  const view = featureView({ ...base, ...patch, name })
  const spend = featureView({ ...base, name: `${name}_spend`, aggregations: [{ op: 'sum', field: 'price', windows: ['1h'] }] })
  const ratio = requestFeature({
    name: `${name}_ratio`,
    request: { price: 'double' },
    features: [`${name}:count_1h`],
    outputType: 'double',
    description: 'price per click',
    // The ref the fn reads is a constant of the definition: read from this closure, it would be no part of its hash.
    constants: { ref: `${name}:count_1h` },
    fn: (r, f, c) => {
      const count = f[c.ref]
      return typeof count === 'number' ? Number(r.price) / Math.max(1, count) : null
    },
  })
  const service = featureService({
    name: `${name}_model`,
    features: [`${name}:count_1h`, `${name}_spend:price_sum_1h`],
    requestFeatures: [ratio],
    owner: 'o',
    description: 'd',
  })
  return collectDefinitions({ view, spend, ratio, service })
}

/** Fails the `failAt`-th write (0-based) of a registry object, as a process stopped just before it would (the apply lock is no object of the registry: not counted). */
function stopping(inner: ObjectStore, failAt: number): ObjectStore & { writes: number } {
  const wrapper = {
    writes: 0,
    rootUri: inner.rootUri,
    get: (key: string) => inner.get(key),
    list: (prefix: string) => inner.list(prefix),
    listWithTimes: (prefix: string) => inner.listWithTimes(prefix),
    delete: (key: string) => inner.delete(key),
    uriOf: (key: string) => inner.uriOf(key),
    async put(key: string, body: Uint8Array) {
      if (wrapper.writes++ === failAt) throw new Error(`stopped before writing ${key}`)
      await inner.put(key, body)
    },
    async putIfAbsent(key: string, body: Uint8Array) {
      if (key !== APPLY_LOCK_KEY && wrapper.writes++ === failAt) throw new Error(`stopped before writing ${key}`)
      return inner.putIfAbsent(key, body)
    },
  }
  return wrapper
}

async function contents(store: ObjectStore): Promise<Record<string, string>> {
  const keys = await store.list('registry/')
  return Object.fromEntries(await Promise.all(keys.map(async (k) => [k, new TextDecoder().decode(await store.get(k))] as const)))
}

void describe('registry > an apply stopped at any write, then run again', async () => {
  const reference = new MemoryObjectStore()
  const counted = stopping(reference, -1)
  await createRegistry({ store: counted, clock }).apply(module())
  const expected = await contents(reference)
  const writes = counted.writes

  void test('the uninterrupted apply writes every object once', () => {
    assert.equal(writes, Object.keys(expected).length)
  })

  for (let failAt = 0; failAt < writes; failAt++) {
    void test(`stopped at write ${failAt + 1} of ${writes}: readable and consistent; the re-run ends as one uninterrupted apply`, async () => {
      const store = new MemoryObjectStore()
      await assert.rejects(createRegistry({ store: stopping(store, failAt), clock }).apply(module()), /stopped before writing/)
      const registry = createRegistry({ store, clock })
      const snap = await registry.snapshot()
      // What was written references only what was written before it.
      validateDefinitions(collectDefinitions([]), await registry.known(), {
        sources: snap.sources,
        services: snap.services,
        requestFeatures: snap.requestFeatures.map((r) => ({ name: r.name, features: r.logic.features })),
      })
      await registry.apply(module())
      assert.deepEqual(await contents(store), expected)
    })
  }
})

void describe('registry > applies at once over one store', () => {
  const dirs: string[] = []
  after(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true })
  })
  const STORES: Record<string, () => [ObjectStore, ObjectStore]> = {
    memory: () => {
      const s = new MemoryObjectStore()
      return [s, s]
    },
    // Two store objects over one directory, as two `kfs apply` processes have.
    'local directory': () => {
      const dir = mkdtempSync(join(tmpdir(), 'kfs-apply-race-'))
      dirs.push(dir)
      return [new LocalObjectStore(dir), new LocalObjectStore(dir)]
    },
  }
  const RACES: Record<string, { readonly a: DefinitionSet; readonly b: DefinitionSet; readonly views: readonly string[] }> = {
    'the same module twice': { a: module(), b: module(), views: ['user_stats@1', 'user_stats_spend@1'] },
    'two modules with different views': {
      a: module({}, 'user_stats'),
      b: module({}, 'shopper'),
      views: ['shopper@1', 'shopper_spend@1', 'user_stats@1', 'user_stats_spend@1'],
    },
    'a module and its v2': {
      a: module(),
      b: collectDefinitions([
        module(),
        featureView({ ...base, version: 2, aggregations: [{ op: 'count', windows: ['1h', '1d'] }] }),
      ]),
      views: ['user_stats@1', 'user_stats@2', 'user_stats_spend@1'],
    },
  }
  for (const [storeKind, stores] of Object.entries(STORES)) {
    for (const [what, race] of Object.entries(RACES)) {
      void test(`${what} (${storeKind}): both succeed, nothing lost, every object readable`, async () => {
        const [one, two] = stores()
        for (let round = 0; round < 3; round++) {
          const results = await Promise.allSettled([
            createRegistry({ store: one, clock }).apply(race.a),
            createRegistry({ store: two, clock }).apply(race.b),
          ])
          assert.deepEqual(
            results.map((r) => (r.status === 'rejected' ? String(r.reason) : 'ok')),
            ['ok', 'ok'],
          )
        }
        const snap = await createRegistry({ store: one, clock }).snapshot()
        assert.deepEqual(
          snap.views.map((v) => `${v.name}@${v.version}`),
          race.views,
        )
        assert.ok(snap.views.every((v) => v.backfill?.state === 'pending'))
        const services = new Set([...race.a.services, ...race.b.services].map((s) => s.name))
        assert.deepEqual(snap.services.map((s) => s.name).sort(), [...services].sort())
      })
    }
  }

  void test('a metadata edit racing a second apply of the old metadata: one of the two, never a mix, logic untouched', async () => {
    const store = new MemoryObjectStore()
    await createRegistry({ store, clock }).apply(module())
    const hash = (await createRegistry({ store, clock }).getView('user_stats', 1))?.hash
    await Promise.all([
      createRegistry({ store, clock }).apply(module({ owner: 'new@example.com', tags: { tier: 'gold' } })),
      createRegistry({ store, clock }).apply(module()),
    ])
    const view = await createRegistry({ store, clock }).getView('user_stats', 1)
    assert.equal(view?.hash, hash)
    const metadata = [view?.metadata.owner, view?.metadata.tags.tier]
    assert.ok(
      JSON.stringify(metadata) === JSON.stringify(['new@example.com', 'gold']) ||
        JSON.stringify(metadata) === JSON.stringify(['o@example.com', undefined]),
      JSON.stringify(metadata),
    )
  })
})
