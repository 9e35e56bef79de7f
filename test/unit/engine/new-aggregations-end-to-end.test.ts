/**
 * stddev, variance and top_k end to end on the embedded defaults (local event log, local-directory
 * Iceberg tables, embedded online store): a view defined with the DSL runs live; its offline rows
 * equal the reference model's; the online store and the HTTP serving API answer each entity's
 * latest reference row; a point-in-time training set built from the offline table answers every
 * label with the reference row in force at its time; and replay reproduces the live rows
 * (verify-parity).
 */
import assert from 'node:assert/strict'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { systemClock } from '../../../core/clock.ts'
import { silentLogger } from '../../../core/logger.ts'
import { purchases, user } from '../../../examples/features.ts'
import { featureView } from '../../../features/index.ts'
import type { FeatureRow, FeatureValue } from '../../../features/types.ts'
import { createDeadLetterTopicSink } from '../../../engine/dead-letter-topic.ts'
import { createLiveEngine } from '../../../engine/live-engine.ts'
import { EmbeddedEventLog } from '../../../adapters/event-log/embedded/index.ts'
import { createDecoder } from '../../../schemas/decoder.ts'
import { createEncoder } from '../../../schemas/encoder.ts'
import { EmbeddedSchemaRegistry } from '../../../adapters/schema-registry/embedded/embedded-schema-registry.ts'
import { EmbeddedOnlineStore } from '../../../adapters/online-store/embedded/embedded-online-store.ts'
import { IcebergOfflineSink } from '../../../adapters/offline/iceberg/offline-sink.ts'
import { LocalObjectStore, MemoryObjectStore } from '../../../adapters/object-store/index.ts'
import { trainingAdapters } from '../../../main/offline-adapters.ts'
import { readParquetBatches } from '../../../adapters/offline/parquet/index.ts'
import { collectDefinitions, createRegistry } from '../../../registry/index.ts'
import { createServer } from '../../../serving/server/index.ts'
import { createTrainingSet } from '../../../training/index.ts'
import { verifyParity } from '../../../replay/verify-parity.ts'
import { assertSameRows, expectedRowsByEntity, generatePurchases, offlineRowsByEntity, produceEvents, valuesClose, waitFor } from '../../support/scenario.ts'

const spread = featureView({
  name: 'purchase_spread',
  version: 1,
  entity: user,
  source: purchases,
  aggregations: [
    { op: 'stddev', field: 'amount', windows: ['1h', '1d'] },
    { op: 'variance', field: 'amount', sample: true, windows: ['1d'] },
    { op: 'top_k', field: 'currency', k: 2, windows: ['1d'] },
    { op: 'top_k', field: 'item_id', k: 3, windows: ['lifetime'] },
    // An event count changes with every event: the engine and the oracle round variance
    // differently, and without it a tie in the "same values → no row" rule could split them.
    { op: 'count', windows: ['lifetime'] },
  ],
  ttl: '30d',
  freshnessSla: '1m',
  owner: 'risk@shop.example',
  description: 'How spread out and how concentrated a user spends',
})

const NOW = Date.UTC(2026, 0, 2)

/** The reference row in force at `t` (the last with as_of ≤ t), or undefined (none, or outside the TTL). */
function rowAt(rows: readonly FeatureRow[], t: number): FeatureRow | undefined {
  let found: FeatureRow | undefined
  for (const r of rows) if (r.asOfMs <= t) found = r
  return found === undefined || found.asOfMs <= t - spread.ttlMs ? undefined : found
}

void test('stddev, variance and top_k: live → offline → online and HTTP serving → training set → parity, all equal the reference', async () => {
  const names = spread.features.map((f) => `${f.name}:${f.type}`)
  assert.deepEqual(names, [
    'amount_stddev_1h:double',
    'amount_stddev_1d:double',
    'amount_variance_samp_1d:double',
    'currency_top_2_1d:string[]',
    'currency_top_2_counts_1d:long[]',
    'item_id_top_3:string[]',
    'item_id_top_3_counts:long[]',
    'count:long',
  ])
  const dir = await mkdtemp(join(tmpdir(), 'kfs-new-aggs-'))
  try {
    const log = new EmbeddedEventLog({ dir: join(dir, 'log'), fsync: 'never' })
    const schemas = new EmbeddedSchemaRegistry({ dir: join(dir, 'schemas') })
    const store = new LocalObjectStore(join(dir, 'warehouse'))
    const online = new EmbeddedOnlineStore()
    const offline = new IcebergOfflineSink(store)
    await log.createTopic(purchases.topic, purchases.partitions)
    const encoder = await createEncoder({ registry: schemas, subject: `${purchases.topic}-value`, schema: purchases.schema })
    // Amounts far from zero put the variance's numerical care to work: 1e6 plus cents.
    const events = generatePurchases({ count: 1_500, users: 25, seed: 14 }).map((e) => ({ ...e, amount: 1e6 + e.amount }))

    // Live, with a stop and restart in the middle (operator state goes through a checkpoint).
    const makeEngine = () =>
      createLiveEngine({
        log,
        stateStore: store,
        offline,
        online,
        deadLetters: createDeadLetterTopicSink(log, 'kfs.dead-letters'),
        decoderFor: (s) => createDecoder({ registry: schemas, readerSchema: s.schema }),
        views: [spread],
        groupId: 'kfs-engine',
        clock: systemClock,
        logger: silentLogger,
        checkpointMaxRecords: 400,
        checkpointIntervalMs: 200,
        tickMs: 50,
      })
    const produced = []
    for (const half of [events.slice(0, 700), events.slice(700)]) {
      const batch = await produceEvents(log, purchases.topic, encoder, half)
      produced.push(...batch)
      const engine = makeEngine()
      await engine.start()
      await waitFor(() => engine.stats.consumed >= batch.length, 'events consumed')
      await engine.stop()
    }

    // Offline: exactly the reference rows.
    const expected = expectedRowsByEntity([spread], purchases, produced).get(spread.name)!
    assertSameRows(await offlineRowsByEntity(store, spread), expected, 'offline table')
    const keys = [...expected.keys()].sort()
    const latest = (key: string): FeatureRow => expected.get(key)!.at(-1)!
    const allRows = [...expected.values()].flat()
    assert.ok(allRows.some((r) => Array.isArray(r.values[3]) && (r.values[3] as string[]).length === 2), 'some user bought in two currencies within a day')
    assert.ok(allRows.some((r) => typeof r.values[2] === 'number' && r.values[2] > 0), 'some sample variance is positive')

    // Online: each entity's latest row.
    const reads = await online.readRows(keys.map((entityKey) => ({ view: spread, entityKey, features: spread.features.map((f) => f.name) })), NOW)
    keys.forEach((key, i) => {
      assert.equal(reads[i]!.asOfMs, latest(key).asOfMs, `online as_of of ${key}`)
      assert.ok(reads[i]!.values.every((v, j) => valuesClose(v, latest(key).values[j])), `online values of ${key}`)
    })

    // Serving over HTTP: the same values, named, as JSON.
    const server = createServer({ store: online, views: [spread], options: { clock: { nowMs: () => NOW, sleep: async () => {} }, logger: silentLogger } })
    const port = await server.listen(0)
    try {
      for (const key of keys.slice(0, 8)) {
        const res = await fetch(`http://127.0.0.1:${port}/v1/features/${spread.name}/${encodeURIComponent(key)}`)
        assert.equal(res.status, 200)
        const body = (await res.json()) as { status: string; as_of: number; features: Record<string, FeatureValue> }
        assert.equal(body.status, 'PRESENT')
        assert.equal(body.as_of, latest(key).asOfMs)
        spread.features.forEach((f, j) => assert.ok(valuesClose(body.features[f.name], latest(key).values[j]), `served ${f.name} of ${key}`))
      }
    } finally {
      await server.close()
    }

    // Training set: every label answered with the reference row in force at its time.
    const registry = createRegistry({ store, clock: systemClock })
    await registry.apply(collectDefinitions({ user, purchases, spread }))
    await registry.setBackfillStatus(spread.name, spread.version, { state: 'complete' })
    const start = Date.UTC(2026, 0, 1)
    const labels = keys.flatMap((key, i) => [start + 3_600_000 * (1 + (i % 7)), start + 86_400_000 + i * 60_000].map((ts) => ({ user_id: key, ts })))
    const csv = ['user_id,ts', ...labels.map((l) => `${l.user_id},${l.ts}`)].join('\n') + '\n'
    const output = join(dir, 'training.parquet')
    const result = await createTrainingSet({
      store,
      registry,
      ...trainingAdapters(offline),
      labels: { bytes: new TextEncoder().encode(csv), format: 'csv' },
      features: spread.features.map((f) => `${spread.name}:${f.name}`),
      output,
    })
    assert.equal(result.rows, labels.length)
    const columns: Record<string, unknown[]> = {}
    for await (const batch of readParquetBatches(new Uint8Array(await readFile(output)))) {
      for (const [name, values] of Object.entries(batch.columns)) (columns[name] ??= []).push(...values)
    }
    let answered = 0
    labels.forEach((l, r) => {
      const row = rowAt(expected.get(l.user_id)!, l.ts)
      if (row !== undefined) answered++
      spread.features.forEach((f, j) => {
        const got = columns[`${spread.name}__${f.name}`]![r]
        const want = row === undefined ? null : row.values[j]
        assert.ok(valuesClose(got, want), `label ${r} (${l.user_id} at ${l.ts}) ${f.name}: ${JSON.stringify(got)} vs ${JSON.stringify(want)}`)
      })
    })
    assert.ok(answered > labels.length / 2, `most labels find a row (${answered} of ${labels.length})`)

    // Parity: replaying the archive reproduces the live rows exactly.
    const parity = await verifyParity({
      offline,
      decoder: createDecoder({ registry: schemas, readerSchema: purchases.schema }),
      view: spread,
      groupId: 'kfs-engine',
      scratch: new MemoryObjectStore(),
    })
    assert.equal(parity.ok, true, JSON.stringify(parity.differences.slice(0, 2)))
    assert.equal(parity.liveRows, allRows.length)
    await log.close()
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
})
