import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, test } from 'node:test'
import * as examples from '../../../examples/features.ts'
import type { FeatureValue, FeatureViewDef } from '../../../features/types.ts'
import type { ArchiveRow } from '../../../ports/offline.ts'
import { createDecoder } from '../../../schemas/decoder.ts'
import { createEncoder } from '../../../schemas/encoder.ts'
import { EmbeddedSchemaRegistry } from '../../../adapters/schema-registry/embedded/embedded-schema-registry.ts'
import { SERVED_FEATURES_SCHEMA, toServedEvent, type ServedRecord } from '../../../serving/served-log/index.ts'
import { IcebergOfflineSink, archiveTablePath } from '../../../adapters/offline/iceberg/offline-sink.ts'
import { LocalObjectStore } from '../../../adapters/object-store/index.ts'
import { createSkewReport, failingFeatures } from '../../../training/skew-report.ts'
import { featureView, type FeatureViewOptions } from '../../../features/index.ts'
import { collectDefinitions } from '../../../registry/index.ts'
import { BASE_MS, generateRows, HOUR_MS, oracle, prng, registryWithViews, trainingDeps, writeRows, type GenRow } from './fixtures.ts'

/** The options of a published example view, to build another like it (only `aggregations` differ in kind). */
function viewOptionsOf(view: FeatureViewDef): FeatureViewOptions {
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

const dirs: string[] = []
after(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true })
})

/** What serving returned at t, by the as-served rule computed by brute force (the oracle). */
function servedAt(rows: readonly GenRow[], view: FeatureViewDef, key: string, tMs: number, i: number): ServedRecord {
  const values = oracle(rows, view, key, tMs, true)
  return {
    requestId: `r${i}`,
    servedAtMs: tMs,
    viewName: view.name,
    viewVersion: view.version,
    entityKey: key,
    status: values === null ? 'MISSING' : 'PRESENT',
    asOfMs: null,
    features: view.features.map((f) => f.name),
    values: values ?? view.features.map(() => null),
  }
}

async function archive(sink: IcebergOfflineSink, topic: string, records: readonly ServedRecord[], encode: (e: unknown) => Uint8Array, schemaId: number): Promise<void> {
  const rows: ArchiveRow[] = records.map((r, i) => ({
    partition: i % 2,
    offset: String(Math.floor(i / 2)),
    eventTimeMs: r.servedAtMs,
    key: new TextEncoder().encode(`${r.viewName}@${r.viewVersion}`),
    schemaId,
    payload: encode(toServedEvent(r)),
    markerWatermarkMs: null,
    timestampMs: r.servedAtMs,
  }))
  const staged = await sink.stageArchiveRows(topic, rows)
  await sink.commit(archiveTablePath(topic), [staged], {}, {})
}

void describe('training > skew report', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'kfs-skew-unit-'))
  dirs.push(dir)
  const store = new LocalObjectStore(join(dir, 'objects'))
  const purchases = examples.userPurchases
  const clicks = examples.userClicks
  const rowsP = generateRows(purchases, 400, 7)
  const rowsC = generateRows(clicks, 400, 8)
  await writeRows(store, purchases, rowsP, 2)
  await writeRows(store, clicks, rowsC, 2)
  const registry = await registryWithViews(store, [purchases, clicks])
  const schemas = new EmbeddedSchemaRegistry({ dir: join(dir, 'schemas') })
  const encoder = await createEncoder({ registry: schemas, subject: 'served-value', schema: SERVED_FEATURES_SCHEMA })
  const decoder = createDecoder({ registry: schemas, readerSchema: SERVED_FEATURES_SCHEMA })
  const sink = new IcebergOfflineSink(store)
  const rand = prng(11)
  const served: ServedRecord[] = []
  for (let i = 0; i < 120; i++) {
    const [view, rows] = i % 2 === 0 ? [purchases, rowsP] : [clicks, rowsC]
    served.push(servedAt(rows, view, rand.pick(['u0', 'u1', 'u2', 'u3', 'u4', 'nobody']), BASE_MS + rand.int(0, 130) * HOUR_MS + rand.int(-2, 2), i))
  }
  const { parquet, createJoiner } = trainingDeps(store)
  const options = { offline: sink, parquet, createJoiner, registry, decoder, tempDir: dir }

  void test('values served by the as-served rule match 100 %, with zero difference', async () => {
    await archive(sink, 'served-clean', served, (e) => encoder.encode(e), encoder.schemaId)
    const report = await createSkewReport({ ...options, topic: 'served-clean' })
    assert.equal(report.records, 120)
    assert.equal(report.features.length, purchases.features.length + clicks.features.length)
    for (const f of report.features) {
      assert.equal(f.compared, 60, `${f.view}:${f.feature}`)
      assert.equal(f.exactMatchPct, 100, `${f.view}:${f.feature}`)
      if (f.numeric && f.numericPairs > 0) assert.deepEqual([f.meanAbsDiff, f.p99AbsDiff], [0, 0])
    }
    assert.ok(report.features.some((f) => f.numeric && f.numericPairs > 20), 'numeric pairs were compared')
    assert.deepEqual(failingFeatures(report, 100), [])
    const only = await createSkewReport({ ...options, topic: 'served-clean', views: ['user_clicks'], fromMs: BASE_MS + 24 * HOUR_MS })
    assert.deepEqual(only.records, served.filter((r) => r.viewName === 'user_clicks' && r.servedAtMs >= BASE_MS + 24 * HOUR_MS).length)
  })

  void test('altered values show as mismatches with their differences', async () => {
    const target = 'amount_sum_1d'
    const fi = purchases.features.findIndex((f) => f.name === target)
    const li = clicks.features.findIndex((f) => f.type === 'string[]')
    const deltas = [0.5, 3, 40]
    const altered = served.map((r) => ({ ...r, values: [...r.values] }))
    const numericTargets = altered.filter((r) => r.viewName === purchases.name && typeof r.values[fi] === 'number')
    numericTargets.slice(0, deltas.length).forEach((r, k) => ((r.values as FeatureValue[])[fi] = (r.values[fi] as number) + deltas[k]!))
    const nulled = altered.filter((r) => r.viewName === purchases.name && typeof r.values[fi] === 'number')[deltas.length]!
    ;(nulled.values as FeatureValue[])[fi] = null
    const listTarget = altered.find((r) => r.viewName === clicks.name && Array.isArray(r.values[li]))!
    ;(listTarget.values as FeatureValue[])[li] = ['tampered']
    await archive(sink, 'served-altered', altered, (e) => encoder.encode(e), encoder.schemaId)

    const report = await createSkewReport({ ...options, topic: 'served-altered' })
    const sum = report.features.find((f) => f.feature === target)!
    assert.equal(sum.compared, 60)
    assert.equal(sum.exactMatches, 60 - deltas.length - 1)
    assert.equal(sum.exactMatchPct, ((60 - deltas.length - 1) / 60) * 100)
    // Independent arithmetic: pairs where both sides are numbers, the altered ones off by their delta.
    const pairs = numericTargets.length - 1
    assert.equal(sum.numericPairs, pairs)
    const diffs = [...deltas, ...Array.from({ length: pairs - deltas.length }, () => 0)]
    const mean = diffs.reduce((a, b) => a + b, 0) / pairs
    assert.ok(Math.abs(sum.meanAbsDiff! - mean) < 1e-9, `${sum.meanAbsDiff} vs ${mean}`)
    // p99: the smallest difference that at least 99 % of the pairs do not exceed.
    const p99 = [...diffs].sort((a, b) => a - b).find((d) => diffs.filter((x) => x <= d).length >= 0.99 * pairs)!
    assert.ok(Math.abs(sum.p99AbsDiff! - p99) < 1e-9, `${sum.p99AbsDiff} vs ${p99}`)
    const list = report.features.find((f) => f.view === `${clicks.name}@1` && f.feature === clicks.features[li]!.name)!
    assert.deepEqual([list.numeric, list.exactMatches, list.meanAbsDiff], [false, 59, null])
    assert.deepEqual(failingFeatures(report, 100).map((f) => f.feature).sort(), [clicks.features[li]!.name, target].sort())
    assert.deepEqual(failingFeatures(report, 90), [])
    for (const f of report.features) if (f.feature !== target && f.feature !== clicks.features[li]!.name) assert.equal(f.exactMatchPct, 100, f.feature)
  })

  void test('copies of a lookup (the log delivers at least once) count once, in any partition and any number', async () => {
    // Each copy is the same record again: right after it, in the other partition, or three more times.
    const copies = [served[0]!, served[5]!, served[5]!, served[5]!, served[7]!, served[119]!]
    await archive(sink, 'served-copies', [...served, ...copies], (e) => encoder.encode(e), encoder.schemaId)
    const report = await createSkewReport({ ...options, topic: 'served-copies' })
    assert.deepEqual([report.records, report.skipped.duplicates], [120, copies.length])
    for (const f of report.features) assert.deepEqual([f.compared, f.exactMatchPct], [60, 100], `${f.view}:${f.feature}`)
  })

  void test('two records of one lookup that say different things are both compared, never deduplicated', async () => {
    const fi = purchases.features.findIndex((f) => f.type === 'double')
    const original = served.find((r) => r.viewName === purchases.name && r.values[fi] === 0) ?? served.find((r) => r.viewName === purchases.name && typeof r.values[fi] === 'number')!
    const value = original.values[fi] as number
    // A changed value, and (for a served 0) the same value with the other sign: -0 is not 0 in the log.
    const variants = [value + 1, ...(value === 0 ? [-0] : [])].map((v) => ({ ...original, values: original.values.map((x, i) => (i === fi ? v : x)) }))
    await archive(sink, 'served-same-lookup', [...served, ...variants], (e) => encoder.encode(e), encoder.schemaId)
    const report = await createSkewReport({ ...options, topic: 'served-same-lookup' })
    assert.deepEqual([report.records, report.skipped.duplicates], [120 + variants.length, 0])
    const feature = report.features.find((f) => f.view === `${purchases.name}@1` && f.feature === purchases.features[fi]!.name)!
    assert.deepEqual([feature.compared, feature.exactMatches], [60 + variants.length, 60])
  })

  void test('a topic with no archive reports nothing compared; unknown views are skipped', async () => {
    const empty = await createSkewReport({ ...options, topic: 'never-archived' })
    assert.deepEqual([empty.records, empty.archiveSnapshotId, empty.features.length], [0, null, 0])
    await archive(sink, 'served-ghost', [{ ...served[0]!, viewName: 'ghost_view' }, served[1]!], (e) => encoder.encode(e), encoder.schemaId)
    const ghost = await createSkewReport({ ...options, topic: 'served-ghost' })
    assert.deepEqual([ghost.records, ghost.skipped.unknownView], [1, 1])
  })

  void test('lookups of a view without an offline store are skipped as such, not compared with nulls', async () => {
    const onlineOnly = featureView({ ...viewOptionsOf(clicks), name: 'clicks_online_only', offline: false })
    await registry.apply(collectDefinitions([onlineOnly]))
    const records = [{ ...served[1]!, viewName: onlineOnly.name }, served[0]!, { ...served[3]!, viewName: onlineOnly.name }]
    await archive(sink, 'served-online-only', records, (e) => encoder.encode(e), encoder.schemaId)
    const report = await createSkewReport({ ...options, topic: 'served-online-only' })
    assert.deepEqual([report.records, report.skipped.noOfflineStore, report.skipped.unknownView], [1, 2, 0])
    assert.ok(report.features.every((f) => f.view.startsWith('user_purchases')))
  })
})
