/**
 * Foreign Iceberg tables the audit corpus sends, read by the table-source reader (docs/design.md
 * §11): a column renamed or dropped and added again since older files were written (matched by
 * field id, as Iceberg readers do — by name, a renamed column read as null from every older file,
 * silently, and a re-added one read the dropped column's values), a long beyond 2^53 (an Avro
 * long holds it; the reader failed the file with an internal hint), and data files that are
 * corrupt or missing (one error naming the file).
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { MemoryObjectStore } from '../../../adapters/object-store/index.ts'
import {
  appendFiles,
  createTable,
  dayPartitionSpec,
  metadataKey,
  writeDataFiles,
  type IcebergSchema,
} from '../../../adapters/offline/iceberg/index.ts'
import { parseJson, stringifyJson } from '../../../adapters/offline/iceberg/lossless-json.ts'
import { createIcebergTableSnapshotReader } from '../../../adapters/offline/iceberg/table-snapshot-reader.ts'
import { createParquetCodec } from '../../../adapters/offline/parquet/parquet-codec.ts'
import { FeatureStoreError } from '../../../core/errors.ts'
import type { TableRow, TableSnapshot } from '../../../ports/table-snapshots.ts'

const ROOT = 's3://lake/prefix'
const PATH = 'warehouse/db/accounts'
const T0 = Date.UTC(2024, 0, 15)
const schema: IcebergSchema = {
  type: 'struct',
  'schema-id': 0,
  fields: [
    { id: 1, name: 'account_id', required: true, type: 'string' },
    { id: 2, name: 'updated_at', required: true, type: 'timestamptz' },
    { id: 3, name: 'tier', required: false, type: 'string' },
    { id: 4, name: 'visits', required: false, type: 'long' },
  ],
}
const parquet = createParquetCodec({ worker: false })
type Json = Record<string, unknown>

/** A table of two rows in one data file (schema 0); its metadata file's key. */
async function accountsTable(
  rows: readonly TableRow[] = [row('a', 'gold', 1), row('b', null, 2)],
): Promise<{ store: MemoryObjectStore; key: string }> {
  const store = new MemoryObjectStore(ROOT)
  const table = await createTable(store, PATH, { schema, partitionSpec: dayPartitionSpec(schema, 'updated_at') })
  await appendFiles(table, await writeDataFiles(table, rows, { parquetWorker: false }))
  return { store, key: metadataKey(PATH, 2) }
}
function row(id: string, tier: string | null, visits: number | bigint): TableRow {
  return { account_id: id, updated_at: T0, tier, visits }
}

/** The table's current snapshot read with `fields` as its schema (schema 1, as an ALTER TABLE leaves it). */
async function evolve(store: MemoryObjectStore, key: string, fields: readonly Json[]): Promise<void> {
  const meta = parseJson(new TextDecoder().decode((await store.get(key))!)) as Json
  const evolved = { type: 'struct', 'schema-id': 1, fields }
  const snapshots = (meta.snapshots as Json[]).map((s) => ({ ...s, 'schema-id': 1 }))
  await store.put(
    key,
    new TextEncoder().encode(
      stringifyJson({ ...meta, schemas: [...(meta.schemas as Json[]), evolved], 'current-schema-id': 1, snapshots }),
    ),
  )
}

async function allRows(snapshot: TableSnapshot): Promise<TableRow[]> {
  const out: TableRow[] = []
  for await (const batch of snapshot.rows()) out.push(...batch)
  return out.sort((a, b) => String(a.account_id).localeCompare(String(b.account_id)))
}

const open = (store: MemoryObjectStore) =>
  createIcebergTableSnapshotReader({ store, parquet }).open({ format: 'iceberg', table: PATH })
const fields = schema.fields as unknown as readonly Json[]

void describe('iceberg > foreign tables: evolved schemas and bad data files', () => {
  const evolutions: readonly (readonly [string, readonly Json[], readonly TableRow[]])[] = [
    [
      'a column renamed reads its values from older files (same field id)',
      fields.map((f) => (f.id === 3 ? { ...f, name: 'level' } : f)),
      [
        { account_id: 'a', updated_at: T0, level: 'gold', visits: 1 },
        { account_id: 'b', updated_at: T0, level: null, visits: 2 },
      ],
    ],
    [
      'two columns swapping names read each from its own field',
      fields.map((f) => (f.id === 1 ? { ...f, name: 'tier' } : f.id === 3 ? { ...f, name: 'account_id' } : f)),
      [
        { tier: 'a', updated_at: T0, account_id: 'gold', visits: 1 },
        { tier: 'b', updated_at: T0, account_id: null, visits: 2 },
      ],
    ],
    [
      'a column dropped and added again under its name (a new field id) is null in older files',
      [...fields.filter((f) => f.id !== 3), { id: 5, name: 'tier', required: false, type: 'string' }],
      [
        { account_id: 'a', updated_at: T0, visits: 1, tier: null },
        { account_id: 'b', updated_at: T0, visits: 2, tier: null },
      ],
    ],
    [
      'a column dropped is not read',
      fields.filter((f) => f.id !== 4),
      [
        { account_id: 'a', updated_at: T0, tier: 'gold' },
        { account_id: 'b', updated_at: T0, tier: null },
      ],
    ],
  ]
  for (const [what, evolved, want] of evolutions) {
    void test(what, async () => {
      const { store, key } = await accountsTable()
      await evolve(store, key, evolved)
      const rows = await allRows(await open(store))
      assert.deepEqual(
        rows.sort(
          (a, b) => Number(a.visits ?? 0) - Number(b.visits ?? 0) || String(a.updated_at).localeCompare(String(b.updated_at)),
        ),
        want,
      )
    })
  }

  void test('a long beyond 2^53 reads exactly (a bigint), not as a failure of the file', async () => {
    const { store } = await accountsTable([row('a', null, 2n ** 62n + 1n), row('b', null, 5)])
    assert.deepEqual(
      (await allRows(await open(store))).map((r) => r.visits),
      [2n ** 62n + 1n, 5],
    )
  })

  void test('a data file that is not Parquet, or is missing: one error naming the table and the file', async () => {
    const { store } = await accountsTable()
    const [dataKey] = (await store.list(`${PATH}/data/`)).filter((k) => k.endsWith('.parquet'))
    assert.ok(dataKey)
    const bytes = (await store.get(dataKey))!
    for (const [what, damage, message] of [
      [
        'cut short',
        () => store.put(dataKey, bytes.subarray(0, bytes.length - 20)),
        /: data file s3:\/\/lake\/prefix\/warehouse\/db\/accounts\/data\/.*\.parquet is not a Parquet file kfs can read \(/,
      ],
      ['text', () => store.put(dataKey, new TextEncoder().encode('not parquet')), /is not a Parquet file kfs can read/],
      ['missing', () => store.delete(dataKey), /: data file s3:\/\/lake\/prefix\/.*\.parquet is missing/],
    ] as const) {
      await damage()
      await assert.rejects(
        async () => allRows(await open(store)),
        (err: unknown) =>
          err instanceof FeatureStoreError &&
          message.test(err.message) &&
          err.message.startsWith(`Iceberg table ${ROOT}/${PATH}/metadata/`) &&
          !err.message.includes('\n'),
        what,
      )
    }
  })
})
