/**
 * Training sets over an S3 object store (MinIO from the stack): the pinned data files are copied
 * to a temp directory for the engine; results equal the oracle and the rebuild is byte-identical.
 */
import assert from 'node:assert/strict'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, test } from 'node:test'
import * as examples from '../../../examples/features.ts'
import type { S3ObjectStore } from '../../../adapters/object-store/s3/s3-object-store.ts'
import { readParquetBatches } from '../../../adapters/offline/parquet/index.ts'
import { createTrainingSet, rebuildTrainingSet } from '../../../training/index.ts'
import { makeS3Store, requireS3Env } from '../object-store/s3-env.ts'
import { BASE_MS, generateRows, HOUR_MS, oracle, registryWithViews, trainingDeps, writeRows } from '../../unit/training/fixtures.ts'

const stores: S3ObjectStore[] = []
const dirs: string[] = []
after(async () => {
  for (const s of stores) {
    for (const key of await s.list('')) await s.delete(key)
    s.close()
  }
  for (const d of dirs) await rm(d, { recursive: true, force: true })
})

void describe('training set > S3 object store', () => {
  void test('equals the oracle, records snapshots, rebuilds byte for byte', async () => {
    const store = makeS3Store(requireS3Env(), 'training-set')
    stores.push(store)
    const dir = await mkdtemp(join(tmpdir(), 'kfs-ts-s3-'))
    dirs.push(dir)
    const view = examples.userPurchases
    const rows = generateRows(view, 300, 21)
    await writeRows(store, view, rows, 2)
    const registry = await registryWithViews(store, [view])
    const labels = Array.from({ length: 120 }, (_, i) => ({ user: `u${i % 6}`, t: BASE_MS + ((i * 7) % 125) * HOUR_MS - (i % 3) }))
    const csv = new TextEncoder().encode(['user_id,ts', ...labels.map((l) => `${l.user},${l.t}`)].join('\n'))
    const out = join(dir, 'set.parquet')
    const result = await createTrainingSet({ ...trainingDeps(store), registry, labels: { bytes: csv, format: 'csv' }, features: ['user_purchases:amount_sum_1d', 'user_purchases:count'], output: out, tempDir: dir })
    const got: Record<string, unknown[]> = {}
    for await (const b of readParquetBatches(new Uint8Array(await readFile(out)))) for (const [k, v] of Object.entries(b.columns)) (got[k] ??= []).push(...v)
    const sumIndex = view.features.findIndex((f) => f.name === 'amount_sum_1d')
    const countIndex = view.features.findIndex((f) => f.name === 'count')
    let nonNull = 0
    labels.forEach((l, r) => {
      const want = oracle(rows, view, l.user, l.t, false)
      assert.deepEqual(got.user_purchases__amount_sum_1d![r], want === null ? null : want[sumIndex], `row ${r}`)
      assert.deepEqual(got.user_purchases__count![r], want === null ? null : want[countIndex], `row ${r}`)
      if (want !== null) nonNull++
    })
    assert.ok(nonNull > 30)
    assert.equal(result.record.views[0]!.snapshotId !== null, true)
    const again = join(dir, 'again.parquet')
    await rebuildTrainingSet({ ...trainingDeps(store), registry, id: result.id, output: again, tempDir: dir })
    assert.deepEqual(await readFile(again), await readFile(out))
  })
})
