/**
 * A recorded training set's two objects in the registry's store (training/records.ts), damaged
 * each way: the label copy replaced, cut or emptied; the record not JSON, cut, or JSON of another
 * shape. Every reader of them — `rebuildTrainingSet`, a new build under the same id (it reads the
 * record's layout), and `pinnedSnapshots` (snapshot expiry's list of what to keep) — fails with
 * DATA_CORRUPT naming the object. Before, damaged labels were reported as a rebuild that "gave
 * different bytes" (INVARIANT_VIOLATED, blaming request-feature code or DuckDB), and a damaged
 * record surfaced as a SyntaxError or TypeError (an "unexpected error", a bug report).
 */
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, test } from 'node:test'
import { FeatureStoreError } from '../../../core/errors.ts'
import * as examples from '../../../examples/features.ts'
import { MemoryObjectStore } from '../../../adapters/object-store/index.ts'
import { createTrainingSet, rebuildTrainingSet, trainingSetKeys } from '../../../training/index.ts'
import { pinnedSnapshots } from '../../../training/records.ts'
import { BASE_MS, generateRows, HOUR_MS, registryWithViews, trainingDeps, writeRows } from './fixtures.ts'

const dir = await mkdtemp(join(tmpdir(), 'kfs-damaged-records-'))
after(async () => {
  await rm(dir, { recursive: true, force: true })
})

const csv = new TextEncoder().encode(
  ['user_id,ts', ...Array.from({ length: 20 }, (_, i) => `u${i % 5},${BASE_MS + i * HOUR_MS}`)].join('\n'),
)
const other = new TextEncoder().encode(
  ['user_id,ts', ...Array.from({ length: 20 }, (_, i) => `u${i % 5},${BASE_MS + (i + 1) * HOUR_MS}`)].join('\n'),
)

/** A store with one recorded set; its id. */
async function recorded() {
  const store = new MemoryObjectStore()
  await writeRows(store, examples.userClicks, generateRows(examples.userClicks, 100, 3))
  const registry = await registryWithViews(store, [examples.userClicks])
  const deps = { ...trainingDeps(store), registry }
  const { id } = await createTrainingSet({
    ...deps,
    labels: { bytes: csv, format: 'csv' },
    features: ['user_clicks:count_1h'],
    output: join(dir, 'first.parquet'),
  })
  return { store, deps, id }
}

const LABELS: readonly [string, (bytes: Uint8Array) => Uint8Array][] = [
  ['other labels of the same size', () => other],
  ['cut short', (b) => b.subarray(0, b.length - 7)],
  ['emptied', () => new Uint8Array(0)],
]

const RECORDS: readonly [string, (bytes: Uint8Array) => Uint8Array][] = [
  ['not JSON', () => new TextEncoder().encode('<html>gateway timeout</html>')],
  ['cut short', (b) => b.subarray(0, b.length >> 1)],
  ['emptied', () => new Uint8Array(0)],
  ['JSON null', () => new TextEncoder().encode('null')],
  ['an empty object', () => new TextEncoder().encode('{}')],
  [
    'without its views',
    (b) => new TextEncoder().encode(JSON.stringify({ ...(JSON.parse(new TextDecoder().decode(b)) as object), views: undefined })),
  ],
]

const corrupt = (key: string) => (err: unknown) =>
  err instanceof FeatureStoreError && err.code === 'DATA_CORRUPT' && err.message.includes(key)

void describe('training set > a recorded set whose stored objects are damaged', () => {
  void test('undamaged, it rebuilds (what the cases below differ from)', async () => {
    const { deps, id } = await recorded()
    await rebuildTrainingSet({ ...deps, id, output: join(dir, 'again.parquet') })
  })

  for (const [what, damage] of LABELS)
    void test(`its label copy ${what}: the rebuild is DATA_CORRUPT naming it`, async () => {
      const { store, deps, id } = await recorded()
      const key = trainingSetKeys.labels(id, 'csv')
      await store.put(key, damage((await store.get(key))!))
      await assert.rejects(rebuildTrainingSet({ ...deps, id, output: join(dir, 'never.parquet') }), corrupt(key))
    })

  for (const [what, damage] of RECORDS)
    void test(`its record ${what}: rebuild, a build under its id and the expiry's pins are DATA_CORRUPT naming it`, async () => {
      const { store, deps, id } = await recorded()
      const key = trainingSetKeys.record(id)
      await store.put(key, damage((await store.get(key))!))
      await assert.rejects(rebuildTrainingSet({ ...deps, id, output: join(dir, 'never.parquet') }), corrupt(key))
      await assert.rejects(
        createTrainingSet({
          ...deps,
          labels: { bytes: csv, format: 'csv' },
          features: ['user_clicks:count_1h'],
          output: join(dir, 'never.parquet'),
        }),
        corrupt(key),
      )
      await assert.rejects(pinnedSnapshots(store), corrupt(key))
    })
})
