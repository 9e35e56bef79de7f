import assert from 'node:assert/strict'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, test } from 'node:test'
import { encodeEntityKey } from '../../../core/entity-key.ts'
import { FeatureStoreError } from '../../../core/errors.ts'
import * as examples from '../../../examples/features.ts'
import type { FeatureValue, FeatureViewDef } from '../../../features/types.ts'
import { loadTable } from '../../../adapters/offline/iceberg/index.ts'
import { featureTablePath } from '../../../adapters/offline/iceberg/offline-sink.ts'
import { LocalObjectStore, MemoryObjectStore } from '../../../adapters/object-store/index.ts'
import { encodeParquetColumns, readParquetBatches, readParquetFooter } from '../../../adapters/offline/parquet/index.ts'
import { createTrainingSet, rebuildTrainingSet, TRAINING_SET_METADATA_KEY } from '../../../training/index.ts'
import {
  asOfOfValue,
  BASE_MS,
  definitions,
  generateRows,
  HOUR_MS,
  ITEMS,
  oracle,
  prng,
  registryWithViews,
  trainingDeps,
  USERS,
  userItemClicks,
  views,
  writeRows,
  type GenRow,
} from './fixtures.ts'

const dirs: string[] = []
after(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true })
})
async function tempDir(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'kfs-ts-test-'))
  dirs.push(d)
  return d
}

interface Label {
  user_id: string
  item_id: string
  ts: number
  amount: number
  label: number
}

/** Label times on the hourly grid (hitting as_of and TTL boundaries exactly) and between it. */
function generateLabels(count: number, seed: number): Label[] {
  const rand = prng(seed)
  return Array.from({ length: count }, (_, i) => ({
    user_id: rand.next() < 0.05 ? 'u99' : rand.next() < 0.03 ? '' : rand.pick(USERS),
    item_id: rand.pick(ITEMS),
    ts: BASE_MS + rand.int(-3, 130) * HOUR_MS + (rand.next() < 0.5 ? 0 : rand.pick([-1, 1, 1_800_000])),
    amount: rand.int(1, 500) / 4,
    label: i % 2,
  }))
}

function labelsCsv(labels: readonly Label[]): Uint8Array {
  const lines = [
    'user_id,item_id,ts,amount,label',
    ...labels.map((l) => `${l.user_id},${l.item_id},${l.ts},${l.amount},${l.label}`),
  ]
  return new TextEncoder().encode(`${lines.join('\r\n')}\r\n`)
}

/** Parquet labels (the engine derives keys and times from them in SQL); '' user ids become nulls. */
async function labelsParquet(labels: readonly Label[], tsType: 'timestamptz' | 'long'): Promise<Uint8Array> {
  const file = await encodeParquetColumns(
    [
      { name: 'user_id', type: 'string', fieldId: 1, required: false },
      { name: 'item_id', type: 'string', fieldId: 2, required: true },
      { name: 'ts', type: tsType, fieldId: 3, required: true },
      { name: 'amount', type: 'double', fieldId: 4, required: true },
      { name: 'label', type: 'long', fieldId: 5, required: true },
    ],
    [
      labels.map((l) => (l.user_id === '' ? null : l.user_id)),
      labels.map((l) => l.item_id),
      labels.map((l) => l.ts),
      labels.map((l) => l.amount),
      labels.map((l) => l.label),
    ],
  )
  return file.bytes
}

type LabelKind = 'csv' | 'parquet-timestamp' | 'parquet-epoch-ms'
async function labelInput(labels: readonly Label[], kind: LabelKind) {
  if (kind === 'csv') return { bytes: labelsCsv(labels), format: 'csv' as const }
  return { bytes: await labelsParquet(labels, kind === 'parquet-timestamp' ? 'timestamptz' : 'long'), format: 'parquet' as const }
}

async function readOutput(path: string): Promise<{ columns: Record<string, unknown[]>; metadata: Record<string, unknown> }> {
  const bytes = new Uint8Array(await readFile(path))
  const columns: Record<string, unknown[]> = {}
  for await (const batch of readParquetBatches(bytes)) {
    for (const [name, values] of Object.entries(batch.columns)) (columns[name] ??= []).push(...values)
  }
  const footer = await readParquetFooter(bytes)
  const kv = footer.fileMetadata().keyValueMetadata()
  footer.free()
  return { columns, metadata: JSON.parse(kv.get(TRAINING_SET_METADATA_KEY) as string) as Record<string, unknown> }
}

function keyOf(view: FeatureViewDef, l: Label): string | null {
  const parts = view.entity.joinKeys.map((k) => (k === 'user_id' ? l.user_id : l.item_id))
  return parts.some((p) => p === '') ? null : encodeEntityKey(parts)
}

const allRefs = views.flatMap((v) => v.features.map((f) => `${v.name}:${f.name}`))

async function seededStore(seed: number) {
  const store = new MemoryObjectStore()
  const rows = new Map<FeatureViewDef, GenRow[]>()
  for (const [i, v] of views.entries()) {
    const generated = generateRows(v, 300, seed * 10 + i)
    rows.set(v, generated)
    await writeRows(store, v, generated, 3)
  }
  return { store, rows, registry: await registryWithViews(store) }
}

function assertMatchesOracle(
  columns: Record<string, unknown[]>,
  labels: readonly Label[],
  rows: Map<FeatureViewDef, GenRow[]>,
  asServed: boolean,
  checked: readonly FeatureViewDef[] = views,
): number {
  let nonNull = 0
  labels.forEach((l, r) => {
    for (const v of checked) {
      const expected = oracle(rows.get(v)!, v, keyOf(v, l), l.ts, asServed)
      v.features.forEach((f, fi) => {
        const got = columns[`${v.name}__${f.name}`]![r]
        const want = expected === null ? null : (expected[fi] ?? null)
        assert.deepEqual(got, want, `row ${r} ${v.name}:${f.name} at t=${l.ts}`)
        if (got !== null) nonNull++
      })
    }
  })
  return nonNull
}

void describe('training set > point-in-time join', () => {
  // CSV labels and composite keys go through JS key encoding; Parquet labels with single keys
  // let the engine derive keys and times in SQL: both must equal the oracle.
  for (const [seed, kind, composite] of [
    [1, 'csv', true],
    [2, 'parquet-timestamp', false],
    [3, 'parquet-epoch-ms', false],
    [4, 'parquet-epoch-ms', true],
  ] as const) {
    void test(`equals the brute-force oracle on random data (seed ${seed}, ${kind} labels${composite ? ', with a composite key' : ''}): duplicate as_of, TTL, missing entities, several views and entity types`, async () => {
      const checked = composite ? views : views.filter((v) => v !== userItemClicks)
      const refs = checked.flatMap((v) => v.features.map((f) => `${v.name}:${f.name}`))
      const { store, rows, registry } = await seededStore(seed)
      const labels = generateLabels(400, seed)
      const out = join(await tempDir(), 'set.parquet')
      const result = await createTrainingSet({
        ...trainingDeps(store),
        registry,
        labels: await labelInput(labels, kind),
        features: refs,
        output: out,
      })
      const { columns } = await readOutput(out)
      assert.equal(result.rows, labels.length)
      assert.deepEqual(
        columns.user_id,
        labels.map((l) => (l.user_id === '' ? null : l.user_id)),
      )
      assert.deepEqual(
        columns.label,
        labels.map((l) => l.label),
      )
      const nonNull = assertMatchesOracle(columns, labels, rows, false, checked)
      assert.ok(nonNull > 200, `the data must exercise real matches (${nonNull})`)
    })
  }

  void test('no value from after the label time (or older than the TTL) ever appears', async () => {
    const { store, registry } = await seededStore(7)
    const labels = generateLabels(500, 7)
    const out = join(await tempDir(), 'set.parquet')
    await createTrainingSet({
      ...trainingDeps(store),
      registry,
      labels: { bytes: labelsCsv(labels), format: 'csv' },
      features: allRefs,
      output: out,
    })
    const { columns } = await readOutput(out)
    let checked = 0
    labels.forEach((l, r) => {
      for (const v of views) {
        for (const f of v.features) {
          const value = columns[`${v.name}__${f.name}`]![r] as FeatureValue
          const asOf = asOfOfValue(f.type, value)
          if (asOf === undefined) continue
          assert.ok(asOf <= l.ts, `row ${r} ${v.name}:${f.name} comes from ${asOf} > label time ${l.ts}`)
          assert.ok(asOf > l.ts - v.ttlMs, `row ${r} ${v.name}:${f.name} is older than the TTL`)
          checked++
        }
      }
    })
    assert.ok(checked > 500)
  })

  void test('as served: joins on created_at and keeps the conditional-write winner (oracle)', async () => {
    const { store, rows, registry } = await seededStore(11)
    const labels = generateLabels(400, 11)
    const out = join(await tempDir(), 'served.parquet')
    await createTrainingSet({
      ...trainingDeps(store),
      registry,
      labels: await labelInput(labels, 'parquet-timestamp'),
      features: allRefs,
      asServed: true,
      output: out,
    })
    const { columns, metadata } = await readOutput(out)
    assert.equal(metadata.as_served, true)
    assert.ok(assertMatchesOracle(columns, labels, rows, true) > 100)
    // And it is a different answer from point-in-time on this data (replayed rows, delays).
    const pit = join(await tempDir(), 'pit.parquet')
    await createTrainingSet({
      ...trainingDeps(store),
      registry,
      labels: { bytes: labelsCsv(labels), format: 'csv' },
      features: allRefs,
      output: pit,
    })
    assert.notDeepEqual((await readOutput(pit)).columns, columns)
  })

  void test('composite entity keys are encoded in join-key order', async () => {
    const store = new MemoryObjectStore()
    const key = encodeEntityKey(['u1', 'i2'])
    await writeRows(store, userItemClicks, [{ entityKey: key, asOfMs: BASE_MS, createdAtMs: BASE_MS, offset: 0, values: [5] }])
    const registry = await registryWithViews(store)
    const csv = new TextEncoder().encode(`item_id,user_id,ts\ni2,u1,${BASE_MS}\ni1,u2,${BASE_MS}\ni2,u1,${BASE_MS - 1}\n`)
    const out = join(await tempDir(), 'c.parquet')
    await createTrainingSet({
      ...trainingDeps(store),
      registry,
      labels: { bytes: csv, format: 'csv' },
      features: ['user_item_clicks:count_1d'],
      output: out,
    })
    assert.deepEqual((await readOutput(out)).columns.user_item_clicks__count_1d, [5, null, null])
  })
})

void describe('training set > records and refusals', () => {
  void test('refuses a view whose backfill is not complete', async () => {
    const store = new MemoryObjectStore()
    const registry = await registryWithViews(store, [examples.userPurchases])
    const csv = new TextEncoder().encode(`user_id,ts\nu1,${BASE_MS}\n`)
    await assert.rejects(
      createTrainingSet({
        ...trainingDeps(store),
        registry,
        labels: { bytes: csv, format: 'csv' },
        features: ['user_purchases:count', 'user_clicks:count_1h'],
        output: join(await tempDir(), 'x.parquet'),
      }),
      (err: unknown) => err instanceof FeatureStoreError && err.code === 'BACKFILL_INCOMPLETE' && /user_clicks/.test(err.message),
    )
  })

  void test('says which join-key column the labels lack', async () => {
    const store = new MemoryObjectStore()
    const registry = await registryWithViews(store)
    const csv = new TextEncoder().encode(`user_id,ts\nu1,${BASE_MS}\n`)
    await assert.rejects(
      createTrainingSet({
        ...trainingDeps(store),
        registry,
        labels: { bytes: csv, format: 'csv' },
        features: ['item_clicks:count_1h'],
        output: join(await tempDir(), 'x.parquet'),
      }),
      (err: unknown) => err instanceof FeatureStoreError && err.code === 'BAD_REQUEST' && /item_id/.test(err.message),
    )
  })

  void test('records pinned snapshot ids; rebuild(id) reproduces the file byte for byte after new commits', async () => {
    const dir = await tempDir()
    const store = new LocalObjectStore(join(dir, 'store'))
    const rows = generateRows(examples.userPurchases, 200, 5)
    await writeRows(store, examples.userPurchases, rows.slice(0, 150), 2)
    const registry = await registryWithViews(store)
    const labels = generateLabels(200, 5)
    const first = join(dir, 'first.parquet')
    const result = await createTrainingSet({
      ...trainingDeps(store),
      registry,
      labels: { bytes: labelsCsv(labels), format: 'csv' },
      features: ['user_purchases:count', 'user_purchases:amount_avg_7d'],
      output: first,
    })
    const table = await loadTable(store, featureTablePath(examples.userPurchases))
    const { metadata } = await readOutput(first)
    assert.equal(metadata.id, result.id)
    assert.deepEqual(metadata.snapshots, {
      [featureTablePath(examples.userPurchases)]: String(table.metadata['current-snapshot-id']),
    })

    // New rows land in a new snapshot: a fresh build sees them, the rebuild must not.
    await writeRows(store, examples.userPurchases, rows.slice(150))
    const fresh = join(dir, 'fresh.parquet')
    const freshResult = await createTrainingSet({
      ...trainingDeps(store),
      registry,
      labels: { bytes: labelsCsv(labels), format: 'csv' },
      features: ['user_purchases:count', 'user_purchases:amount_avg_7d'],
      output: fresh,
    })
    assert.notEqual(freshResult.id, result.id)
    const rebuilt = join(dir, 'rebuilt.parquet')
    await rebuildTrainingSet({ ...trainingDeps(store), registry, id: result.id, output: rebuilt })
    assert.deepEqual(await readFile(rebuilt), await readFile(first))
    assert.notDeepEqual(await readFile(fresh), await readFile(first))
  })

  for (const kind of ['csv', 'parquet-epoch-ms'] as const) {
    void test(`request features equal the definition fn applied to the joined inputs (service fraud_model, ${kind} labels)`, async () => {
      const { store, registry } = await seededStore(13)
      const labels = generateLabels(300, 13)
      const out = join(await tempDir(), 'fraud.parquet')
      await createTrainingSet({
        ...trainingDeps(store),
        registry,
        requestFeatures: definitions.requestFeatures,
        labels: await labelInput(labels, kind),
        features: 'fraud_model',
        output: out,
      })
      const { columns, metadata } = await readOutput(out)
      assert.equal(metadata.service, 'fraud_model')
      let nonNull = 0
      labels.forEach((l, r) => {
        const avg = columns['user_purchases__amount_avg_7d']![r] as FeatureValue
        const want = examples.amountVsAvg7d.fn({ amount: l.amount }, { 'user_purchases:amount_avg_7d': avg }, {})
        assert.deepEqual(columns['amount_vs_avg_7d']![r], want, `row ${r}`)
        if (want !== null) nonNull++
      })
      assert.ok(nonNull > 50)
      for (const ref of examples.fraudModel.features) assert.ok(`${ref.replace(':', '__')}` in columns, ref)
      assert.deepEqual(
        columns.amount,
        labels.map((l) => l.amount),
      )
    })
  }

  void test('a request feature without its definition is a clear error', async () => {
    const { store, registry } = await seededStore(17)
    await assert.rejects(
      createTrainingSet({
        ...trainingDeps(store),
        registry,
        labels: { bytes: labelsCsv(generateLabels(5, 1)), format: 'csv' },
        features: 'fraud_model',
        output: join(await tempDir(), 'x.parquet'),
      }),
      (err: unknown) => err instanceof FeatureStoreError && err.code === 'NOT_FOUND' && /amount_vs_avg_7d/.test(err.message),
    )
  })
})
