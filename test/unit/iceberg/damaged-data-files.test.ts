/**
 * An offline table's data file damaged after it was written — cut short, emptied, overwritten, or
 * bytes flipped anywhere in it — is reported as that file's failure (DATA_CORRUPT, the file named),
 * never as an unexpected error of whichever command reads the table (replay, verify-parity,
 * compaction, the training set's feature rows). A missing file is OBJECT_NOT_FOUND, also named.
 * The same holds for the table's own metadata: its JSON, the manifest list and the manifests.
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { FeatureStoreError } from '../../../core/errors.ts'
import { MemoryObjectStore } from '../../../adapters/object-store/index.ts'
import { appendFiles, createTable, dataFilesOf, dayPartitionSpec, loadTable, readRows, writeDataFiles, type IcebergTable } from '../../../adapters/offline/iceberg/index.ts'
import { keyOfStoreUri } from '../../../ports/object-store-keys.ts'
import { clicksSchema, testClock } from './clicks-table.ts'

const clock = testClock
const T0 = Date.UTC(2024, 0, 15, 10, 30)
const schema = clicksSchema([{ id: 4, name: 'city', required: false, type: 'string' }])

async function oneFileTable(): Promise<{ store: MemoryObjectStore; table: IcebergTable; key: string; path: string; bytes: Uint8Array; rows: number }> {
  const store = new MemoryObjectStore()
  const table = await createTable(store, 'wh/damaged', { schema, partitionSpec: dayPartitionSpec(schema, 'as_of'), clock })
  const rows = Array.from({ length: 400 }, (_, i) => ({ entity_key: `u${i}`, as_of: T0 + i, clicks: i % 7 === 0 ? null : i * 3, city: i % 3 === 0 ? null : `city-${i % 11}` }))
  const res = await appendFiles(table, await writeDataFiles(table, rows), {}, { clock })
  assert.equal(res.status, 'committed')
  const files = await dataFilesOf(res.table)
  assert.equal(files.length, 1)
  const key = keyOfStoreUri(store, files[0]!.filePath)
  return { store, table: res.table, key, path: files[0]!.filePath, bytes: (await store.get(key))!, rows: rows.length }
}

/** The rows read, or the error the read ended with. */
async function readAll(table: IcebergTable): Promise<number | unknown> {
  let n = 0
  try {
    for await (const _ of readRows(table)) n++
    return n
  } catch (err: unknown) {
    return err
  }
}

function assertNamedCorrupt(err: unknown, path: string, what: string): void {
  assert.ok(err instanceof FeatureStoreError, `${what}: not a FeatureStoreError: ${String(err)}`)
  assert.equal(err.code, 'DATA_CORRUPT', `${what}: ${err.message}`)
  assert.ok(err.message.startsWith(`data file ${path} does not read as Parquet`), `${what}: ${err.message}`)
}

/** Damage the decoder reads as a value kfs refuses (a long beyond 2^53) keeps that refusal's code, the file named. */
function assertNamedFailure(err: unknown, path: string, what: string): void {
  assert.ok(err instanceof FeatureStoreError, `${what}: not a FeatureStoreError: ${String(err)}`)
  if (err.code === 'DATA_CORRUPT') return assertNamedCorrupt(err, path, what)
  assert.ok(err.message.startsWith(`data file ${path}: `), `${what}: ${err.message}`)
  assert.equal(err.context?.file, path, what)
}

void describe('offline tables > damaged data files', () => {
  void test('a file cut short, emptied or overwritten is DATA_CORRUPT naming it', async () => {
    const { store, table, key, path, bytes, rows } = await oneFileTable()
    assert.equal(await readAll(table), rows)
    const damaged: [string, Uint8Array][] = [
      ['cut to half', bytes.subarray(0, bytes.length >> 1)],
      ['cut by its last byte', bytes.subarray(0, bytes.length - 1)],
      ['its footer length zeroed', Uint8Array.from(bytes).fill(0, bytes.length - 8, bytes.length - 4)],
      ['empty', new Uint8Array(0)],
      ['text', new TextEncoder().encode('<Error><Code>AccessDenied</Code></Error>')],
    ]
    for (const [what, body] of damaged) {
      await store.put(key, body)
      assertNamedCorrupt(await readAll(table), path, what)
    }
    await store.delete(key)
    const missing = await readAll(table)
    assert.ok(missing instanceof FeatureStoreError && missing.code === 'OBJECT_NOT_FOUND' && missing.message === `data file ${path} is missing`, String(missing))
  })

  void test('bytes flipped anywhere: the read gives the rows or fails as the file’s, never an unexpected error', async () => {
    const { store, table, key, path, bytes, rows } = await oneFileTable()
    let failed = 0
    const step = Math.max(1, Math.floor(bytes.length / 60))
    for (let at = 4; at < bytes.length - 8; at += step) {
      const body = Uint8Array.from(bytes)
      for (let i = at; i < Math.min(at + 16, bytes.length - 8); i++) body[i]! ^= 0x5a
      await store.put(key, body)
      const result = await readAll(table)
      if (typeof result === 'number') assert.ok(result <= rows, `flip at ${at}: ${result} rows`)
      else {
        assertNamedFailure(result, path, `flip at ${at}`)
        failed++
      }
    }
    // The page data and the footer are most of the file: most flips must be caught as damage.
    assert.ok(failed > 10, `only ${failed} flips failed the read`)
  })

  void test('damaged table metadata, manifest list or manifest: DATA_CORRUPT naming the file', async () => {
    const { store } = await oneFileTable()
    const keys = await store.list('wh/damaged/metadata/')
    const newestMetadata = keys.filter((k) => k.endsWith('.metadata.json')).sort((a, b) => Number(/v(\d+)\./.exec(a)![1]) - Number(/v(\d+)\./.exec(b)![1])).at(-1)!
    const kinds: [string, string, () => Promise<unknown>][] = [
      ['the newest metadata file', newestMetadata, () => loadTable(store, 'wh/damaged')],
      ['the manifest list', keys.find((k) => /\/snap-[^/]+\.avro$/.test(k))!, async () => dataFilesOf(await loadTable(store, 'wh/damaged'))],
      ['a manifest', keys.find((k) => k.endsWith('-m0.avro'))!, async () => dataFilesOf(await loadTable(store, 'wh/damaged'))],
    ]
    for (const [what, key, read] of kinds) {
      assert.ok(key !== undefined, what)
      const bytes = (await store.get(key))!
      for (const [how, body] of [
        ['cut to half', bytes.subarray(0, bytes.length >> 1)],
        ['empty', new Uint8Array(0)],
      ] as const) {
        await store.put(key, body)
        const err = await read().then(
          () => undefined,
          (e: unknown) => e,
        )
        assert.ok(err instanceof FeatureStoreError, `${what}, ${how}: ${String(err)}`)
        assert.equal(err.code, 'DATA_CORRUPT', `${what}, ${how}: ${err.message}`)
        assert.ok(err.message.includes(store.uriOf(key)) || err.message.includes(key), `${what}, ${how}: ${err.message}`)
      }
      await store.put(key, bytes)
    }
  })
})
