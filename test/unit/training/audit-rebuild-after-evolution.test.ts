/**
 * A training set is rebuilt exactly (docs/design.md §9) after the registry moved on: a new version
 * of a view it read through unpinned refs (`user_purchases:count` reads the latest version), or
 * its service's feature list edited in place by a later apply. The rebuild re-resolved the refs
 * against the registry as it is now: it read v2's table (not the snapshot pinned for v1), or the
 * service's new list, and failed with "rebuilding gave different bytes" — the set could never be
 * rebuilt again. It now reads the refs and view versions its record names.
 */
import assert from 'node:assert/strict'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, test } from 'node:test'
import * as examples from '../../../examples/features.ts'
import { featureService, featureView } from '../../../features/index.ts'
import { LocalObjectStore } from '../../../adapters/object-store/index.ts'
import { readParquetBatches } from '../../../adapters/offline/parquet/index.ts'
import { collectDefinitions } from '../../../registry/index.ts'
import { createTrainingSet, rebuildTrainingSet } from '../../../training/index.ts'
import { BASE_MS, HOUR_MS, generateRows, registryWithViews, trainingDeps, writeRows } from './fixtures.ts'

const dirs: string[] = []
after(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true })
})

/** v2 of user_purchases: the same features (so unpinned refs resolve to it), another TTL. */
const purchasesV2 = featureView({
  name: 'user_purchases',
  version: 2,
  entity: examples.user,
  source: examples.purchases,
  aggregations: [
    { op: 'sum', field: 'amount', windows: ['1h', '1d', '7d'] },
    { op: 'avg', field: 'amount', windows: ['1h', '1d', '7d'] },
    { op: 'max', field: 'amount', windows: ['1h', '1d', '7d'] },
    { op: 'count', windows: ['lifetime'] },
  ],
  ttl: '1d',
  freshnessSla: '1m',
  owner: 'risk@shop.example',
  description: 'v2',
})

const scorer = (features: readonly string[]) => featureService({ name: 'scorer', features, owner: 'o', description: 'd' })

function labels(): Uint8Array {
  const lines = ['user_id,ts', ...Array.from({ length: 60 }, (_, i) => `u${i % 5},${BASE_MS + (i * 2 + 1) * HOUR_MS}`)]
  return new TextEncoder().encode(`${lines.join('\n')}\n`)
}

const EVOLUTIONS: Record<string, { readonly selection: string | readonly string[]; readonly then: readonly unknown[] }> = {
  'unpinned refs, then a v2 of their view': {
    selection: ['user_purchases:count', 'user_purchases:amount_avg_7d'],
    then: [purchasesV2],
  },
  'a service with unpinned refs, then a v2 of their view': {
    selection: 'scorer',
    then: [purchasesV2, scorer(['user_purchases:count', 'user_purchases:amount_avg_7d'])],
  },
  'a service, then its feature list edited in place': {
    selection: 'scorer',
    then: [scorer(['user_purchases:count'])],
  },
}

void describe('training set > rebuilt exactly after the registry moved on', () => {
  for (const [what, e] of Object.entries(EVOLUTIONS)) {
    void test(`${what}: the rebuild reads what the record names, byte for byte`, async () => {
      const dir = await mkdtemp(join(tmpdir(), 'kfs-rebuild-evolution-'))
      dirs.push(dir)
      const store = new LocalObjectStore(join(dir, 'store'))
      await writeRows(store, examples.userPurchases, generateRows(examples.userPurchases, 150, 3), 2)
      const registry = await registryWithViews(store)
      await registry.apply(collectDefinitions([scorer(['user_purchases:count', 'user_purchases:amount_avg_7d'])]))
      const first = join(dir, 'first.parquet')
      const built = await createTrainingSet({
        ...trainingDeps(store),
        registry,
        labels: { bytes: labels(), format: 'csv' },
        features: e.selection,
        output: first,
      })
      assert.deepEqual(
        built.record.views.map((v) => `${v.name}@${v.version}`),
        ['user_purchases@1'],
      )

      await registry.apply(collectDefinitions(e.then))
      if (e.then.includes(purchasesV2)) {
        await writeRows(store, purchasesV2, generateRows(purchasesV2, 150, 4))
        await registry.setBackfillStatus('user_purchases', 2, { state: 'complete' })
      }
      const rebuilt = join(dir, 'rebuilt.parquet')
      const again = await rebuildTrainingSet({ ...trainingDeps(store), registry, id: built.id, output: rebuilt })
      assert.equal(again.id, built.id)
      assert.deepEqual(await readFile(rebuilt), await readFile(first))
    })
  }
})

void describe('training set > a request feature whose input reads the latest version, beside a ref to an older one', () => {
  void test('the request feature is computed from the version its input resolved to, as when asked alone', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'kfs-request-versions-'))
    dirs.push(dir)
    const store = new LocalObjectStore(join(dir, 'store'))
    await writeRows(store, examples.userPurchases, generateRows(examples.userPurchases, 150, 3), 2)
    const registry = await registryWithViews(store)
    await registry.apply(collectDefinitions([purchasesV2]))
    await writeRows(store, purchasesV2, generateRows(purchasesV2, 150, 4))
    await registry.setBackfillStatus('user_purchases', 2, { state: 'complete' })
    const csv = new TextEncoder().encode(
      `user_id,ts,amount\n${Array.from({ length: 60 }, (_, i) => `u${i % 5},${BASE_MS + (i * 2 + 1) * HOUR_MS},${i + 1}`).join('\n')}\n`,
    )
    const deps = { ...trainingDeps(store), registry, requestFeatures: [examples.amountVsAvg7d] }
    const build = async (features: readonly string[], name: string) => {
      const output = join(dir, name)
      const result = await createTrainingSet({ ...deps, labels: { bytes: csv, format: 'csv' }, features, output })
      return { result, columns: await columnsOf(output) }
    }
    const alone = await build(['amount_vs_avg_7d'], 'alone.parquet')
    const beside = await build(['user_purchases@1:count', 'amount_vs_avg_7d'], 'beside.parquet')
    assert.deepEqual(
      beside.result.record.views.map((v) => `${v.name}@${v.version}`),
      ['user_purchases@1', 'user_purchases@2'],
    )
    assert.ok(
      alone.columns.amount_vs_avg_7d!.some((v) => v !== null),
      'the labels meet some history',
    )
    assert.deepEqual(beside.columns.amount_vs_avg_7d, alone.columns.amount_vs_avg_7d)
  })
})

async function columnsOf(path: string): Promise<Record<string, unknown[]>> {
  const columns: Record<string, unknown[]> = {}
  for await (const batch of readParquetBatches(new Uint8Array(await readFile(path)))) {
    for (const [name, values] of Object.entries(batch.columns)) (columns[name] ??= []).push(...values)
  }
  return columns
}
