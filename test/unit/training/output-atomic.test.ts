/**
 * A training set's `--out` file holds a whole set or what it held before: the join writes a
 * partial file beside it and renames it into place only once the build (and, for a rebuild, the
 * byte check) succeeded. Each way a build can stop after the join started writing is tried: the
 * join failing part-way through its write, the record failing to save, a rebuild whose bytes
 * differ from its record — each must leave the user's earlier file byte for byte and no partial
 * file behind.
 */
import assert from 'node:assert/strict'
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, test } from 'node:test'
import * as examples from '../../../examples/features.ts'
import { LocalObjectStore } from '../../../adapters/object-store/index.ts'
import type { ObjectStore } from '../../../ports/object-store.ts'
import { createTrainingSet, rebuildTrainingSet } from '../../../training/index.ts'
import { trainingSetKeys } from '../../../training/records.ts'
import { BASE_MS, generateRows, HOUR_MS, registryWithViews, trainingDeps, trainingDepsWithWrite, writeRows } from './fixtures.ts'

const dirs: string[] = []
after(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true })
})

const FEATURES = ['user_purchases:count', 'user_purchases:amount_avg_7d']
const EARLIER = 'the file the user kept at --out'

function labelsCsv(): Uint8Array {
  const lines = [
    'user_id,ts,label',
    ...Array.from({ length: 40 }, (_, i) => `u${i % 5},${BASE_MS + (i % 30) * HOUR_MS},${i % 2}`),
  ]
  return new TextEncoder().encode(`${lines.join('\n')}\n`)
}

async function setUp() {
  const dir = await mkdtemp(join(tmpdir(), 'kfs-ts-atomic-'))
  dirs.push(dir)
  const store = new LocalObjectStore(join(dir, 'store'))
  await writeRows(store, examples.userPurchases, generateRows(examples.userPurchases, 200, 7), 2)
  const registry = await registryWithViews(store)
  const outDir = join(dir, 'out')
  await mkdir(outDir)
  const output = join(outDir, 'train.parquet')
  await writeFile(output, EARLIER)
  return { store, registry, output, outDir }
}

/** trainingDeps whose join writes half its output and then fails, as a full disk or a crash of the engine would. */
function failingWriteDeps(store: ObjectStore) {
  return trainingDepsWithWrite(store, async (write, ...args) => {
    await write(...args)
    const written = await readFile(args[2].path)
    await writeFile(args[2].path, written.subarray(0, written.length >> 1))
    throw new Error('disk full half way through the output')
  })
}

/** A store whose training-set record cannot be saved. */
function recordFailingStore(store: ObjectStore): ObjectStore {
  return new Proxy(store, {
    get(target, prop, receiver) {
      if (prop === 'put' || prop === 'putIfAbsent') {
        return async (key: string, body: Uint8Array) => {
          if (key.startsWith('registry/training-sets/')) throw new Error(`object store refused ${key}`)
          return (target[prop] as (k: string, b: Uint8Array) => Promise<unknown>).call(target, key, body)
        }
      }
      const value: unknown = Reflect.get(target, prop, receiver)
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value
    },
  })
}

async function assertEarlierKept(output: string, outDir: string): Promise<void> {
  assert.equal(await readFile(output, 'utf8'), EARLIER)
  assert.deepEqual(await readdir(outDir), ['train.parquet'], 'no partial file is left beside the output')
}

void describe('training sets > the output file is replaced whole or not at all', () => {
  void test('a join that fails half way through its write leaves the earlier file', async () => {
    const { store, registry, output, outDir } = await setUp()
    await assert.rejects(
      createTrainingSet({
        ...failingWriteDeps(store),
        registry,
        labels: { bytes: labelsCsv(), format: 'csv' },
        features: FEATURES,
        output,
      }),
      /disk full/,
    )
    await assertEarlierKept(output, outDir)
  })

  void test('a record that cannot be saved leaves the earlier file', async () => {
    const { store, registry, output, outDir } = await setUp()
    assert.ok(trainingSetKeys.record('x').startsWith('registry/training-sets/'), 'the proxy refuses the records it is meant to')
    const failing = recordFailingStore(store)
    await assert.rejects(
      createTrainingSet({
        ...trainingDeps(failing),
        registry,
        labels: { bytes: labelsCsv(), format: 'csv' },
        features: FEATURES,
        output,
      }),
      /refused registry\/training-sets\//,
    )
    await assertEarlierKept(output, outDir)
  })

  void test('a build that succeeds replaces the earlier file, and a rebuild with other bytes leaves it', async () => {
    const { store, registry, output, outDir } = await setUp()
    const built = await createTrainingSet({
      ...trainingDeps(store),
      registry,
      labels: { bytes: labelsCsv(), format: 'csv' },
      features: FEATURES,
      output,
    })
    const bytes = await readFile(output)
    assert.equal(bytes.subarray(0, 4).toString(), 'PAR1')
    assert.deepEqual(await readdir(outDir), ['train.parquet'])
    // The record now promises other bytes: the rebuild's check fails after its join wrote.
    const key = trainingSetKeys.record(built.id)
    const record = JSON.parse(new TextDecoder().decode(await store.get(key))) as { output: { sha256: string } }
    record.output.sha256 = '0'.repeat(64)
    await store.put(key, new TextEncoder().encode(JSON.stringify(record)))
    await writeFile(output, EARLIER)
    await assert.rejects(rebuildTrainingSet({ ...trainingDeps(store), registry, id: built.id, output }), /gave different bytes/)
    await assertEarlierKept(output, outDir)
  })
})
