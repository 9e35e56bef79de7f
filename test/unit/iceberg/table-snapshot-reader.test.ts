/**
 * The Iceberg TableSnapshotReader (docs/design.md §11) over tables written by kfs's own Iceberg
 * writer into a memory store, then edited the way foreign writers differ: catalog-style metadata
 * names, a snapshot on an evolved schema, a merge-on-read delete manifest.
 */
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { MemoryObjectStore } from '../../../adapters/object-store/index.ts'
import { appendFiles, createTable, dayPartitionSpec, metadataKey, writeDataFiles, type IcebergSchema, type IcebergTable } from '../../../adapters/offline/iceberg/index.ts'
import { createIcebergTableSnapshotReader } from '../../../adapters/offline/iceberg/table-snapshot-reader.ts'
import { parseJson, stringifyJson } from '../../../adapters/offline/iceberg/lossless-json.ts'
import { decodeManifestList, encodeManifestList } from '../../../adapters/offline/iceberg/manifests.ts'
import { createParquetCodec } from '../../../adapters/offline/parquet/parquet-codec.ts'
import type { TableRow, TableSnapshot } from '../../../ports/table-snapshots.ts'

const T0 = Date.UTC(2024, 0, 15, 10, 30)
const ROOT = 's3://lake/prefix'
const PATH = 'warehouse/db/users'

const schema: IcebergSchema = {
  type: 'struct',
  'schema-id': 0,
  fields: [
    { id: 1, name: 'user_id', required: true, type: 'long' },
    { id: 2, name: 'name', required: false, type: 'string' },
    { id: 3, name: 'updated_at', required: true, type: 'timestamptz' },
    { id: 4, name: 'score', required: false, type: 'double' },
    { id: 5, name: 'age', required: false, type: 'int' },
    { id: 6, name: 'avatar', required: false, type: 'binary' },
  ],
}

const usersBatch = (from: number, count: number): Record<string, unknown>[] =>
  Array.from({ length: count }, (_, i) => {
    const n = from + i
    return { user_id: n, name: n % 3 === 0 ? null : `u${n}`, updated_at: T0 + n * 3_600_000 - 1, score: n / 4, age: 20 + n, avatar: new Uint8Array([n]) }
  })

/** What the reader yields for a written row: binary (`other`) columns are not read. */
const expected = (rows: readonly Record<string, unknown>[]): Record<string, unknown>[] => rows.map(({ avatar: _avatar, ...rest }) => rest)

const parquet = createParquetCodec({ worker: false })
const enc = new TextEncoder()

async function usersTable(): Promise<{ store: MemoryObjectStore; table: IcebergTable; ids: string[] }> {
  const store = new MemoryObjectStore(ROOT)
  let table = await createTable(store, PATH, { schema, partitionSpec: dayPartitionSpec(schema, 'updated_at') })
  const ids: string[] = []
  for (const rows of [usersBatch(0, 5), usersBatch(5, 40)]) {
    const res = await appendFiles(table, await writeDataFiles(table, rows, { parquetWorker: false }))
    table = res.table
    ids.push(String(res.snapshotId))
  }
  return { store, table, ids }
}

async function allRows(snapshot: TableSnapshot): Promise<TableRow[]> {
  const out: TableRow[] = []
  for await (const batch of snapshot.rows()) out.push(...batch)
  return out
}

const byId = (rows: readonly TableRow[]): TableRow[] => [...rows].sort((a, b) => Number(a.user_id) - Number(b.user_id))

type Json = Record<string, unknown>
const readJson = async (store: MemoryObjectStore, key: string): Promise<Json> => parseJson(new TextDecoder().decode((await store.get(key))!)) as Json
const writeJson = (store: MemoryObjectStore, key: string, value: unknown): Promise<void> => store.put(key, enc.encode(stringifyJson(value)))

void describe('iceberg > table snapshot reader', () => {
  void test('reads the current snapshot and an older one by id, from the table root or its metadata file', async () => {
    const { store, table, ids } = await usersTable()
    const reader = createIcebergTableSnapshotReader({ store, parquet })

    const current = await reader.open({ format: 'iceberg', table: PATH })
    assert.equal(current.id, ids[1])
    assert.equal(current.where, `${ROOT}/${metadataKey(PATH, 3)}`)
    assert.equal(current.rowCount, 45)
    assert.deepEqual(current.columns, [
      { name: 'user_id', kind: 'long' },
      { name: 'name', kind: 'string' },
      { name: 'updated_at', kind: 'timestamp' },
      { name: 'score', kind: 'double' },
      { name: 'age', kind: 'long' },
      { name: 'avatar', kind: 'other' },
    ])
    const rows = await allRows(current)
    assert.deepEqual(byId(rows), expected([...usersBatch(0, 5), ...usersBatch(5, 40)]))
    // Each call reads anew, in the same order.
    assert.deepEqual(await allRows(current), rows)

    const first = await reader.open({ format: 'iceberg', table: `${ROOT}/${PATH}/` }, ids[0])
    assert.equal(first.id, ids[0])
    assert.equal(first.rowCount, 5)
    assert.deepEqual(byId(await allRows(first)), expected(usersBatch(0, 5)))

    // A metadata location pins that version even when newer ones exist.
    const v2 = await reader.open({ format: 'iceberg', table: `${ROOT}/${metadataKey(PATH, 2)}` })
    assert.equal(v2.id, ids[0])
    assert.equal(table.version, 3)
  })

  void test('catalog-style metadata names: the highest version wins; two files of one version are refused', async () => {
    const { store, ids } = await usersTable()
    for (const v of [1, 2, 3]) {
      const key = metadataKey(PATH, v)
      await store.put(`${PATH}/metadata/${String(v - 1).padStart(5, '0')}-1b4e28ba-2fa1-11d2-883f-0016d3cca42${v}.metadata.json`, (await store.get(key))!)
      await store.delete(key)
    }
    await store.delete(`${PATH}/metadata/version-hint.text`)
    const reader = createIcebergTableSnapshotReader({ store, parquet })
    const snapshot = await reader.open({ format: 'iceberg', table: PATH })
    assert.equal(snapshot.id, ids[1])
    assert.match(snapshot.where, /00002-1b4e28ba-.*\.metadata\.json$/)

    await store.put(`${PATH}/metadata/00002-9f0e28ba-2fa1-11d2-883f-0016d3cca420.metadata.json`, enc.encode('{}'))
    await assert.rejects(reader.open({ format: 'iceberg', table: PATH }), /2 metadata files claim version 2; name the current one/)
  })

  void test("a snapshot's own schema gives the columns: a column the files lack reads null, an unreadable type is left out", async () => {
    const { store, ids } = await usersTable()
    const key = metadataKey(PATH, 3)
    const meta = await readJson(store, key)
    const evolved = {
      type: 'struct',
      'schema-id': 1,
      fields: [...schema.fields, { id: 7, name: 'tier', required: false, type: 'string' }, { id: 8, name: 'balance', required: false, type: 'decimal(10, 2)' }],
    }
    const snapshots = (meta.snapshots as Json[]).map((s) => (String(s['snapshot-id']) === ids[1] ? { ...s, 'schema-id': 1 } : s))
    await writeJson(store, key, { ...meta, schemas: [...(meta.schemas as Json[]), evolved], snapshots })
    const reader = createIcebergTableSnapshotReader({ store, parquet })

    const current = await reader.open({ format: 'iceberg', table: PATH })
    assert.deepEqual(current.columns.slice(6), [
      { name: 'tier', kind: 'string' },
      { name: 'balance', kind: 'other' },
    ])
    const rows = byId(await allRows(current))
    assert.deepEqual(rows[7], { ...expected(usersBatch(7, 1))[0], tier: null })
    // The older snapshot keeps schema 0: no `tier` column.
    const first = await reader.open({ format: 'iceberg', table: PATH }, ids[0])
    assert.deepEqual(first.columns.map((c) => c.name), schema.fields.map((f) => f.name))
    assert.deepEqual(Object.keys((await allRows(first))[0]!), ['user_id', 'name', 'updated_at', 'score', 'age'])
  })

  void test('a snapshot with live delete files (merge-on-read) is refused at open; a delete manifest with none is not', async () => {
    const { store, table, ids } = await usersTable()
    const meta = await readJson(store, metadataKey(PATH, 3))
    const current = (meta.snapshots as Json[]).find((s) => String(s['snapshot-id']) === ids[1])!
    const listKey = (current['manifest-list'] as string).slice(ROOT.length + 1)
    const manifests = decodeManifestList((await store.get(listKey))!)
    const deletes = { ...manifests[0]!, manifestPath: `${ROOT}/${PATH}/metadata/deletes-m0.avro`, content: 1 }
    const withDeletes = async (live: number, snapshotId: bigint): Promise<Json> => {
      const key = `${PATH}/metadata/snap-${snapshotId}.avro`
      await store.put(key, encodeManifestList([...manifests, { ...deletes, addedFilesCount: live, existingFilesCount: 0 }], { snapshotId, parentSnapshotId: undefined, sequenceNumber: 3 }))
      return { ...current, 'snapshot-id': snapshotId, 'manifest-list': `${ROOT}/${key}` }
    }
    const snapshots = [...(meta.snapshots as Json[]), await withDeletes(1, 101n), await withDeletes(0, 102n)]
    await writeJson(store, metadataKey(PATH, 4), { ...meta, snapshots, 'current-snapshot-id': 101n })
    const reader = createIcebergTableSnapshotReader({ store, parquet })

    await assert.rejects(reader.open({ format: 'iceberg', table: PATH }), /snapshot 101: merge-on-read deletes are not supported: compact the table first/)
    const cleaned = await reader.open({ format: 'iceberg', table: PATH }, '102')
    assert.equal(cleaned.id, '102')
    assert.equal((await allRows(cleaned)).length, 45)
    assert.equal(table.version, 3)
  })

  void test('clear errors: no table, no snapshot, unknown or malformed snapshot id, outside the store, not format v2', async () => {
    const { store, ids } = await usersTable()
    const reader = createIcebergTableSnapshotReader({ store, parquet })
    await assert.rejects(reader.open({ format: 'iceberg', table: 'warehouse/db/nope' }), /no Iceberg table at warehouse\/db\/nope/)
    await assert.rejects(reader.open({ format: 'iceberg', table: PATH }, '42'), new RegExp(`has no snapshot 42 \\(latest: ${ids.join(', ')}\\)`))
    await assert.rejects(reader.open({ format: 'iceberg', table: PATH }, 'latest'), /snapshot id must be an integer, got "latest"/)
    await assert.rejects(reader.open({ format: 'iceberg', table: 's3://elsewhere/db/users' }), /lies outside the configured object store \(s3:\/\/lake\/prefix\)/)
    await assert.rejects(reader.open({ format: 'parquet', path: 'x.parquet' }), /cannot read a parquet location/)

    await createTable(store, 'warehouse/db/empty', { schema, partitionSpec: dayPartitionSpec(schema, 'updated_at') })
    await assert.rejects(reader.open({ format: 'iceberg', table: 'warehouse/db/empty' }), /has no snapshot yet/)

    await writeJson(store, 'warehouse/db/old/metadata/v1.metadata.json', { 'format-version': 1, location: `${ROOT}/warehouse/db/old` })
    await assert.rejects(reader.open({ format: 'iceberg', table: 'warehouse/db/old' }), /is not Iceberg format-v2 table metadata: .*\(format-version 1\)/)
  })

  void test("Hadoop's s3a:// spelling of the store's locations resolves", async () => {
    const { store, ids } = await usersTable()
    const reader = createIcebergTableSnapshotReader({ store, parquet })
    const snapshot = await reader.open({ format: 'iceberg', table: `s3a://lake/prefix/${PATH}` })
    assert.equal(snapshot.id, ids[1])
  })
})
