import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import type { ObjectStore } from '../../../ports/object-store.ts'
import type { Clock } from '../../../core/clock.ts'
import { LocalObjectStore, MemoryObjectStore } from '../../../adapters/object-store/index.ts'
import {
  appendFiles,
  compactPartitions,
  createTable,
  dataFilesOf,
  dayPartitionSpec,
  featureRowToTableRow,
  featureTablePartitionSpec,
  featureTableSchema,
  listSnapshots,
  loadTable,
  readRows,
  writeDataFiles,
  RAW_ARCHIVE_SCHEMA,
  RAW_ARCHIVE_PARTITION_SPEC,
  archiveFilesInOffsetOrder,
  readDataFileRowBatches,
  type IcebergSchema,
} from '../../../adapters/offline/iceberg/index.ts'
import { clicksSchema, testClock } from './clicks-table.ts'

const DAY = 86_400_000
const T0 = Date.UTC(2024, 0, 15, 10, 30)
const clock: Clock = testClock
const schema: IcebergSchema = clicksSchema()

function rowsFor(writer: string, batch: number, count: number): Record<string, unknown>[] {
  return Array.from({ length: count }, (_, i) => ({ entity_key: `${writer}-${batch}-${i}`, as_of: T0 + (i % 3) * DAY + i, clicks: batch * 1000 + i }))
}

const sortKey = (r: Record<string, unknown>): string => JSON.stringify(r, (_k, v: unknown) => (typeof v === 'bigint' ? String(v) : v))
const canon = (rows: Record<string, unknown>[]): Record<string, unknown>[] => [...rows].sort((a, b) => (sortKey(a) < sortKey(b) ? -1 : 1))

async function collect(it: AsyncIterable<Record<string, unknown> | Record<string, unknown>[]>): Promise<Record<string, unknown>[]> {
  const out: Record<string, unknown>[] = []
  // A data file's rows come a batch at a time (readDataFileRowBatches), a snapshot's one by one (readRows).
  for await (const r of it) out.push(...(Array.isArray(r) ? r : [r]))
  return out
}

function suite(name: string, makeStore: () => Promise<{ store: ObjectStore; done: () => Promise<void> }>): void {
  void describe(`sinks > iceberg > table > ${name}`, () => {
    void test('create, append snapshots, read back, time travel, summary extras', async () => {
      const { store, done } = await makeStore()
      try {
        let table = await createTable(store, 'wh/t1', { schema, partitionSpec: dayPartitionSpec(schema, 'as_of'), clock })
        assert.equal(table.version, 1)
        assert.deepEqual(await collect(readRows(table)), [])
        const written: Record<string, unknown>[][] = []
        for (let b = 0; b < 3; b++) {
          const rows = rowsFor('w', b, 50)
          written.push(rows)
          const files = await writeDataFiles(table, rows)
          const res = await appendFiles(table, files, { 'kfs.offsets': JSON.stringify({ 0: String(b * 50) }) }, { clock })
          assert.equal(res.status, 'committed')
          table = res.table
        }
        const reloaded = await loadTable(store, 'wh/t1')
        assert.equal(reloaded.version, 4)
        const snaps = listSnapshots(reloaded)
        assert.equal(snaps.length, 3)
        assert.deepEqual(snaps.map((s) => JSON.parse(s.summary['kfs.offsets']!)), [{ 0: '0' }, { 0: '50' }, { 0: '100' }])
        assert.deepEqual(snaps.map((s) => s.summary['total-records']), ['50', '100', '150'])
        assert.equal(snaps[2]!.summary['changed-partition-count'], '3')
        assert.deepEqual(canon(await collect(readRows(reloaded))), canon(written.flat()))
        for (let i = 0; i < 3; i++) {
          const rows = await collect(readRows(reloaded, { snapshotId: snaps[i]!['snapshot-id'] }))
          assert.deepEqual(canon(rows), canon(written.slice(0, i + 1).flat()), `snapshot ${i}`)
        }
        for (const f of await dataFilesOf(reloaded)) {
          assert.match(f.filePath, /\/wh\/t1\/data\/as_of_day=2024-01-1[567]\/[0-9a-f-]{36}\.parquet$/)
          const days = new Set((await collect(readDataFileRowBatches(reloaded, f))).map((r) => Math.floor((r.as_of as number) / DAY)))
          assert.deepEqual([...days], [f.partition[0]])
        }
        await assert.rejects(createTable(store, 'wh/t1', { schema, partitionSpec: dayPartitionSpec(schema, 'as_of') }), (e: Error & { code?: string }) => e.code === 'OBJECT_EXISTS')
      } finally {
        await done()
      }
    })

    void test('two concurrent writers: every commit lands, none is lost', async () => {
      const { store, done } = await makeStore()
      try {
        const created = await createTable(store, 'wh/t2', { schema, partitionSpec: dayPartitionSpec(schema, 'as_of'), clock })
        const writer = async (name: string): Promise<Record<string, unknown>[]> => {
          let table = await loadTable(store, 'wh/t2')
          const all: Record<string, unknown>[] = []
          for (let b = 0; b < 5; b++) {
            const rows = rowsFor(name, b, 7)
            all.push(...rows)
            const res = await appendFiles(table, await writeDataFiles(table, rows), { 'kfs.writer': name, 'kfs.batch': String(b) }, { clock })
            assert.equal(res.status, 'committed')
            table = res.table
          }
          return all
        }
        const [a, b] = await Promise.all([writer('a'), writer('b')])
        const table = await loadTable(store, 'wh/t2')
        assert.equal(table.version, created.version + 10)
        assert.equal(listSnapshots(table).length, 10)
        const seqs = listSnapshots(table).map((s) => s['sequence-number'])
        assert.deepEqual(seqs, Array.from({ length: 10 }, (_, i) => i + 1))
        assert.deepEqual(canon(await collect(readRows(table))), canon([...a, ...b]))
        assert.equal(listSnapshots(table).at(-1)!.summary['total-records'], String(a.length + b.length))
      } finally {
        await done()
      }
    })

    void test('a lagging version hint is probed forward; an empty append still records its summary', async () => {
      const { store, done } = await makeStore()
      try {
        let table = await createTable(store, 'wh/t3', { schema, partitionSpec: dayPartitionSpec(schema, 'as_of'), clock })
        table = (await appendFiles(table, await writeDataFiles(table, rowsFor('x', 0, 3)), {}, { clock })).table
        await appendFiles(table, [], { 'kfs.offsets': '{"0":"3"}' }, { clock })
        await store.put('wh/t3/metadata/version-hint.text', new TextEncoder().encode('1'))
        const loaded = await loadTable(store, 'wh/t3')
        assert.equal(loaded.version, 3)
        assert.equal(listSnapshots(loaded).at(-1)!.summary['kfs.offsets'], '{"0":"3"}')
        assert.equal((await collect(readRows(loaded))).length, 3)
      } finally {
        await done()
      }
    })

    void test('skipIf on the fresh base turns a repeated commit into a no-op', async () => {
      const { store, done } = await makeStore()
      try {
        const table = await createTable(store, 'wh/t4', { schema, partitionSpec: dayPartitionSpec(schema, 'as_of'), clock })
        const stale = await loadTable(store, 'wh/t4')
        await appendFiles(table, [], { 'kfs.checkpoint': '7' }, { clock })
        const skipIf = (m: { snapshots: readonly { summary: Readonly<Record<string, string>> }[] }): boolean => m.snapshots.some((s) => s.summary['kfs.checkpoint'] === '7')
        const res = await appendFiles(stale, [], { 'kfs.checkpoint': '7' }, { clock, skipIf })
        assert.equal(res.status, 'skipped')
        assert.equal(listSnapshots(await loadTable(store, 'wh/t4')).length, 1)
      } finally {
        await done()
      }
    })

    void test('writer rolls files by target size; compaction replaces them with one file per partition', async () => {
      const { store, done } = await makeStore()
      try {
        const entity = { kind: 'entity', name: 'user', joinKeys: ['user_id'], keyType: 'string', description: '' }
        const view = { entity, features: [{ name: 'price_sum', type: 'double' }, { name: 'last_items', type: 'string[]' }, { name: 'n', type: 'long' }] } as never
        const fSchema = featureTableSchema(view)
        let table = await createTable(store, 'wh/feat', { schema: fSchema, partitionSpec: featureTablePartitionSpec(fSchema), clock })
        const rows = Array.from({ length: 1500 }, (_, i) =>
          featureRowToTableRow(view, { entityKey: `user-${i % 97}`, asOfMs: T0 + (i % 2) * DAY + i * 10, createdAtMs: T0 + 5 * DAY, values: [i * 1.5, [`item-${i}`, 'x'], i] }, i),
        )
        const files = await writeDataFiles(table, rows, { targetFileBytes: 6_000 })
        assert.ok(files.length >= 4, `expected several files, got ${files.length}`)
        assert.equal(files.reduce((a, f) => a + f.recordCount, 0), rows.length)
        table = (await appendFiles(table, files.slice(0, 2), {}, { clock })).table
        table = (await appendFiles(table, files.slice(2), {}, { clock })).table
        const before = listSnapshots(table).at(-1)!
        const res = await compactPartitions(table, { olderThanDay: Math.floor(T0 / DAY) + 1, clock })
        assert.ok(res.removedFiles >= 2)
        assert.equal(res.addedFiles, 1)
        const after = await loadTable(store, 'wh/feat')
        const last = listSnapshots(after).at(-1)!
        assert.equal(last.summary.operation, 'replace')
        assert.equal(last.summary['total-records'], '1500')
        const live = await dataFilesOf(after)
        assert.equal(live.length, files.length - res.removedFiles + 1)
        const expected = canon(rows.map((r) => ({ ...r, seq: r.seq })) as Record<string, unknown>[])
        assert.deepEqual(canon(await collect(readRows(after))), expected)
        assert.deepEqual(canon(await collect(readRows(after, { snapshotId: before['snapshot-id'] }))), expected)
      } finally {
        await done()
      }
    })

    void test('raw archive: files of a Kafka partition read back in offset order', async () => {
      const { store, done } = await makeStore()
      try {
        let table = await createTable(store, 'wh/raw', { schema: RAW_ARCHIVE_SCHEMA, partitionSpec: RAW_ARCHIVE_PARTITION_SPEC, clock })
        const all: Record<string, unknown>[] = []
        for (let c = 0; c < 4; c++) {
          const rows = Array.from({ length: 30 }, (_, i) => {
            const partition = i % 3
            const offset = c * 10 + Math.floor(i / 3)
            const marker = offset % 7 === 0
            return {
              partition,
              offset: String(offset),
              event_time: marker ? null : T0 + offset * 1000 - (offset % 2) * DAY,
              key: marker ? null : new Uint8Array([partition, offset]),
              schema_id: marker ? null : 3,
              payload: marker ? null : new TextEncoder().encode(`p${partition}o${offset}`),
              marker_watermark: marker ? T0 + offset : null,
              ingestion_time: T0 + 2 * DAY + offset,
            }
          })
          all.push(...rows)
          table = (await appendFiles(table, await writeDataFiles(table, rows), { 'kfs.offsets': String(c) }, { clock })).table
        }
        const files = await dataFilesOf(table)
        for (let p = 0; p < 3; p++) {
          const ordered = archiveFilesInOffsetOrder(files, p)
          const got: Record<string, unknown>[] = []
          for (const f of ordered) got.push(...(await collect(readDataFileRowBatches(table, f))))
          const want = all.filter((r) => r.partition === p).map((r): Record<string, unknown> => ({ ...r, offset: Number(r.offset) }))
          assert.deepEqual(got.map((r) => ({ ...r, key: r.key === null ? null : [...(r.key as Uint8Array)], payload: r.payload === null ? null : [...(r.payload as Uint8Array)] })),
            want.map((r) => ({ ...r, key: r.key === null ? null : [...(r.key as Uint8Array)], payload: r.payload === null ? null : [...(r.payload as Uint8Array)] })))
        }
      } finally {
        await done()
      }
    })
  })
}

suite('memory', async () => ({ store: new MemoryObjectStore(), done: async () => {} }))
suite('local', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'kfs-ice-'))
  return { store: new LocalObjectStore(dir), done: () => rm(dir, { recursive: true, force: true }) }
})
