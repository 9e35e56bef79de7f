/**
 * One feature of a view asked for in two versions (`user_probe@1:x_last` with `user_probe@2:x_last`,
 * or the unpinned `user_probe:x_last` — v2, the latest — with `user_probe@1:x_last`) was answered
 * by serving, each from its own version, and refused by a training set ("two features would both
 * be named user_probe__x_last"). Both now answer it: the training set names those columns
 * `<view>@<version>__<feature>` (a view name holds no `@`, so they cannot collide), as serving keys
 * the views `name@version` only when it reads two versions; every other column keeps
 * `<view>__<feature>`. Checked through both paths, CSV and Parquet labels.
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { MemoryObjectStore } from '../../../adapters/object-store/index.ts'
import * as examples from '../../../examples/features.ts'
import { featureService, requestFeature } from '../../../features/index.ts'
import { collectDefinitions, createRegistry } from '../../../registry/index.ts'
import { createFeatureCatalog } from '../../../serving/feature-catalog.ts'
import { planTrainingSet } from '../../../training/index.ts'
import { manualClock } from './fixtures.ts'
import { probes, stamped, trainAndServe, userProbe, userProbeV2 } from './serving-agreement.ts'

const T = 1_700_000_000_000
const TTL = 3_600_000

const ROWS = new Map([
  [userProbe, [stamped('u0', T - 10, [1.5, 1, 'v1']), stamped('old', T - TTL - 10, [9, 9, 'v1 old'])]],
  [
    userProbeV2,
    [
      stamped('u0', T - 10, [2.5, 2, 'v2']),
      stamped('old', T - 10, [8, 8, 'v2 fresh']),
      stamped('only2', T - 10, [-0, 3, 'v2 only']),
    ],
  ],
])
/** u0: both versions have a row; old: v1's is past its TTL; only2: v2 alone; nobody: neither. */
const LABELS = ['u0', 'old', 'only2', 'nobody'].map((user) => ({ keys: { user_id: user }, tMs: T }))

const CASES: readonly {
  what: string
  features: readonly string[]
  columns: readonly string[]
  values: readonly (readonly unknown[])[]
}[] = [
  {
    what: 'two pins of one feature',
    features: ['user_probe@1:x_last', 'user_probe@2:x_last'],
    columns: ['user_probe@1__x_last', 'user_probe@2__x_last'],
    values: [
      [1.5, 2.5],
      [null, 8],
      [null, -0],
      [null, null],
    ],
  },
  {
    what: 'the latest unpinned beside an older pin, in that order',
    features: ['user_probe:s_last', 'user_probe@1:s_last'],
    columns: ['user_probe@2__s_last', 'user_probe@1__s_last'],
    values: [
      ['v2', 'v1'],
      ['v2 fresh', null],
      ['v2 only', null],
      [null, null],
    ],
  },
  {
    what: 'two versions of one feature beside a feature asked in one version only',
    features: ['user_probe@2:n_last', 'user_probe@1:x_last', 'user_probe@2:x_last', 'user_probe@1:s_last'],
    columns: ['user_probe__n_last', 'user_probe@1__x_last', 'user_probe@2__x_last', 'user_probe__s_last'],
    values: [
      [2, 1.5, 2.5, 'v1'],
      [8, null, 8, null],
      [3, null, -0, null],
      [null, null, null, null],
    ],
  },
]

void describe('training–serving agreement > one feature in two versions of a view', () => {
  for (const c of CASES) {
    for (const labelFormat of ['csv', 'parquet'] as const) {
      void test(`${c.what} (${labelFormat} labels): answered alike, columns named by version`, async () => {
        const { training, trainingColumns, serving } = await trainAndServe({
          rows: ROWS,
          labels: LABELS,
          features: c.features,
          labelFormat,
        })
        assert.ok(Array.isArray(training), `training set failed: ${JSON.stringify(training)}`)
        assert.deepEqual(trainingColumns, c.columns)
        LABELS.forEach((label, i) => {
          for (const [side, outcome] of [
            ['training', training[i]!],
            ['serving', serving[i]!],
          ] as const) {
            assert.ok(outcome.ok, `${label.keys.user_id}: ${side} failed: ${JSON.stringify(outcome)}`)
            c.values[i]!.forEach((want, j) =>
              assert.ok(
                Object.is(outcome.values[j], want),
                `${label.keys.user_id} ${c.columns[j]}: ${side} gave ${String(outcome.values[j])}, want ${String(want)}`,
              ),
            )
          }
        })
      })
    }
  }

  void test('a request feature named like a stored feature column: the stored column takes its version', async () => {
    const named = requestFeature({
      name: 'user_probe__x_last',
      request: { k: 'double' },
      features: ['user_probe@2:x_last'],
      outputType: 'double',
      description: 'k times the last x of v2',
      fn: (req, f) => (typeof f['user_probe@2:x_last'] === 'number' ? (req.k as number) * f['user_probe@2:x_last'] : null),
    })
    const labels = LABELS.map((l) => ({ ...l, request: { k: 2 } }))
    const { training, trainingColumns, serving } = await trainAndServe({
      rows: ROWS,
      labels,
      features: ['user_probe@1:x_last', 'user_probe__x_last'],
      requestFeatures: [named],
    })
    assert.deepEqual(trainingColumns, ['user_probe@1__x_last', 'user_probe__x_last'])
    const want = [
      [1.5, 5],
      [null, 16],
      [null, 0],
      [null, null],
    ]
    assert.deepEqual(
      serving,
      want.map((values) => ({ ok: true, values })),
    )
    assert.deepEqual(training, serving)
  })

  void test('a feature service listing two pins of one feature: published, served and planned with both columns', async () => {
    const service = featureService({
      name: 'probe_versions',
      features: ['user_probe@1:x_last', 'user_probe@2:x_last', 'user_probe@2:n_last'],
      owner: 'test@example.com',
      description: 'both versions of x',
    })
    const store = new MemoryObjectStore()
    const registry = createRegistry({ store, clock: manualClock() })
    await registry.apply(collectDefinitions({ ...examples, probes, userProbe }))
    await registry.apply(collectDefinitions({ ...examples, probes, userProbe: userProbeV2, service }))
    const plan = await planTrainingSet(registry, { service: 'probe_versions' })
    assert.deepEqual(
      plan.outputs.map((o) => o.column),
      ['user_probe@1__x_last', 'user_probe@2__x_last', 'user_probe__n_last'],
    )
    const catalog = createFeatureCatalog({ views: [userProbe, userProbeV2], services: [service] })
    assert.deepEqual(
      catalog.servicePlan('probe_versions').outputs.map((o) => o.name),
      service.features,
    )
  })

  void test('a label column named like a versioned feature column is refused (in any case), naming both', async () => {
    const { training } = await trainAndServe({
      rows: ROWS,
      labels: [{ keys: { user_id: 'u0' }, tMs: T, request: { 'USER_PROBE@2__X_LAST': 1 } }],
      features: ['user_probe@1:x_last', 'user_probe@2:x_last'],
    })
    assert.deepEqual(training, {
      ok: false,
      message:
        'label column USER_PROBE@2__X_LAST clashes with the feature column user_probe@2__x_last (column names are compared without case); rename it',
    })
  })
})
