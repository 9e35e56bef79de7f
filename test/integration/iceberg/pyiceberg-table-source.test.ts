/**
 * Interop: a foreign Iceberg table written by PyIceberg (SQL catalog over a sqlite file) reads back
 * through kfs's TableSnapshotReader at each snapshot (docs/design.md §11). Runs on a local
 * directory and, when the stack's KFS_S3_* env is present, on MinIO.
 */
import { describe, test, before } from 'node:test'
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import type { ObjectStore } from '../../../ports/object-store.ts'
import type { TableRow, TableSnapshot } from '../../../ports/table-snapshots.ts'
import { LocalObjectStore } from '../../../adapters/object-store/index.ts'
import { createIcebergTableSnapshotReader } from '../../../adapters/offline/iceberg/table-snapshot-reader.ts'
import { createParquetCodec } from '../../../adapters/offline/parquet/parquet-codec.ts'
import { makeS3Store, s3EnvOrUndefined } from '../object-store/s3-env.ts'

const run = promisify(execFile)
const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..')

/**
 * Writes `db.users`: an append of users 0–4, then an overwrite with users 10–12 (PyIceberg commits
 * an overwrite as a delete snapshot and an append snapshot). Prints the snapshot ids and the
 * catalog's metadata location. Rows follow `userRow` below, value for value.
 */
const WRITER = `
import json, os, sys
from datetime import datetime, date, timezone
from decimal import Decimal
import pyarrow as pa
from pyiceberg.catalog.sql import SqlCatalog
from pyiceberg.schema import Schema
from pyiceberg.types import NestedField, LongType, IntegerType, StringType, BooleanType, DoubleType, FloatType, TimestamptzType, TimestampType, DateType, DecimalType

warehouse, sqlite = sys.argv[1], sys.argv[2]
props = {}
if warehouse.startswith("s3://"):
    props = {
        "s3.endpoint": os.environ["KFS_S3_ENDPOINT"],
        "s3.access-key-id": os.environ["KFS_S3_ACCESS_KEY_ID"],
        "s3.secret-access-key": os.environ["KFS_S3_SECRET_ACCESS_KEY"],
        "s3.region": os.environ.get("KFS_S3_REGION", "us-east-1"),
    }
catalog = SqlCatalog("kfs", uri=f"sqlite:///{sqlite}", warehouse=warehouse, **props)
catalog.create_namespace("db")
schema = Schema(
    NestedField(1, "user_id", LongType(), required=True),
    NestedField(2, "name", StringType(), required=False),
    NestedField(3, "age", IntegerType(), required=False),
    NestedField(4, "score", DoubleType(), required=False),
    NestedField(5, "ratio", FloatType(), required=False),
    NestedField(6, "active", BooleanType(), required=False),
    NestedField(7, "updated_at", TimestamptzType(), required=True),
    NestedField(8, "seen_at", TimestampType(), required=False),
    NestedField(9, "birthday", DateType(), required=False),
    NestedField(10, "balance", DecimalType(10, 2), required=False),
)
table = catalog.create_table("db.users", schema=schema)

def users(first, count):
    return pa.Table.from_pylist([{
        "user_id": i,
        "name": None if i % 3 == 0 else f"ü{i}",
        "age": 20 + i,
        "score": i / 4,
        "ratio": 0.5,
        "active": i % 2 == 0,
        "updated_at": datetime(2024, 1, 15, 10, i, 0, 123456, tzinfo=timezone.utc),
        "seen_at": datetime(1969, 12, 31, 23, 59, 59, 999999) if i % 2 else None,
        "birthday": date(1990, 1, i + 1),
        "balance": Decimal("12.34"),
    } for i in range(first, first + count)], schema=schema.as_arrow())

table.append(users(0, 5))
appended = table.current_snapshot().snapshot_id
table.overwrite(users(10, 3))
table = catalog.load_table("db.users")
print(json.dumps({
    "appended": str(appended),
    "snapshots": [str(s.snapshot_id) for s in table.metadata.snapshots],
    "current": str(table.current_snapshot().snapshot_id),
    "metadata": table.metadata_location,
}))
`

interface Written {
  appended: string
  snapshots: string[]
  current: string
  metadata: string
}

const UTC_DAY = 86_400_000

/** A row as the reader must yield it (`balance`, a decimal, is an `other` column: not read). */
function userRow(i: number): Record<string, unknown> {
  return {
    user_id: i,
    name: i % 3 === 0 ? null : `ü${i}`,
    age: 20 + i,
    score: i / 4,
    ratio: 0.5,
    active: i % 2 === 0,
    updated_at: Date.UTC(2024, 0, 15, 10, i, 0, 123), // 123456 µs floored to ms
    seen_at: i % 2 ? -1 : null, // 1969-12-31T23:59:59.999999, floored: −1 ms
    birthday: Date.UTC(1990, 0, i + 1),
  }
}

const users = (first: number, count: number): Record<string, unknown>[] => Array.from({ length: count }, (_, k) => userRow(first + k))

let python = ''

async function allRows(snapshot: TableSnapshot): Promise<TableRow[]> {
  const out: TableRow[] = []
  for await (const batch of snapshot.rows()) out.push(...batch)
  return [...out].sort((a, b) => Number(a.user_id) - Number(b.user_id))
}

function suite(name: string, makeStore: () => Promise<{ store: ObjectStore; scratch: string; done: () => Promise<void> }>): void {
  void describe(`iceberg interop > pyiceberg table source > ${name}`, () => {
    void test('append then overwrite: each snapshot by id, the current one by table root and by metadata location', async () => {
      const { store, scratch, done } = await makeStore()
      try {
        const warehouse = `${store.rootUri}/wh`
        const { stdout } = await run(python, ['-c', WRITER, warehouse, path.join(scratch, 'catalog.db')], { env: process.env, maxBuffer: 16 * 1024 * 1024 })
        const written = JSON.parse(stdout) as Written
        assert.equal(written.snapshots.length, 3) // append, overwrite's delete, overwrite's append
        assert.equal(written.snapshots[0], written.appended)
        assert.equal(written.snapshots[2], written.current)

        const reader = createIcebergTableSnapshotReader({ store, parquet: createParquetCodec({ worker: false }) })
        const current = await reader.open({ format: 'iceberg', table: 'wh/db/users' })
        assert.equal(current.id, written.current)
        assert.equal(current.where, written.metadata)
        assert.equal(current.rowCount, 3)
        assert.deepEqual(current.columns, [
          { name: 'user_id', kind: 'long' },
          { name: 'name', kind: 'string' },
          { name: 'age', kind: 'long' },
          { name: 'score', kind: 'double' },
          { name: 'ratio', kind: 'double' },
          { name: 'active', kind: 'boolean' },
          { name: 'updated_at', kind: 'timestamp' },
          { name: 'seen_at', kind: 'timestamp' },
          { name: 'birthday', kind: 'timestamp' },
          { name: 'balance', kind: 'other' },
        ])
        assert.deepEqual(await allRows(current), users(10, 3))
        assert.ok((await allRows(current)).every((r) => (r.birthday as number) % UTC_DAY === 0))

        const byMetadata = await reader.open({ format: 'iceberg', table: written.metadata })
        assert.equal(byMetadata.id, written.current)
        assert.deepEqual(await allRows(byMetadata), users(10, 3))

        const appended = await reader.open({ format: 'iceberg', table: 'wh/db/users' }, written.appended)
        assert.equal(appended.id, written.appended)
        assert.equal(appended.rowCount, 5)
        assert.deepEqual(await allRows(appended), users(0, 5))

        const deleted = await reader.open({ format: 'iceberg', table: `${warehouse}/db/users` }, written.snapshots[1])
        assert.equal(deleted.rowCount, 0)
        assert.deepEqual(await allRows(deleted), [])

        const overwritten = await reader.open({ format: 'iceberg', table: 'wh/db/users' }, written.current)
        assert.deepEqual(await allRows(overwritten), users(10, 3))
      } finally {
        await done()
      }
    })
  })
}

before(async () => {
  const { stdout } = await run('bash', [path.join(repo, 'scripts/pyiceberg/ensure-venv.sh')], { maxBuffer: 16 * 1024 * 1024 })
  // The venv carries PyIceberg's `sql-sqlite` extra: the SQL catalog below needs SQLAlchemy.
  python = stdout.trim()
})

suite('local', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'kfs-pyice-src-'))
  return { store: new LocalObjectStore(path.join(dir, 'store')), scratch: dir, done: () => rm(dir, { recursive: true, force: true }) }
})

const s3 = s3EnvOrUndefined()
if (s3 !== undefined) {
  suite('s3 (MinIO)', async () => {
    const store = makeS3Store(s3, 'pyiceberg-table-source')
    const scratch = await mkdtemp(path.join(tmpdir(), 'kfs-pyice-src-'))
    return {
      store,
      scratch,
      done: async () => {
        for (const key of await store.list('')) await store.delete(key)
        store.close()
        await rm(scratch, { recursive: true, force: true })
      },
    }
  })
}
