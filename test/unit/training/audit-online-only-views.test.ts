/**
 * A view published with `offline: false` has no offline table (the engine never writes one), yet
 * its backfill is settled as complete. A training set that read it found no table and joined no
 * rows: every value of its features was null, with nothing said. Every way a selection reaches
 * such a view — a feature ref, a service, a request feature's input — is now refused naming the
 * view; and the registry refuses turning offline on in place (the table would start empty then,
 * and training sets read nulls before), while the other flag changes stay metadata.
 */
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, test } from 'node:test'
import { FeatureStoreError } from '../../../core/errors.ts'
import * as examples from '../../../examples/features.ts'
import { featureService, featureView, requestFeature, type FeatureViewOptions } from '../../../features/index.ts'
import { collectDefinitions, createRegistry, DefinitionChangedError } from '../../../registry/index.ts'
import { MemoryObjectStore } from '../../../adapters/object-store/index.ts'
import { createTrainingSet, planTrainingSet } from '../../../training/index.ts'
import { BASE_MS, manualClock, trainingDeps } from './fixtures.ts'

const dirs: string[] = []
after(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true })
})

const options: FeatureViewOptions = {
  name: 'clicks_live',
  version: 1,
  entity: examples.user,
  source: examples.clicks,
  aggregations: [{ op: 'count', windows: ['1h'] }],
  ttl: '1d',
  freshnessSla: '1m',
  owner: 'o@example.com',
  description: 'clicks per user, served only',
  offline: false,
}

const onlineOnly = featureView(options)
const boosted = requestFeature({
  name: 'boosted',
  request: {},
  features: ['clicks_live:count_1h'],
  outputType: 'double',
  description: 'clicks plus one',
  fn: (_r, f) => (typeof f['clicks_live:count_1h'] === 'number' ? f['clicks_live:count_1h'] + 1 : null),
})
const live = featureService({
  name: 'live_model',
  features: ['clicks_live:count_1h', 'user_purchases:count'],
  owner: 'o',
  description: 'd',
})
const viaRequest = featureService({
  name: 'via_request',
  features: ['user_purchases:count'],
  requestFeatures: [boosted],
  owner: 'o',
  description: 'd',
})

async function registry() {
  const store = new MemoryObjectStore()
  const r = createRegistry({ store, clock: manualClock() })
  await r.apply(collectDefinitions({ ...examples, onlineOnly, boosted, live, viaRequest }))
  for (const v of [onlineOnly, examples.userPurchases]) await r.setBackfillStatus(v.name, v.version, { state: 'complete' })
  return { store, registry: r }
}

const SELECTIONS: Record<string, Parameters<typeof planTrainingSet>[1]> = {
  'its feature by ref': { refs: ['clicks_live:count_1h'] },
  'its feature pinned to the version': { refs: ['user_purchases:count', 'clicks_live@1:count_1h'] },
  'a service with one of its features': { service: 'live_model' },
  'a request feature that reads it': { service: 'via_request' },
}

void describe('training set > a view without an offline store', () => {
  for (const [what, selection] of Object.entries(SELECTIONS)) {
    void test(`${what}: refused naming the view, not all nulls`, async () => {
      const { registry: r } = await registry()
      await assert.rejects(planTrainingSet(r, selection, [boosted]), (err: unknown) => {
        assert.ok(err instanceof FeatureStoreError, String(err))
        assert.equal(err.code, 'BAD_REQUEST')
        assert.match(
          err.message,
          /view clicks_live v1 has no offline store \(offline: false\), so a training set has no rows of it/,
        )
        return true
      })
    })
  }

  void test('createTrainingSet refuses it before writing an output', async () => {
    const { store, registry: r } = await registry()
    const dir = await mkdtemp(join(tmpdir(), 'kfs-online-only-'))
    dirs.push(dir)
    const csv = new TextEncoder().encode(`user_id,ts\nu1,${BASE_MS}\n`)
    const output = join(dir, 'x.parquet')
    await assert.rejects(
      createTrainingSet({
        ...trainingDeps(store),
        registry: r,
        labels: { bytes: csv, format: 'csv' },
        features: ['clicks_live:count_1h'],
        output,
      }),
      (err: unknown) => err instanceof FeatureStoreError && /clicks_live v1 has no offline store/.test(err.message),
    )
    await assert.rejects(import('node:fs/promises').then((fs) => fs.stat(output)))
  })

  void test('views with an offline store still plan', async () => {
    const { registry: r } = await registry()
    const plan = await planTrainingSet(r, { refs: ['user_purchases:count'] })
    assert.deepEqual(
      plan.views.map((v) => v.name),
      ['user_purchases'],
    )
  })
})

void describe('registry > the online and offline flags of a published version', () => {
  const FLIPS: Record<
    string,
    { readonly from: Partial<FeatureViewOptions>; readonly to: Partial<FeatureViewOptions>; readonly refused: boolean }
  > = {
    'offline turned on': { from: { offline: false }, to: { offline: true }, refused: true },
    'offline turned on with online turned off': {
      from: { offline: false, online: true },
      to: { offline: true, online: false },
      refused: true,
    },
    'offline turned off': { from: { offline: true }, to: { offline: false }, refused: false },
    'online turned off': { from: { online: true }, to: { online: false }, refused: false },
    'online turned on': { from: { online: false }, to: { online: true }, refused: false },
  }
  for (const [what, f] of Object.entries(FLIPS)) {
    void test(`${what}: ${f.refused ? 'refused in place, published as v2' : 'a metadata change'}`, async () => {
      const store = new MemoryObjectStore()
      const r = createRegistry({ store, clock: manualClock() })
      await r.apply(collectDefinitions([featureView({ ...options, ...f.from })]))
      const edited = featureView({ ...options, ...f.to })
      const plan = await r.diff(collectDefinitions([edited]))
      if (!f.refused) {
        assert.equal(plan.views[0]?.change, 'metadata-changed')
        await r.apply(collectDefinitions([edited]))
        const stored = await r.getView(options.name, 1)
        assert.deepEqual([stored?.metadata.online, stored?.metadata.offline], [edited.online, edited.offline])
        return
      }
      assert.equal(plan.views[0]?.change, 'changed')
      assert.equal(plan.views[0]?.nextVersion, 2)
      assert.ok(plan.views[0]?.logicChanges.some((c) => c.startsWith('offline: false → true')))
      const keys = await store.list('registry/')
      const before = await Promise.all(keys.map((k) => store.get(k)))
      await assert.rejects(r.apply(collectDefinitions([edited])), (err: unknown) => {
        assert.ok(err instanceof DefinitionChangedError)
        assert.match(err.message, /^view clicks_live v1 changed \(its offline store turned on\): publish it as version 2/)
        return true
      })
      assert.deepEqual(await Promise.all(keys.map((k) => store.get(k))), before)
      const v2 = await r.apply(collectDefinitions([featureView({ ...options, ...f.to, version: 2 })]))
      assert.deepEqual(
        v2.views.map((v) => [v.version, v.change]),
        [[2, 'added']],
      )
      assert.equal(
        (await r.getBackfillStatus(options.name, 2))?.state,
        'pending',
        'the new version is backfilled before training sets read it',
      )
    })
  }
})
