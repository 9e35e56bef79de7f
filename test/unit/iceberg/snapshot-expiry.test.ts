/**
 * Snapshot expiry (adapters/offline/iceberg/snapshot-expiry.ts): without it every commit adds a
 * snapshot to the metadata file every commit rewrites; with it the metadata stays bounded, every
 * kept snapshot reads the rows it read before, the files kept snapshots name all exist, the files
 * only expired ones named (and metadata files older than the metadata log) are gone, a concurrent
 * commit is never lost, and a crash between the commit and the deletes leaves a readable table.
 */
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { describe, test } from 'node:test'
import { MemoryObjectStore } from '../../../adapters/object-store/index.ts'
import {
  appendFiles,
  compactPartitions,
  createTable,
  dayPartitionSpec,
  expireSnapshots,
  liveEntriesOf,
  loadTable,
  metadataKey,
  readRows,
  refreshTable,
  writeDataFiles,
  type IcebergTable,
} from '../../../adapters/offline/iceberg/index.ts'
import { manifestsOf } from '../../../adapters/offline/iceberg/iceberg-table.ts'
import { keyOfStoreUri } from '../../../ports/object-store-keys.ts'
import { CARRIED_PREFIXES, IcebergOfflineSink } from '../../../adapters/offline/iceberg/offline-sink.ts'
import { pinTable } from '../../../adapters/offline/iceberg/pinned-files.ts'
import { parseTableMetadata } from '../../../adapters/offline/iceberg/table-metadata.ts'
import type { Clock } from '../../../core/clock.ts'
import { FeatureStoreError } from '../../../core/errors.ts'
import type { ObjectStore } from '../../../ports/object-store.ts'
import { clicksSchema } from './clicks-table.ts'

const DAY = 86_400_000
const T0 = Date.UTC(2024, 0, 15)
const schema = clicksSchema()
const PATH = 'wh/t'

/** Ten seconds pass per commit, as at the default checkpoint interval. */
function steppedClock(): Clock & { advance: (ms: number) => void } {
  let now = T0 + 30 * DAY
  return { nowMs: () => now, sleep: () => new Promise((r) => setImmediate(r)), advance: (ms) => (now += ms) }
}

/** A store whose calls a test may intercept (interleave a writer, fail the deletes). */
class HookedStore implements ObjectStore {
  readonly inner = new MemoryObjectStore()
  beforePutIfAbsent: ((key: string) => Promise<void>) | undefined
  failDeletes = false
  get rootUri(): string {
    return this.inner.rootUri
  }
  get = (key: string) => this.inner.get(key)
  put = (key: string, body: Uint8Array) => this.inner.put(key, body)
  list = (prefix: string) => this.inner.list(prefix)
  listWithTimes = (prefix: string) => this.inner.listWithTimes(prefix)
  uriOf = (key: string) => this.inner.uriOf(key)
  async putIfAbsent(key: string, body: Uint8Array): Promise<boolean> {
    const hook = this.beforePutIfAbsent
    this.beforePutIfAbsent = undefined
    await hook?.(key)
    return this.inner.putIfAbsent(key, body)
  }
  async delete(key: string): Promise<void> {
    if (this.failDeletes) throw new Error('the process died before its deletes')
    await this.inner.delete(key)
  }
}

const sortKey = (r: Record<string, unknown>): string =>
  JSON.stringify(r, (_k, v: unknown) => (typeof v === 'bigint' ? String(v) : v))
async function rowsAt(table: IcebergTable, snapshotId?: bigint): Promise<string[]> {
  const out: string[] = []
  for await (const r of readRows(table, snapshotId === undefined ? {} : { snapshotId })) out.push(sortKey(r))
  return out.sort()
}

/** Commits `n` small appends over three day partitions, each checkpoint marking `kfs.ckpt.g/t/<i % 3>`. */
async function commitMany(
  table: IcebergTable,
  n: number,
  clock: ReturnType<typeof steppedClock>,
  from = 0,
): Promise<IcebergTable> {
  let t = table
  for (let i = from; i < from + n; i++) {
    clock.advance(10_000)
    const rows = [{ entity_key: `k${i}`, as_of: T0 + (i % 3) * DAY + i, clicks: i }]
    t = (await appendFiles(t, await writeDataFiles(t, rows), { [`kfs.ckpt.g/t/${i % 3}`]: String(i) }, { clock })).table
  }
  return t
}

/** Every object a kept snapshot names — manifest list, manifests, live data files — exists. */
async function assertReferencedFilesExist(store: ObjectStore, table: IcebergTable): Promise<void> {
  for (const s of table.metadata.snapshots) {
    assert.ok(await store.get(keyOfStoreUri(store, s['manifest-list'])), `manifest list of ${s['snapshot-id']}`)
    for (const m of await manifestsOf(table, s))
      assert.ok(await store.get(keyOfStoreUri(store, m.manifestPath)), `manifest ${m.manifestPath}`)
    for (const e of await liveEntriesOf(table, s['snapshot-id']))
      assert.ok(await store.get(keyOfStoreUri(store, e.dataFile.filePath)), `data file ${e.dataFile.filePath}`)
  }
  for (const e of table.metadata['metadata-log'])
    assert.ok(await store.get(keyOfStoreUri(store, e['metadata-file'])), `logged ${e['metadata-file']}`)
}

async function metadataBytes(store: ObjectStore, table: IcebergTable): Promise<number> {
  return (await store.get(metadataKey(table.path, table.version)))!.length
}

const RETENTION = { maxAgeMs: 10 * 60_000, minSnapshots: 20 }

void describe('sinks > iceberg > snapshot expiry', () => {
  void test('without expiry the metadata grows with every commit; with it, it stays bounded and old metadata files go', async () => {
    const clock = steppedClock()
    const store = new MemoryObjectStore()
    let table = await commitMany(
      await createTable(store, PATH, { schema, partitionSpec: dayPartitionSpec(schema, 'as_of'), clock }),
      150,
      clock,
    )
    const at150 = await metadataBytes(store, table)
    table = await commitMany(table, 150, clock, 150)
    const at300 = await metadataBytes(store, table)
    // The growth being fixed: ~0.9 kB per snapshot, for ever.
    assert.ok(at300 > 1.8 * at150, `${at150} → ${at300} bytes`)
    const sizes: number[] = []
    for (let round = 0; round < 4; round++) {
      table = await commitMany(table, 100, clock, 300 + round * 100)
      const result = await expireSnapshots(table, RETENTION, { clock })
      table = result.table
      // Ten minutes at ten seconds a commit: 61 superseded snapshots at most (both ends), and the current one.
      assert.ok(table.metadata.snapshots.length <= 62, `${table.metadata.snapshots.length} snapshots kept`)
      sizes.push(await metadataBytes(store, table))
    }
    assert.ok(Math.max(...sizes) < at150 * 0.6, `bounded: ${sizes.join(', ')} bytes (150 snapshots: ${at150})`)
    const versions = (await store.list(`${PATH}/metadata/v`)).filter((k) => k.endsWith('.metadata.json')).length
    assert.ok(versions <= 101, `metadata files: the current one and the metadata log's (${versions})`)
    await assertReferencedFilesExist(store, table)
    assert.equal((await rowsAt(table)).length, 700)
  })

  /** 30 commits (the pin), 30 more, a compaction of days 0–1, 100 more: the rows of every snapshot before expiry. */
  async function compactedHistory(store: ObjectStore, clock: ReturnType<typeof steppedClock>) {
    let table = await commitMany(
      await createTable(store, PATH, { schema, partitionSpec: dayPartitionSpec(schema, 'as_of'), clock }),
      30,
      clock,
    )
    const pinned = table.metadata['current-snapshot-id']
    table = await commitMany(table, 30, clock, 30)
    const compacted = await compactPartitions(table, { olderThanDay: Math.floor(T0 / DAY) + 2, clock })
    assert.equal(compacted.status, 'committed')
    const replacedFiles = compacted.removedFiles
    assert.ok(replacedFiles > 2)
    table = await commitMany(compacted.table!, 100, clock, 60)
    const rows = new Map<bigint, string[]>()
    for (const s of table.metadata.snapshots) rows.set(s['snapshot-id'], await rowsAt(table, s['snapshot-id']))
    return { table, pinned, replacedFiles, rows, dataFiles: (await store.list(`${PATH}/data/`)).length }
  }

  void test('after a compaction, the files it replaced go once no kept snapshot names them; every kept snapshot reads as before', async () => {
    const clock = steppedClock()
    const store = new MemoryObjectStore()
    const { table, replacedFiles, rows, dataFiles } = await compactedHistory(store, clock)
    const result = await expireSnapshots(table, RETENTION, { clock })
    const after = await loadTable(store, PATH)
    assert.ok(result.expiredSnapshots > 50, `expired ${result.expiredSnapshots}`)
    for (const s of after.metadata.snapshots)
      assert.deepEqual(await rowsAt(after, s['snapshot-id']), rows.get(s['snapshot-id']), `snapshot ${s['snapshot-id']}`)
    assert.deepEqual(await rowsAt(after), rows.get(table.metadata['current-snapshot-id']))
    await assertReferencedFilesExist(store, after)
    assert.equal((await store.list(`${PATH}/data/`)).length, dataFiles - replacedFiles, 'the replaced data files are deleted')
  })

  void test('a pinned snapshot stays and reads as before, with the replaced files it still names', async () => {
    const clock = steppedClock()
    const store = new MemoryObjectStore()
    const { table, pinned, replacedFiles, rows, dataFiles } = await compactedHistory(store, clock)
    await expireSnapshots(table, { ...RETENTION, keep: new Set([String(pinned)]) }, { clock })
    const after = await loadTable(store, PATH)
    assert.ok(
      after.metadata.snapshots.some((s) => s['snapshot-id'] === pinned),
      'the pinned snapshot stays',
    )
    assert.deepEqual(await rowsAt(after, pinned), rows.get(pinned))
    for (const s of after.metadata.snapshots)
      assert.deepEqual(await rowsAt(after, s['snapshot-id']), rows.get(s['snapshot-id']), `snapshot ${s['snapshot-id']}`)
    await assertReferencedFilesExist(store, after)
    // The pin names the first 30 commits' files of days 0–1; the replaced ones written after it go.
    const left = (await store.list(`${PATH}/data/`)).length
    assert.ok(
      left < dataFiles && left > dataFiles - replacedFiles,
      `data files ${dataFiles} → ${left} (${replacedFiles} replaced)`,
    )
  })

  void test('the metadata stays valid Iceberg v2: snapshot log after the last expired snapshot, refs on kept snapshots', async () => {
    const clock = steppedClock()
    const store = new MemoryObjectStore()
    const table = await commitMany(
      await createTable(store, PATH, { schema, partitionSpec: dayPartitionSpec(schema, 'as_of'), clock }),
      120,
      clock,
    )
    await expireSnapshots(table, RETENTION, { clock })
    const meta = parseTableMetadata((await store.get(metadataKey(PATH, table.version + 1)))!)
    const kept = new Set(meta.snapshots.map((s) => s['snapshot-id']))
    assert.ok(meta['snapshot-log'].length > 0 && meta['snapshot-log'].every((e) => kept.has(e['snapshot-id'])))
    assert.equal(meta['snapshot-log'].at(-1)!['snapshot-id'], meta['current-snapshot-id'])
    assert.ok(Object.values(meta.refs).every((r) => kept.has(r['snapshot-id'])))
    assert.equal(meta.refs.main!['snapshot-id'], meta['current-snapshot-id'])
    assert.ok(kept.has(meta['current-snapshot-id']))
  })

  void test('checkpoint markers of expired snapshots are carried forward: every kept snapshot accumulates the same markers', async () => {
    const clock = steppedClock()
    const store = new MemoryObjectStore()
    let table = await createTable(store, PATH, { schema, partitionSpec: dayPartitionSpec(schema, 'as_of'), clock })
    // Partition 9 commits once, early; only an expired snapshot names it.
    clock.advance(10_000)
    table = (await appendFiles(table, [], { 'kfs.ckpt.g/t/9': '5' }, { clock })).table
    table = await commitMany(table, 100, clock)
    const sink = new IcebergOfflineSink(store, { parquetWorker: false, clock })
    const before = new Map((await sink.snapshots(PATH)).map((s) => [s.snapshotId, s.markers]))
    const result = await expireSnapshots(table, RETENTION, { clock, carriedPrefixes: ['kfs.ckpt.'] })
    assert.ok(result.expiredSnapshots > 0)
    const after = await sink.snapshots(PATH)
    for (const s of after) assert.deepEqual(s.markers, before.get(s.snapshotId), `markers at ${s.snapshotId}`)
    assert.equal(after.at(-1)!.markers['g/t/9'], 5)
  })

  void test('row positions of expired snapshots (kfs.rows-through, and kfs.offset of older commits) are carried forward exactly, past 2^53', async () => {
    const clock = steppedClock()
    const store = new MemoryObjectStore()
    let table = await createTable(store, PATH, { schema, partitionSpec: dayPartitionSpec(schema, 'as_of'), clock })
    // Offset 2^40, row 3 at it: a position a double cannot hold. Partition 8's commit predates rows-through.
    const far = ((1n << 40n) << 21n) + 3n
    clock.advance(10_000)
    table = (await appendFiles(table, [], { 'kfs.ckpt.g/t/9': '5', 'kfs.rows-through.g/t/9': far.toString() }, { clock })).table
    clock.advance(10_000)
    table = (await appendFiles(table, [], { 'kfs.ckpt.g/t/8': '2', 'kfs.offset.g/t/8': '7' }, { clock })).table
    table = await commitMany(table, 100, clock)
    const sink = new IcebergOfflineSink(store, { parquetWorker: false, clock })
    const expected = { 'g/t/9': far.toString(), 'g/t/8': (7n << 21n).toString() }
    assert.deepEqual((await sink.snapshots(PATH)).at(-1)!.rowsThrough, expected, 'before expiry')
    const result = await expireSnapshots(table, RETENTION, { clock, carriedPrefixes: CARRIED_PREFIXES })
    assert.ok(result.expiredSnapshots > 0)
    assert.deepEqual((await sink.snapshots(PATH)).at(-1)!.rowsThrough, expected, 'after expiry')
  })

  void test('a training set pinned to an expired snapshot, or a read at one, is refused naming the snapshot', async () => {
    const clock = steppedClock()
    const store = new MemoryObjectStore()
    let table = await commitMany(
      await createTable(store, PATH, { schema, partitionSpec: dayPartitionSpec(schema, 'as_of'), clock }),
      5,
      clock,
    )
    const old = String(table.metadata['current-snapshot-id'])
    table = await commitMany(table, 100, clock, 5)
    await expireSnapshots(table, RETENTION, { clock })
    const dir = await mkdtemp(path.join(tmpdir(), 'kfs-expiry-'))
    try {
      await assert.rejects(
        pinTable(store, PATH, old, dir),
        (err: unknown) =>
          err instanceof FeatureStoreError &&
          err.code === 'NOT_FOUND' &&
          err.message.includes(`snapshot ${old} of table ${PATH} is no longer kept`),
      )
      // Any read pinned to it (a backfill's, a replay --snapshot-id) is refused by name too.
      await assert.rejects(
        rowsAt(await loadTable(store, PATH), BigInt(old)),
        (err: unknown) =>
          err instanceof FeatureStoreError &&
          err.code === 'OBJECT_NOT_FOUND' &&
          err.message.includes(`table ${PATH} has no snapshot ${old}`),
      )
      const current = String((await loadTable(store, PATH)).metadata['current-snapshot-id'])
      assert.equal((await pinTable(store, PATH, current, dir)).files.length, 105)
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })

  void test('a commit landing while expiry commits is not lost: expiry rebuilds on it', async () => {
    const clock = steppedClock()
    const store = new HookedStore()
    const table = await commitMany(
      await createTable(store, PATH, { schema, partitionSpec: dayPartitionSpec(schema, 'as_of'), clock }),
      100,
      clock,
    )
    let raced: bigint | undefined
    store.beforePutIfAbsent = async () => {
      const other = await loadTable(store, PATH)
      const res = await appendFiles(
        other,
        await writeDataFiles(other, [{ entity_key: 'raced', as_of: T0, clicks: -1 }]),
        {},
        { clock },
      )
      raced = res.snapshotId
    }
    const result = await expireSnapshots(table, RETENTION, { clock })
    const after = await loadTable(store, PATH)
    assert.ok(raced !== undefined && result.expiredSnapshots > 0)
    assert.equal(after.metadata['current-snapshot-id'], raced, 'the raced commit is the current snapshot')
    assert.ok((await rowsAt(after)).some((r) => r.includes('"raced"')))
    assert.equal((await rowsAt(after)).length, 101)
    await assertReferencedFilesExist(store, after)
  })

  void test('a crash after the expiry commit, before its deletes, leaves a readable table (orphans only)', async () => {
    const clock = steppedClock()
    const store = new HookedStore()
    const table = await commitMany(
      await createTable(store, PATH, { schema, partitionSpec: dayPartitionSpec(schema, 'as_of'), clock }),
      120,
      clock,
    )
    const rows = await rowsAt(table)
    store.failDeletes = true
    const result = await expireSnapshots(table, RETENTION, { clock })
    assert.ok(result.expiredSnapshots > 0 && result.deletedFiles === 0 && result.undeletedFiles > 0)
    const after = await loadTable(store, PATH)
    assert.equal(after.metadata.snapshots.length, result.keptSnapshots)
    assert.deepEqual(await rowsAt(after), rows)
    await assertReferencedFilesExist(store, after)
    // The next run expires on; the orphans stay harmless.
    store.failDeletes = false
    const next = await commitMany(after, 10, clock, 120)
    assert.deepEqual((await rowsAt((await expireSnapshots(next, RETENTION, { clock })).table)).length, 130)
  })

  void test('a writer holding a version whose successors expiry deleted reloads instead of committing over a deleted version', async () => {
    const clock = steppedClock()
    const store = new MemoryObjectStore()
    const stale = await commitMany(
      await createTable(store, PATH, { schema, partitionSpec: dayPartitionSpec(schema, 'as_of'), clock }),
      1,
      clock,
    )
    const newest = await commitMany(await loadTable(store, PATH), 150, clock, 1)
    await expireSnapshots(newest, RETENTION, { clock })
    assert.equal(await store.get(metadataKey(PATH, stale.version + 1)), undefined, 'the stale writer’s next version was deleted')
    const refreshed = await refreshTable(stale)
    const res = await appendFiles(
      refreshed,
      await writeDataFiles(refreshed, [{ entity_key: 'late', as_of: T0, clicks: 0 }]),
      {},
      { clock },
    )
    const after = await loadTable(store, PATH)
    assert.equal(after.metadata['current-snapshot-id'], res.snapshotId, 'the late commit is the newest version')
    assert.equal((await rowsAt(after)).length, 152)
  })
})
