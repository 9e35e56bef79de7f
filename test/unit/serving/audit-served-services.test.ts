/**
 * `kfs serve` served the features module's feature services as the module wrote them, while a
 * training set of a service reads the list the registry published: a service edited without
 * `kfs apply` (a feature added, removed or moved, a request feature swapped) answered a model with
 * other inputs than it trained on, with nothing said. Such a service is now not served, with a
 * note; one whose owner, description or tags changed, or one never published, is served.
 *
 * And with no view of the module published as defined, serve started a server that knew no view
 * (exit 0, every lookup "unknown view"); it is now an error: nothing to serve.
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import * as examples from '../../../examples/features.ts'
import { FeatureStoreError } from '../../../core/errors.ts'
import { featureService, featureView, type FeatureServiceOptions, type FeatureViewOptions } from '../../../features/index.ts'
import type { FeatureViewDef } from '../../../features/types.ts'
import { MemoryObjectStore } from '../../../adapters/object-store/index.ts'
import { servedDefinitions } from '../../../main/commands/served-definitions.ts'
import { collectDefinitions, createRegistry } from '../../../registry/index.ts'

const clock = { nowMs: () => 1_700_000_000_000, sleep: async () => {} }

const published: FeatureServiceOptions = {
  name: 'scorer',
  features: ['user_purchases:count', 'user_purchases:amount_avg_7d'],
  requestFeatures: [examples.amountVsAvg7d],
  owner: 'ml@example.com',
  description: 'the published scorer',
  tags: { team: 'risk' },
}

async function registry() {
  const r = createRegistry({ store: new MemoryObjectStore(), clock })
  await r.apply(collectDefinitions({ ...examples, scorer: featureService(published) }))
  return r
}

const CASES: Record<string, { readonly edit: Partial<FeatureServiceOptions>; readonly served: boolean }> = {
  'as published': { edit: {}, served: true },
  'owner, description and tags edited (metadata)': {
    edit: { owner: 'x@example.com', description: 'reworded', tags: { team: 'growth' } },
    served: true,
  },
  'never published': { edit: { name: 'scorer_next' }, served: true },
  'a feature added without kfs apply': { edit: { features: [...published.features, 'user_clicks:count_1h'] }, served: false },
  'a feature removed without kfs apply': { edit: { features: ['user_purchases:count'] }, served: false },
  'features reordered without kfs apply': { edit: { features: [...published.features].reverse() }, served: false },
  'a feature pinned to a version without kfs apply': {
    edit: { features: ['user_purchases@1:count', 'user_purchases:amount_avg_7d'] },
    served: false,
  },
  'its request feature dropped without kfs apply': { edit: { requestFeatures: [] }, served: false },
}

void describe('kfs serve > a feature service is served as training sets read it', () => {
  for (const [what, c] of Object.entries(CASES)) {
    void test(`${what}: ${c.served ? 'served' : 'not served, with a note'}`, async () => {
      const service = featureService({ ...published, ...c.edit })
      const notes: string[] = []
      const served = await servedDefinitions(
        {
          views: [examples.userPurchases, examples.userClicks],
          requestFeatures: [examples.amountVsAvg7d],
          services: [examples.fraudModel, service],
        },
        await registry(),
        (line) => notes.push(line),
      )
      assert.deepEqual(
        served.services.map((s) => s.name),
        c.served ? [examples.fraudModel.name, service.name] : [examples.fraudModel.name],
      )
      assert.deepEqual(
        notes,
        c.served
          ? []
          : [
              `not serving feature service scorer: its features differ from its published definition, which training sets read (run kfs apply)\n`,
            ],
      )
    })
  }
})

void describe('kfs serve > with no view published as defined', () => {
  const edited = featureView({ ...viewOptions(examples.userClicks), ttl: '2d' })
  const CASES: Record<string, { readonly views: readonly FeatureViewDef[]; readonly apply: boolean }> = {
    'before any kfs apply': { views: [examples.userPurchases, examples.userClicks], apply: false },
    'every view edited without kfs apply': { views: [edited], apply: true },
  }
  for (const [what, c] of Object.entries(CASES)) {
    void test(`${what}: nothing to serve, an error rather than a server that knows no view`, async () => {
      const r = c.apply ? await registry() : createRegistry({ store: new MemoryObjectStore(), clock })
      const notes: string[] = []
      await assert.rejects(
        servedDefinitions({ views: c.views, requestFeatures: [] }, r, (line) => notes.push(line)),
        (err: unknown) => {
          assert.ok(err instanceof FeatureStoreError)
          assert.equal(err.code, 'NOT_FOUND')
          assert.equal(
            err.message,
            `nothing to serve: none of the ${c.views.length} views of the features module is published as defined (run kfs apply)`,
          )
          return true
        },
      )
      assert.equal(notes.length, c.views.length, 'each view says why it is not served')
    })
  }

  void test('one view published is enough to serve', async () => {
    const served = await servedDefinitions(
      { views: [edited, examples.userPurchases], requestFeatures: [] },
      await registry(),
      () => {},
    )
    assert.deepEqual(
      served.views.map((v) => v.name),
      ['user_purchases'],
    )
  })
})

function viewOptions(view: FeatureViewDef): FeatureViewOptions {
  return {
    name: view.name,
    version: view.version,
    entity: view.entity,
    source: view.source,
    aggregations: [{ op: 'count', windows: ['1h'] }],
    ttl: view.ttlMs,
    freshnessSla: view.freshnessSlaMs,
    owner: view.owner,
    description: view.description,
  }
}
