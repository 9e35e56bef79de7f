/**
 * The label columns' layout in a training set's output (ports/point-in-time-joiner.ts
 * `OutputSpec.labelColumns`) is part of what its record promises: a new set from Parquet labels is
 * written `carried` and says so; a set recorded before that layout existed (no `labelColumns` in
 * its record) is rebuilt, and built again, `beside`, so its recorded sha256 still holds. The layout
 * each write asked for is read off a wrapped joiner.
 */
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, test } from 'node:test'
import * as examples from '../../../examples/features.ts'
import { LocalObjectStore } from '../../../adapters/object-store/index.ts'
import { encodeParquetColumns } from '../../../adapters/offline/parquet/index.ts'
import type { ObjectStore } from '../../../ports/object-store.ts'
import type { OutputSpec } from '../../../ports/point-in-time-joiner.ts'
import { createTrainingSet, rebuildTrainingSet } from '../../../training/index.ts'
import { trainingSetKeys, type TrainingSetRecord } from '../../../training/records.ts'
import { BASE_MS, generateRows, HOUR_MS, prng, registryWithViews, trainingDepsWithWrite, USERS, writeRows } from './fixtures.ts'

const dirs: string[] = []
after(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true })
})

const FEATURES = ['user_purchases:count', 'user_purchases:amount_avg_7d']

/** Parquet labels in row groups of 1,000 (not a multiple of DuckDB's 2,048-row chunks). */
async function labelBytes(count: number): Promise<Uint8Array> {
  const rand = prng(5)
  const users = Array.from({ length: count }, () => rand.pick(USERS))
  const times = Array.from({ length: count }, () => BASE_MS + rand.int(-3, 130) * HOUR_MS)
  const file = await encodeParquetColumns(
    [
      { name: 'user_id', type: 'string', fieldId: 1, required: true },
      { name: 'ts', type: 'timestamptz', fieldId: 2, required: true },
      { name: 'label', type: 'long', fieldId: 3, required: true },
    ],
    [users, times, users.map((_, i) => i % 2)],
    { rowGroupRows: 1_000 },
  )
  return file.bytes
}

/** trainingDeps whose joiner tells `asked` the layout of every write. */
function spiedDeps(store: ObjectStore, asked: (string | undefined)[]) {
  return trainingDepsWithWrite(store, async (write, ...args) => {
    asked.push((args[2] satisfies OutputSpec).labelColumns)
    await write(...args)
  })
}

async function setUp() {
  const dir = await mkdtemp(join(tmpdir(), 'kfs-label-layout-'))
  dirs.push(dir)
  const store = new LocalObjectStore(join(dir, 'store'))
  await writeRows(store, examples.userPurchases, generateRows(examples.userPurchases, 200, 5), 2)
  const registry = await registryWithViews(store)
  return { dir, store, registry, labels: { bytes: await labelBytes(5_000), format: 'parquet' as const } }
}

const sha256 = async (path: string): Promise<string> =>
  createHash('sha256')
    .update(await readFile(path))
    .digest('hex')

type EditableRecord = { -readonly [K in keyof TrainingSetRecord]?: TrainingSetRecord[K] }

async function editRecord(store: ObjectStore, id: string, edit: (record: EditableRecord) => void): Promise<void> {
  const key = trainingSetKeys.record(id)
  const record = JSON.parse(new TextDecoder().decode(await store.get(key))) as EditableRecord
  edit(record)
  await store.put(key, new TextEncoder().encode(`${JSON.stringify(record, null, 2)}\n`))
}

void describe('training sets > the label columns layout a record promises', () => {
  void test('a new set from Parquet labels is written carried, recorded so, and rebuilt carried to the same bytes', async () => {
    const { dir, store, registry, labels } = await setUp()
    const asked: (string | undefined)[] = []
    const first = join(dir, 'first.parquet')
    const result = await createTrainingSet({ ...spiedDeps(store, asked), registry, labels, features: FEATURES, output: first })
    assert.equal(result.record.labelColumns, 'carried')
    const rebuilt = join(dir, 'rebuilt.parquet')
    await rebuildTrainingSet({ ...spiedDeps(store, asked), registry, id: result.id, output: rebuilt })
    assert.deepEqual(asked, ['carried', 'carried'])
    assert.equal(await sha256(rebuilt), await sha256(first))
  })

  void test('a set recorded before the layout existed is built again and rebuilt beside, matching its record', async () => {
    const { dir, store, registry, labels } = await setUp()
    const asked: (string | undefined)[] = []
    const result = await createTrainingSet({
      ...spiedDeps(store, asked),
      registry,
      labels,
      features: FEATURES,
      output: join(dir, 'carried.parquet'),
    })
    // Make it a record of before the field: no labelColumns. Built again (same id), the set is
    // written beside; that build's bytes are what such a record's sha256 was taken from.
    await editRecord(store, result.id, (r) => delete r.labelColumns)
    const beside = join(dir, 'beside.parquet')
    const again = await createTrainingSet({ ...spiedDeps(store, asked), registry, labels, features: FEATURES, output: beside })
    assert.equal(again.id, result.id)
    assert.equal(again.record.labelColumns, undefined)
    const besideSha = await sha256(beside)
    await editRecord(store, result.id, (r) => (r.output = { ...r.output!, sha256: besideSha }))
    const rebuilt = join(dir, 'rebuilt.parquet')
    await rebuildTrainingSet({ ...spiedDeps(store, asked), registry, id: result.id, output: rebuilt })
    assert.deepEqual(asked, ['carried', 'beside', 'beside'])
    assert.equal(await sha256(rebuilt), besideSha)
  })
})
