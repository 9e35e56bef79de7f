/**
 * Manifest merging on append (adapters/offline/iceberg/manifest-merge.ts): without it every append
 * carries each earlier manifest forward, so a snapshot lists one manifest per checkpoint ever
 * committed and every read opens them all. With it the count stays bounded, every snapshot reads
 * the same rows in the same order with the same sequence numbers as a table written without
 * merging, a lost commit race merges again on the new base, and snapshot expiry deletes exactly
 * the manifests no kept snapshot lists.
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import {
  appendFiles,
  compactPartitions,
  createTable,
  dayPartitionSpec,
  expireSnapshots,
  liveEntriesOf,
  loadTable,
  readRows,
  snapshotsToKeep,
  writeDataFiles,
  type IcebergTable,
} from '../../../adapters/offline/iceberg/index.ts'
import { commitMetadata, manifestsOf } from '../../../adapters/offline/iceberg/iceberg-table.ts'
import { keyOfStoreUri } from '../../../ports/object-store-keys.ts'
import { MERGE_ENABLED_PROPERTY, MIN_COUNT_TO_MERGE_PROPERTY } from '../../../adapters/offline/iceberg/manifest-merge.ts'
import { SEQ_INDEX_BITS_KEY, tieKeyBoundsOf } from '../../../adapters/offline/iceberg/writer-facts.ts'
import type { Clock } from '../../../core/clock.ts'
import { CountingStore } from '../../support/counting-store.ts'
import { clicksSchema } from './clicks-table.ts'

const DAY = 86_400_000
const T0 = Date.UTC(2024, 0, 15)
const schema = clicksSchema([{ id: 4, name: 'seq', required: false, type: 'long' }])
const PATH = 'wh/t'
const MERGE_KEYS = new Set(['manifests-created', 'manifests-kept', 'manifests-replaced'])
/**
 * The merge threshold of every test but the measured one, which pins the default (100): the same
 * merges, races and expiry happen ten times sooner, so each test appends ten times fewer commits
 * (and reads each snapshot of a table a tenth the size).
 */
const MIN_COUNT = 10

function steppedClock(): Clock & { advance: (ms: number) => void } {
  let now = T0 + 30 * DAY
  return { nowMs: () => now, sleep: () => new Promise((r) => setImmediate(r)), advance: (ms) => (now += ms) }
}

async function newTable(store: CountingStore, clock: Clock, merge: boolean, minCountToMerge?: number): Promise<IcebergTable> {
  const properties: Record<string, string> = merge ? {} : { [MERGE_ENABLED_PROPERTY]: 'false' }
  if (minCountToMerge !== undefined) properties[MIN_COUNT_TO_MERGE_PROPERTY] = String(minCountToMerge)
  return createTable(store, PATH, { schema, partitionSpec: dayPartitionSpec(schema, 'as_of'), clock, properties })
}

/** One checkpoint's append: a row in one of three day partitions, its marker and the writer's facts. */
async function appendOne(table: IcebergTable, i: number, clock: ReturnType<typeof steppedClock>): Promise<IcebergTable> {
  clock.advance(10_000)
  const rows = [{ entity_key: `k${i}`, as_of: T0 + (i % 3) * DAY + i * 1000, clicks: i, seq: BigInt(i) << 21n }]
  const extras = { [`kfs.ckpt.g/t/${i % 3}`]: String(i), [SEQ_INDEX_BITS_KEY]: '0' }
  return (await appendFiles(table, await writeDataFiles(table, rows), extras, { clock })).table
}

async function appendMany(
  table: IcebergTable,
  from: number,
  n: number,
  clock: ReturnType<typeof steppedClock>,
): Promise<IcebergTable> {
  let t = table
  for (let i = from; i < from + n; i++) t = await appendOne(t, i, clock)
  return t
}

const text = (v: unknown): string => JSON.stringify(v, (_k, x: unknown) => (typeof x === 'bigint' ? String(x) : x))

/**
 * What a reader sees of snapshot `index` (in commit order), independent of file names and ids:
 * rows in read order, each live entry's data and file sequence numbers and the index of the
 * snapshot that added it, the summary without the merge counts, and the writer's tie-key bounds.
 */
async function readerView(table: IcebergTable, index: number): Promise<string> {
  const snapshots = table.metadata.snapshots
  const s = snapshots[index]!
  const indexOf = (id: bigint | null): number => snapshots.findIndex((x) => x['snapshot-id'] === id)
  const rows: unknown[] = []
  for await (const r of readRows(table, { snapshotId: s['snapshot-id'], longAs: 'bigint' })) rows.push(r)
  const entries = await liveEntriesOf(table, s['snapshot-id'])
  const lists = await manifestsOf(table, s)
  // An ADDED entry's snapshot id is inherited from its manifest: resolve it as readers do.
  const addedBy = new Map<string, bigint>()
  for (const m of lists) addedBy.set(m.manifestPath, m.addedSnapshotId)
  const seqs = entries.map((e) => [
    e.dataSequenceNumber,
    e.fileSequenceNumber ?? e.dataSequenceNumber,
    e.snapshotId === null ? 'inherited' : indexOf(e.snapshotId),
  ])
  const summary = Object.fromEntries(Object.entries(s.summary).filter(([k]) => !MERGE_KEYS.has(k)))
  const bounds = tieKeyBoundsOf(
    schema,
    s.summary,
    entries.map((e) => e.dataFile),
  )
  return text({
    rows,
    seqs: seqs.map(([d, f, by]) => [d, f, by === 'inherited' ? index : by]),
    summary,
    bounds,
    sequence: s['sequence-number'],
  })
}

async function manifestCount(table: IcebergTable): Promise<number> {
  return (await manifestsOf(table, table.metadata.snapshots.at(-1))).length
}

/** GETs of reading the current snapshot's rows from a freshly loaded table (its list not in memory). */
async function getsPerRead(store: CountingStore): Promise<number> {
  const table = await loadTable(store, PATH)
  const before = store.calls.get
  for await (const _ of readRows(table)) void _
  return store.calls.get - before
}

void describe('sinks > iceberg > manifest merging on append', () => {
  void test('measured: manifests per snapshot and GETs per read stay bounded; the added commit cost is about one GET a commit', async () => {
    const N = 450
    const measured = new Map<boolean, { manifests: number; reads: number; gets: number; puts: number }>()
    for (const merge of [false, true]) {
      const clock = steppedClock()
      const store = new CountingStore()
      const start = await newTable(store, clock, merge)
      const gets = store.calls.get
      const writes = store.writes
      const table = await appendMany(start, 0, N, clock)
      measured.set(merge, {
        manifests: await manifestCount(table),
        gets: store.calls.get - gets,
        puts: store.writes - writes,
        reads: await getsPerRead(store),
      })
    }
    const off = measured.get(false)!
    const on = measured.get(true)!
    const report = `without merging ${text(off)}, with ${text(on)} after ${N} appends`
    // The growth being fixed: one manifest per append, each opened by every read.
    // A read of the loaded table GETs the manifest list, each manifest, each data file.
    assert.equal(off.manifests, N, report)
    assert.equal(off.reads, 1 + N + N, report)
    assert.ok(on.manifests < 100, report)
    assert.equal(on.reads, 1 + on.manifests + N, report)
    // A merge reads the ~99 manifests it merges (one GET each) and writes one: about one GET per
    // commit more, and one PUT per merge (four merges in 450 appends).
    assert.ok(on.gets - off.gets <= N + 10, report)
    assert.ok(on.puts - off.puts <= 5, report)
    assert.ok(on.puts - off.puts >= 4, report)
  })

  void test('every snapshot, before and after merges and a compaction, reads as the same table written without merging', async () => {
    const views = new Map<boolean, string[]>()
    const counts = new Map<boolean, number[]>()
    for (const merge of [false, true]) {
      const clock = steppedClock()
      const store = new CountingStore()
      let table = await appendMany(await newTable(store, clock, merge, MIN_COUNT), 0, 13, clock)
      const compacted = await compactPartitions(table, { olderThanDay: Math.floor(T0 / DAY) + 2, clock })
      assert.equal(compacted.status, 'committed')
      table = await appendMany(compacted.table!, 13, 12, clock)
      const all: string[] = []
      for (let i = 0; i < table.metadata.snapshots.length; i++) all.push(await readerView(table, i))
      views.set(merge, all)
      const perSnapshot: number[] = []
      for (const s of table.metadata.snapshots) perSnapshot.push((await manifestsOf(table, s)).length)
      counts.set(merge, perSnapshot)
    }
    assert.ok(
      Math.max(...counts.get(true)!) <= MIN_COUNT,
      `merged: at most ${MIN_COUNT} manifests a snapshot (${Math.max(...counts.get(true)!)})`,
    )
    assert.ok(Math.max(...counts.get(false)!) > 2 * MIN_COUNT)
    const [off, on] = [views.get(false)!, views.get(true)!]
    assert.equal(on.length, off.length)
    for (let i = 0; i < off.length; i++) assert.equal(on[i], off[i], `snapshot ${i}`)
  })

  void test('only manifests of one partition spec merge: a table whose spec changed keeps the runs apart, in order', async () => {
    const views = new Map<boolean, string[]>()
    let specsOfCurrent: number[] = []
    for (const merge of [false, true]) {
      const clock = steppedClock()
      const store = new CountingStore()
      let table = await appendMany(await newTable(store, clock, merge, MIN_COUNT), 0, 6, clock)
      // Partition evolution: day-partitioned files before, unpartitioned ones after.
      table = await commitMetadata(table, async (base) => ({
        next: {
          ...base.metadata,
          'partition-specs': [...base.metadata['partition-specs'], { 'spec-id': 1, fields: [] }],
          'default-spec-id': 1,
        },
        written: [],
        result: (t) => t,
      }))
      table = await appendMany(table, 6, 8, clock)
      const all: string[] = []
      for (let i = 0; i < table.metadata.snapshots.length; i++) all.push(await readerView(table, i))
      views.set(merge, all)
      if (merge) specsOfCurrent = (await manifestsOf(table, table.metadata.snapshots.at(-1))).map((m) => m.partitionSpecId)
    }
    // The 4th append after the change would list 10: its new manifest, the 3 unpartitioned ones
    // merged into one, the 6 day-partitioned ones into another; then 4 appends, one manifest each.
    assert.deepEqual(specsOfCurrent, [...Array<number>(5).fill(1), 1, 0])
    const [off, on] = [views.get(false)!, views.get(true)!]
    for (let i = 0; i < off.length; i++) assert.equal(on[i], off[i], `snapshot ${i}`)
  })

  /** Merged manifest files in the store, and whether each is listed by a snapshot of the table. */
  async function mergedManifestFiles(store: CountingStore): Promise<Map<string, boolean>> {
    const t = await loadTable(store, PATH)
    const listed = new Set<string>()
    for (const s of t.metadata.snapshots)
      for (const m of await manifestsOf(t, s)) listed.add(keyOfStoreUri(store, m.manifestPath))
    const files = (await store.list(`${PATH}/metadata/`)).filter((k) => k.endsWith('-m2.avro'))
    return new Map(files.map((k) => [k, listed.has(k)]))
  }

  async function entityKeys(store: CountingStore): Promise<number> {
    const ids = new Set<string>()
    for await (const r of readRows(await loadTable(store, PATH))) ids.add(String(r.entity_key))
    return ids.size
  }

  void test("a commit race lost before merging: the retry merges on the new base, the other writer's manifest among those merged", async () => {
    const clock = steppedClock()
    const store = new CountingStore()
    const table = await appendMany(await newTable(store, clock, true, MIN_COUNT), 0, 8, clock)
    // This append on 8 manifests would list 9: no merge. Another writer commits first, so the
    // retry's list would hold 10: it merges.
    store.beforePutIfAbsent = async () => void (await appendOne(await loadTable(store, PATH), 8, clock))
    const merged = await appendOne(table, 9, clock)
    assert.equal(store.beforePutIfAbsent, undefined, 'the other writer committed in between')
    assert.equal(merged.metadata.snapshots.length, 10)
    const list = await manifestsOf(merged, merged.metadata.snapshots.at(-1))
    assert.equal(list.length, 2, 'the new manifest and one merged from the 9 before it')
    assert.equal(list[1]!.existingFilesCount, 9)
    assert.equal(await entityKeys(store), 10)
    assert.deepEqual([...(await mergedManifestFiles(store)).values()], [true])
  })

  void test('a commit race lost after merging: the merge is not reused, its manifest is deleted, the retry works on the new base', async () => {
    const clock = steppedClock()
    const store = new CountingStore()
    const table = await appendMany(await newTable(store, clock, true, MIN_COUNT), 0, 9, clock)
    // This append's first attempt merges the 9; the other writer, committing first, merges them too.
    store.beforePutIfAbsent = async () => void (await appendOne(await loadTable(store, PATH), 9, clock))
    const after = await appendOne(table, 10, clock)
    assert.equal(store.beforePutIfAbsent, undefined, 'the other writer committed in between')
    const list = await manifestsOf(after, after.metadata.snapshots.at(-1))
    assert.equal(list.length, 3, "this append's manifest, the other's, the other's merged one")
    assert.equal(await entityKeys(store), 11)
    assert.deepEqual([...(await mergedManifestFiles(store)).values()], [true], "only the winner's merged manifest is left")
  })

  void test('expiry after merging deletes exactly the manifests no kept snapshot lists; a pinned old snapshot keeps its own', async () => {
    const clock = steppedClock()
    const store = new CountingStore()
    let table = await appendMany(await newTable(store, clock, true, MIN_COUNT), 0, 3, clock)
    const pinned = table.metadata['current-snapshot-id']
    table = await appendMany(table, 3, 27, clock)
    // Appends are 10 s apart: the last minute's 6 snapshots are young enough to keep.
    const retention = { maxAgeMs: 60_000, minSnapshots: 2, keep: new Set([String(pinned)]) }
    // The rows of the snapshots expiry will keep (not of every snapshot: those expired are gone).
    const before = new Map<bigint, string>()
    for (const id of snapshotsToKeep(table.metadata, retention, clock.nowMs())) before.set(id, await rowsOf(table, id))
    const result = await expireSnapshots(table, retention, { clock })
    assert.ok(result.expiredSnapshots > 20, `expired ${result.expiredSnapshots}`)
    const after = await loadTable(store, PATH)
    assert.ok(after.metadata.snapshots.some((s) => s['snapshot-id'] === pinned))
    assert.deepEqual(new Set(after.metadata.snapshots.map((s) => s['snapshot-id'])), new Set(before.keys()))
    const listed = new Set<string>()
    for (const s of after.metadata.snapshots) {
      assert.equal(await rowsOf(after, s['snapshot-id']), before.get(s['snapshot-id']), `snapshot ${s['snapshot-id']}`)
      for (const m of await manifestsOf(after, s)) listed.add(keyOfStoreUri(store, m.manifestPath))
      for (const e of await liveEntriesOf(after, s['snapshot-id']))
        assert.ok(await store.get(keyOfStoreUri(store, e.dataFile.filePath)))
    }
    const lists = new Set(after.metadata.snapshots.map((s) => keyOfStoreUri(store, s['manifest-list'])))
    const manifests = (await store.list(`${PATH}/metadata/`)).filter(
      (k) => k.endsWith('.avro') && !lists.has(k) && !/\/snap-/.test(k),
    )
    // The pinned snapshot's 3 manifests stay (merged away from the current list long ago), and so
    // does every manifest a kept snapshot lists; the rest — merged away, listed only by expired
    // snapshots — are gone.
    assert.ok(listed.size > 3)
    assert.deepEqual(manifests.sort(), [...listed].sort())
  })
})

async function rowsOf(table: IcebergTable, snapshotId: bigint): Promise<string> {
  const rows: unknown[] = []
  for await (const r of readRows(table, { snapshotId, longAs: 'bigint' })) rows.push(r)
  return text(rows)
}
