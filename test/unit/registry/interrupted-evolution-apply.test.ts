/**
 * An apply that evolves a published registry — a view's next version beside the old one, another
 * view's metadata edited in place, a service moved to the new version's features, a request
 * feature's inputs changed, an entity's description and a source's metadata edited — faulted at
 * each of its writes, in each way a write can fail: before it lands (a refused request), after it
 * landed with its answer lost (a timeout on a write S3 did), and by the process dying there (its
 * apply lock left behind, taken over by the re-run since its owner no longer runs). In between, the
 * registry is readable and consistent (every reference resolves; the old version keeps its logic
 * and status); the re-run ends byte for byte as the apply that was never faulted.
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import type { Clock } from '../../../core/clock.ts'
import { entity, featureService, featureView, requestFeature, source, type FeatureViewOptions } from '../../../features/index.ts'
import type { ObjectStore } from '../../../ports/object-store.ts'
import {
  APPLY_LOCK_KEY,
  collectDefinitions,
  createRegistry,
  objectStoreApplyLock,
  validateDefinitions,
  type DefinitionSet,
} from '../../../registry/index.ts'
import { MemoryObjectStore } from '../../../adapters/object-store/index.ts'
import { clickSchema } from '../define/fixtures.ts'

const clock: Clock = { nowMs: () => 1_700_000_000_000, sleep: async () => {} }

function module(evolved: boolean): DefinitionSet {
  const user = entity({ name: 'user', joinKeys: ['user_id'], description: evolved ? 'a shopper' : '' })
  const clicks = source({
    name: 'clicks',
    topic: 'clicks',
    schema: clickSchema,
    eventTimeField: 'ts',
    keyedBy: user,
    description: evolved ? 'page views' : '',
  })
  const base: FeatureViewOptions = {
    name: 'user_stats',
    version: 1,
    entity: user,
    source: clicks,
    aggregations: [{ op: 'count', windows: ['1h'] }],
    ttl: '1d',
    freshnessSla: '1m',
    owner: 'o',
    description: 'd',
  }
  const stats = evolved
    ? featureView({ ...base, version: 2, aggregations: [{ op: 'count', windows: ['1h', '1d'] }] })
    : featureView(base)
  const spend = featureView({
    ...base,
    name: 'spend',
    aggregations: [{ op: 'sum', field: 'price', windows: ['1h'] }],
    owner: evolved ? 'finance' : 'o',
  })
  const inputs = evolved ? ['user_stats@2:count_1d'] : ['user_stats:count_1h']
  const ratio = requestFeature({
    name: 'ratio',
    request: { price: 'double' },
    features: inputs,
    outputType: 'double',
    description: 'price per click',
    // The ref the fn reads is a constant of the definition: read from this closure, it would be no part of its hash.
    constants: { input: inputs[0]! },
    fn: (r, f, c) => Number(r.price) / Math.max(1, Number(f[c.input] ?? 1)),
  })
  const service = featureService({
    name: 'model',
    features: [...inputs, 'spend:price_sum_1h'],
    requestFeatures: [ratio],
    owner: 'o',
    description: 'd',
  })
  return collectDefinitions({ stats, spend, ratio, service })
}

type Fault = 'before the write' | 'after the write, its answer lost' | 'by the process dying (its lock left held)'

/** Faults the `failAt`-th registry write (0-based) one way; the apply lock is not a registry object and is not counted. */
function faulting(inner: ObjectStore, failAt: number, fault: Fault): ObjectStore & { writes: number } {
  let dead = false
  const at = async (key: string, write: () => Promise<unknown>): Promise<unknown> => {
    if (key === APPLY_LOCK_KEY || wrapper.writes++ !== failAt) return write()
    if (fault === 'after the write, its answer lost') await write()
    dead = fault === 'by the process dying (its lock left held)'
    throw new Error(`fault at ${key} (${fault})`)
  }
  const wrapper = {
    writes: 0,
    rootUri: inner.rootUri,
    get: (key: string) => inner.get(key),
    list: (prefix: string) => inner.list(prefix),
    listWithTimes: (prefix: string) => inner.listWithTimes(prefix),
    // A dead process deletes nothing: its lock stays.
    delete: async (key: string) => (dead ? undefined : inner.delete(key)),
    uriOf: (key: string) => inner.uriOf(key),
    put: async (key: string, body: Uint8Array) => void (await at(key, () => inner.put(key, body))),
    putIfAbsent: async (key: string, body: Uint8Array) => (await at(key, () => inner.putIfAbsent(key, body))) as boolean,
  }
  return wrapper
}

async function contents(store: ObjectStore): Promise<Record<string, string>> {
  const keys = (await store.list('registry/')).filter((k) => k !== APPLY_LOCK_KEY)
  return Object.fromEntries(await Promise.all(keys.map(async (k) => [k, new TextDecoder().decode(await store.get(k))] as const)))
}

async function published(): Promise<MemoryObjectStore> {
  const store = new MemoryObjectStore()
  await createRegistry({ store, clock }).apply(module(false))
  return store
}

void describe('registry > an evolving apply faulted at each write, then run again', async () => {
  const reference = await published()
  const before = await contents(reference)
  const counted = faulting(reference, -1, 'before the write')
  await createRegistry({ store: counted, clock }).apply(module(true))
  const expected = await contents(reference)
  const writes = counted.writes

  void test('the evolving apply writes something, and keeps v1 beside v2', () => {
    assert.ok(writes >= 6, `${writes} writes`)
    assert.equal(expected['registry/views/user_stats/v1.json'], before['registry/views/user_stats/v1.json'])
    assert.ok(expected['registry/views/user_stats/v2.json'] !== undefined)
  })

  for (const fault of [
    'before the write',
    'after the write, its answer lost',
    'by the process dying (its lock left held)',
  ] as const) {
    for (let failAt = 0; failAt < writes; failAt++) {
      void test(`write ${failAt + 1} of ${writes} faulted ${fault}: readable and consistent; the re-run ends as the unfaulted apply`, async () => {
        const store = await published()
        // Both processes of one host: the faulted one (pid 1) no longer runs when the re-run (pid 2) looks.
        const lockOf = (on: ObjectStore, pid: number) =>
          objectStoreApplyLock(on, clock, { self: { pid, startTime: 's', host: 'h' }, isRunning: () => false, waitMs: 0 })
        const faulted = faulting(store, failAt, fault)
        await assert.rejects(
          createRegistry({ store: faulted, clock, applyLock: lockOf(faulted, 1) }).apply(module(true)),
          /fault at/,
        )
        assert.equal(
          (await store.get(APPLY_LOCK_KEY)) !== undefined,
          fault === 'by the process dying (its lock left held)',
          'a lock is left only by a process that died',
        )
        const registry = createRegistry({ store, clock, applyLock: lockOf(store, 2) })
        const snap = await registry.snapshot()
        validateDefinitions(collectDefinitions([]), await registry.known(), {
          sources: snap.sources,
          services: snap.services,
          requestFeatures: snap.requestFeatures.map((r) => ({ name: r.name, features: r.logic.features })),
        })
        const now = await contents(store)
        assert.equal(now['registry/views/user_stats/v1.json'], before['registry/views/user_stats/v1.json'], 'v1 untouched')
        assert.equal(
          now['registry/backfill/user_stats/v1.json'],
          before['registry/backfill/user_stats/v1.json'],
          "v1's status untouched",
        )
        // Each object is the old one or the new one, never a third.
        for (const [key, text] of Object.entries(now))
          assert.ok(text === before[key] || text === expected[key], `${key} is old or new`)
        assert.equal((await registry.apply(module(true))).views.length, 2)
        assert.deepEqual(await contents(store), expected)
        assert.equal(await store.get(APPLY_LOCK_KEY), undefined, 'the re-run took the lock over and released it')
      })
    }
  }
})
