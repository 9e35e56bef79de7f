/**
 * Interop: tables written by kfs must read back exactly through PyIceberg (the strictest common
 * reader: field ids on every Parquet column, ids on every Avro field), the join keys as typed
 * columns included (issue #17 item 5). Runs on a local directory and, when the stack's KFS_S3_*
 * env is present, on MinIO.
 */
import { describe, test, before } from 'node:test'
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { encodeEntityKey } from '../../../core/entity-key.ts'
import type { ObjectStore } from '../../../ports/object-store.ts'
import { LocalObjectStore } from '../../../adapters/object-store/index.ts'
import {
  appendFiles,
  createTable,
  featureRowToTableRow,
  featureTablePartitionSpec,
  featureTableSchema,
  metadataKey,
  writeDataFiles,
  RAW_ARCHIVE_PARTITION_SPEC,
  RAW_ARCHIVE_SCHEMA,
  compactPartitions,
  expireSnapshots,
  type IcebergTable,
} from '../../../adapters/offline/iceberg/index.ts'
import { parseJson } from '../../../adapters/offline/iceberg/lossless-json.ts'
import { removeOrphanFiles } from '../../../adapters/offline/iceberg/orphan-files.ts'
import { compactArchiveTable } from '../../../adapters/offline/iceberg/archive-compaction.ts'
import { makeS3Store, s3EnvOrUndefined } from '../object-store/s3-env.ts'

const run = promisify(execFile)
const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..')
const DAY = 86_400_000
const T0 = Date.UTC(2024, 0, 15, 10, 30)

interface PyResult {
  format_version: number
  schema: { fields: { id: number; name: string; type: unknown; required: boolean; doc?: string | null }[] }
  spec: { 'spec-id'?: number; fields: { name: string; transform: string; 'source-id': number; 'field-id': number }[] }
  snapshots: { id: string; parent: string | null; sequence_number: number; summary: Record<string, string> }[]
  current_snapshot_id: string | null
  rows: Record<string, unknown>[]
  time_travel: Record<string, number>
  files: { path: string; record_count: number; partition: unknown[]; field_ids?: Record<string, { id: number | null; element_id?: number | null }> }[]
}

let python = ''

async function scan(table: IcebergTable, snapshotIds: readonly bigint[] = []): Promise<PyResult> {
  const uri = table.store.uriOf(metadataKey(table.path, table.version))
  const { stdout } = await run(python, [path.join(repo, 'scripts/pyiceberg/scan.py'), uri, ...snapshotIds.map(String)], { maxBuffer: 256 * 1024 * 1024 })
  // Lossless: a long past 2^53 (a join key) parses as a bigint, not a rounded number.
  return parseJson(stdout) as PyResult
}

const hex = (b: Uint8Array | null): string | null => (b === null ? null : Buffer.from(b).toString('hex'))
const canon = (rows: readonly Record<string, unknown>[]): string[] => rows.map((r) => JSON.stringify(Object.keys(r).sort().map((k) => [k, r[k]]))).sort()

const view = {
  entity: { kind: 'entity', name: 'user', joinKeys: ['user_id'], keyType: 'string', description: '' },
  features: [
    { name: 'clicks_1h', type: 'long' },
    { name: 'spend_sum', type: 'double' },
    { name: 'last_page', type: 'string' },
    { name: 'recent_prices', type: 'double[]' },
    { name: 'recent_pages', type: 'string[]' },
    { name: 'recent_ids', type: 'long[]' },
  ],
} as never

function featureRows(batch: number): Record<string, unknown>[] {
  return Array.from({ length: 40 }, (_, i) => {
    const n = batch * 100 + i
    return featureRowToTableRow(
      view,
      {
        entityKey: i % 5 === 0 ? `ü-${n}` : `user-${n}`,
        asOfMs: T0 + (i % 3) * DAY + n,
        createdAtMs: T0 + 4 * DAY + n,
        values: [n % 4 === 0 ? null : n, n / 8, i % 6 === 0 ? null : `/p/${n}`, [n + 0.25, -1.5], i % 7 === 0 ? null : ['a', `b${n}`], [n, 2 ** 40 + n]],
      },
      n,
    )
  })
}

function archiveRows(batch: number): Record<string, unknown>[] {
  return Array.from({ length: 30 }, (_, i) => {
    const partition = i % 3
    const offset = batch * 10 + Math.floor(i / 3)
    const marker = offset % 4 === 3
    return {
      partition,
      offset: String(offset),
      event_time: marker ? null : T0 + offset * 1000,
      key: marker ? null : new TextEncoder().encode(`k${offset}`),
      // The Confluent wire format's id is unsigned: ids ≥ 2^31 must survive as longs.
      schema_id: marker ? null : offset % 2 === 0 ? 1 : 0x80000000 + offset,
      payload: marker ? null : new Uint8Array([0, 1, 2, offset]),
      marker_watermark: marker ? T0 + offset : null,
      ingestion_time: T0 + 5_000 + offset,
    }
  })
}

function checkSummaries(py: PyResult, offsets: string[]): void {
  assert.deepEqual(py.snapshots.map((s) => s.summary['kfs.offsets']), offsets)
  for (const s of py.snapshots) {
    assert.ok(['append', 'replace'].includes(s.summary.operation!))
    assert.match(s.summary['total-records']!, /^\d+$/)
  }
  assert.equal(py.current_snapshot_id, py.snapshots.at(-1)!.id)
  assert.deepEqual(py.snapshots.map((s) => s.sequence_number), py.snapshots.map((_, i) => i + 1))
}

function interopSuite(name: string, makeStore: () => Promise<{ store: ObjectStore; done: () => Promise<void> }>): void {
  void describe(`iceberg interop > pyiceberg > ${name}`, () => {
    void test('feature table: rows, schema, day partition spec, summaries, time travel, footer field ids', async () => {
      const { store, done } = await makeStore()
      try {
        const schema = featureTableSchema(view)
        let table = await createTable(store, 'wh/features/clicks_v1', { schema, partitionSpec: featureTablePartitionSpec(schema) })
        const written: Record<string, unknown>[] = []
        const ids: bigint[] = []
        for (let b = 0; b < 3; b++) {
          const rows = featureRows(b)
          written.push(...rows)
          const res = await appendFiles(table, await writeDataFiles(table, rows), { 'kfs.offsets': JSON.stringify({ clicks: { 0: String(b * 40) } }) })
          table = res.table
          ids.push(res.snapshotId!)
        }
        const py = await scan(table, ids)
        assert.equal(py.format_version, 2)
        assert.deepEqual(canon(py.rows), canon(written))
        assert.deepEqual(py.schema.fields.map((f) => [f.id, f.name, f.required]), schema.fields.map((f) => [f.id, f.name, f.required]))
        assert.deepEqual(py.schema.fields.map((f) => f.type).slice(0, 5), ['string', 'string', 'timestamptz', 'timestamptz', 'long'])
        assert.equal(py.schema.fields[1]!.name, 'user_id')
        assert.deepEqual(py.spec.fields, [{ name: 'as_of_day', transform: 'day', 'source-id': 2, 'field-id': 1000 }])
        checkSummaries(py, [0, 40, 80].map((o) => JSON.stringify({ clicks: { 0: String(o) } })))
        assert.deepEqual(py.snapshots.map((s) => s.id), ids.map(String))
        assert.deepEqual(ids.map((id) => py.time_travel[String(id)]), [40, 80, 120])
        for (const f of py.files) {
          assert.equal(typeof f.partition[0], 'number')
          if (f.field_ids !== undefined) {
            for (const field of schema.fields) {
              assert.equal(f.field_ids[field.name]?.id, field.id, field.name)
              if (typeof field.type === 'object') assert.equal(f.field_ids[field.name]?.element_id, field.type['element-id'], field.name)
            }
          }
        }
        if (name === 'local') assert.ok(py.files.every((f) => f.field_ids !== undefined))

        // A replace snapshot from compaction must leave readers' view of the rows unchanged.
        const compacted = await compactPartitions(table, { olderThanDay: Math.floor(T0 / DAY) + 10 })
        assert.ok(compacted.removedFiles > compacted.addedFiles)
        const after = await scan(compacted.table!)
        assert.deepEqual(canon(after.rows), canon(written))
        assert.equal(after.snapshots.at(-1)!.summary.operation, 'replace')

        // Snapshot expiry down to the replace alone: the appends, their manifest lists and the
        // files compaction replaced are gone, and the metadata left is still what PyIceberg reads.
        const later = { nowMs: () => Date.now() + DAY, sleep: () => Promise.resolve() }
        const expired = await expireSnapshots(compacted.table!, { maxAgeMs: 1, minSnapshots: 1 }, { clock: later })
        assert.equal(expired.expiredSnapshots, 3)
        assert.ok(expired.deletedFiles > compacted.removedFiles, `${expired.deletedFiles} files deleted`)
        const kept = await scan(expired.table, [compacted.snapshotId!])
        assert.deepEqual(canon(kept.rows), canon(written))
        assert.deepEqual(kept.snapshots.map((s) => s.id), [String(compacted.snapshotId)])
        assert.equal(kept.current_snapshot_id, String(compacted.snapshotId))
        assert.equal(kept.time_travel[String(compacted.snapshotId)], 120)
      } finally {
        await done()
      }
    })

    void test('feature table whose appends merged manifests: rows, time travel to snapshots before and after each merge', async () => {
      const { store, done } = await makeStore()
      try {
        const schema = featureTableSchema(view)
        // Merging once a list would hold four manifests (100 by default): the 4th and 6th appends merge.
        const properties = { 'commit.manifest.min-count-to-merge': '4' }
        let table = await createTable(store, 'wh/features/merged_v1', { schema, partitionSpec: featureTablePartitionSpec(schema), properties })
        const written: Record<string, unknown>[] = []
        const ids: bigint[] = []
        for (let b = 0; b < 6; b++) {
          const rows = featureRows(b)
          written.push(...rows)
          const res = await appendFiles(table, await writeDataFiles(table, rows), { 'kfs.offsets': JSON.stringify({ clicks: { 0: String(b * 40) } }) })
          table = res.table
          ids.push(res.snapshotId!)
        }
        const merges = table.metadata.snapshots.filter((s) => s.summary['manifests-replaced'] !== undefined).length
        assert.equal(merges, 2)
        const py = await scan(table, ids)
        assert.deepEqual(canon(py.rows), canon(written))
        assert.equal(py.files.length, 18, 'every file of every append, once')
        assert.deepEqual(ids.map((id) => py.time_travel[String(id)]), [40, 80, 120, 160, 200, 240])
        checkSummaries(py, [0, 40, 80, 120, 160, 200].map((o) => JSON.stringify({ clicks: { 0: String(o) } })))
      } finally {
        await done()
      }
    })

    void test('after the orphan-file clean-up: every kept snapshot reads as before, the orphans are gone', async () => {
      const { store, done } = await makeStore()
      try {
        const schema = featureTableSchema(view)
        const at = 'wh/features/orphans_v1'
        // Expiry and the clean-up look four days ahead: every snapshot is superseded long ago, every object old.
        const later = { nowMs: () => Date.now() + 4 * DAY, sleep: () => Promise.resolve() }
        const properties = { 'commit.manifest.min-count-to-merge': '4' }
        let table = await createTable(store, at, { schema, partitionSpec: featureTablePartitionSpec(schema), properties })
        for (let b = 0; b < 6; b++) table = (await appendFiles(table, await writeDataFiles(table, featureRows(b)), {})).table
        const compacted = await compactPartitions(table, { partitionFilter: () => true })
        assert.ok(compacted.table !== undefined && compacted.removedFiles > 0)
        const expired = await expireSnapshots(compacted.table, { maxAgeMs: 1, minSnapshots: 3 }, { clock: later })
        assert.ok(expired.expiredSnapshots > 0)
        table = expired.table
        const uncommitted = await writeDataFiles(table, featureRows(9))
        const strays = [`${at}/data/stray.parquet`, `${at}/metadata/stray-m0.avro`]
        for (const key of strays) await store.put(key, new Uint8Array(8))
        const ids = table.metadata.snapshots.map((s) => s['snapshot-id'])
        const before = await scan(table, ids)
        const removed = await removeOrphanFiles(store, at, { clock: later })
        const gone = [...strays, ...uncommitted.map((f) => f.filePath.slice(store.rootUri.length + 1))]
        for (const key of gone) assert.ok(removed.orphans.some((o) => o.key === key), `${key} is an orphan`)
        assert.equal(removed.deletedFiles, removed.orphans.length)
        const left = new Set(await store.list(`${at}/`))
        for (const key of gone) assert.ok(!left.has(key), `${key} deleted`)
        const after = await scan(table, ids)
        assert.deepEqual(canon(after.rows), canon(before.rows))
        assert.deepEqual(after.time_travel, before.time_travel)
        assert.deepEqual(after.files, before.files)
      } finally {
        await done()
      }
    })

    void test('feature table of an int composite entity: join keys as long columns, exact past 2^53, decoded from entity_key', async () => {
      const { store, done } = await makeStore()
      try {
        const shopItem = { kind: 'entity', name: 'shop_item', joinKeys: ['shop_id', 'item_id'], keyType: 'int', description: '' }
        const intView = { entity: shopItem, features: [{ name: 'n', type: 'long' }] } as never
        const schema = featureTableSchema(intView)
        let table = await createTable(store, 'wh/features/shop_items_v1', { schema, partitionSpec: featureTablePartitionSpec(schema) })
        const keys = [
          ['9007199254740993', '-5'],
          ['9223372036854775807', '0'],
          // Digits no int64 spells: the typed column is null, entity_key keeps them.
          ['-9223372036854775808', '99999999999999999999'],
        ]
        const rows = keys.map((parts, i) => featureRowToTableRow(intView, { entityKey: encodeEntityKey(parts), asOfMs: T0 + i, createdAtMs: T0 + i, values: [i] }, i))
        table = (await appendFiles(table, await writeDataFiles(table, rows), {})).table
        const py = await scan(table)
        assert.deepEqual(
          py.schema.fields.map((f) => [f.id, f.name, f.type]),
          [
            [1, 'entity_key', 'string'],
            [6, 'shop_id', 'long'],
            [7, 'item_id', 'long'],
            [2, 'as_of', 'timestamptz'],
            [3, 'created_at', 'timestamptz'],
            [4, 'seq', 'long'],
            [5, 'n', 'long'],
          ],
        )
        assert.match(String(py.schema.fields[1]!.doc), /join key 1 of 2 of entity shop_item/)
        const read = [...py.rows].sort((a, b) => Number(a.seq) - Number(b.seq))
        assert.deepEqual(
          read.map((r) => [r.entity_key, r.shop_id, r.item_id].map((v) => (v === null ? null : String(v)))),
          keys.map((parts) => [encodeEntityKey(parts), parts[0], BigInt(parts[1]!) < 2n ** 63n ? parts[1] : null]),
        )
        assert.equal(typeof read[0]!.shop_id, 'bigint', 'past 2^53: exact, not a rounded double')
      } finally {
        await done()
      }
    })

    void test('raw archive table: rows including marker rows, identity partition', async () => {
      const { store, done } = await makeStore()
      try {
        let table = await createTable(store, 'wh/raw/clicks', { schema: RAW_ARCHIVE_SCHEMA, partitionSpec: RAW_ARCHIVE_PARTITION_SPEC })
        const written: Record<string, unknown>[] = []
        for (let b = 0; b < 2; b++) {
          const rows = archiveRows(b)
          written.push(...rows)
          table = (await appendFiles(table, await writeDataFiles(table, rows), { 'kfs.offsets': String(b) })).table
        }
        const py = await scan(table)
        const expected = written.map((r) => ({ ...r, offset: Number(r.offset), key: hex(r.key as Uint8Array | null), payload: hex(r.payload as Uint8Array | null) }))
        assert.deepEqual(canon(py.rows), canon(expected))
        assert.deepEqual(py.spec.fields, [{ name: 'kafka_partition', transform: 'identity', 'source-id': 1, 'field-id': 1000 }])
        assert.deepEqual(py.schema.fields.map((f) => [f.id, f.name, f.type, f.required]), RAW_ARCHIVE_SCHEMA.fields.map((f) => [f.id, f.name, f.type, f.required]))
        checkSummaries(py, ['0', '1'])
        assert.deepEqual(new Set(py.files.map((f) => f.partition[0])), new Set([0, 1, 2]))
      } finally {
        await done()
      }
    })

    void test('raw archive table compacted: the same rows, file by file in offset order, and the snapshot before', async () => {
      const { store, done } = await makeStore()
      try {
        let table = await createTable(store, 'wh/raw/clicks', { schema: RAW_ARCHIVE_SCHEMA, partitionSpec: RAW_ARCHIVE_PARTITION_SPEC })
        const written: Record<string, unknown>[] = []
        for (let b = 0; b < 4; b++) {
          const rows = archiveRows(b)
          written.push(...rows)
          table = (await appendFiles(table, await writeDataFiles(table, rows), { 'kfs.offsets': String(b) })).table
        }
        const beforeId = table.metadata['current-snapshot-id']!
        const compacted = await compactArchiveTable(table, 'clicks', { committedBeforeMs: Date.now() + DAY, rowsPerFile: 1_000 })
        assert.deepEqual([compacted.status, compacted.removedFiles, compacted.addedFiles], ['committed', 12, 3])
        const py = await scan(compacted.table, [beforeId])
        const expected = written.map((r) => ({ ...r, offset: Number(r.offset), key: hex(r.key as Uint8Array | null), payload: hex(r.payload as Uint8Array | null) }))
        assert.deepEqual(canon(py.rows), canon(expected))
        assert.equal(py.time_travel[String(beforeId)], written.length)
        assert.equal(py.snapshots.at(-1)!.summary.operation, 'replace')
        // One file per partition, its rows in offset order as PyIceberg reads them.
        assert.deepEqual(py.files.map((f) => [f.partition[0], f.record_count]).sort(), [[0, 40], [1, 40], [2, 40]])
        for (const p of [0, 1, 2]) {
          const offsets = py.rows.filter((r) => r.partition === p).map((r) => Number(r.offset))
          assert.deepEqual(offsets, [...offsets].sort((a, b) => a - b), `partition ${p} in offset order`)
        }
      } finally {
        await done()
      }
    })
  })
}

before(async () => {
  const { stdout } = await run('bash', [path.join(repo, 'scripts/pyiceberg/ensure-venv.sh')], { maxBuffer: 16 * 1024 * 1024 })
  python = stdout.trim()
})

interopSuite('local', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'kfs-pyice-'))
  return { store: new LocalObjectStore(dir), done: () => rm(dir, { recursive: true, force: true }) }
})

const s3 = s3EnvOrUndefined()
if (s3 !== undefined) {
  interopSuite('s3 (MinIO)', async () => {
    const store = makeS3Store(s3, 'pyiceberg')
    return {
      store,
      done: async () => {
        for (const key of await store.list('')) await store.delete(key)
        store.close()
      },
    }
  })
}
