/**
 * The offline sink's commits: idempotent by checkpoint markers (a held checkpoint writes nothing,
 * not even a manifest), correct across writers whose cached table is stale, one after the other
 * within a sink (no self-conflicts), and cheap to refresh (one GET when nothing changed).
 */
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import type { ArchiveRow } from '../../../ports/offline.ts'
import { IcebergOfflineSink } from '../../../adapters/offline/iceberg/offline-sink.ts'
import { dataFilesOf, listSnapshots, loadTable, readRows, refreshTable } from '../../../adapters/offline/iceberg/index.ts'
import { MemoryObjectStore } from '../../../adapters/object-store/index.ts'
import { CountingStore } from '../../support/counting-store.ts'

const TOPIC = 'clicks'

function archiveRows(partition: number, from: number, count: number): ArchiveRow[] {
  return Array.from({ length: count }, (_, i) => ({
    partition,
    offset: String(from + i),
    eventTimeMs: 1_700_000_000_000 + i,
    key: null,
    schemaId: 1,
    payload: new Uint8Array([0, 0, 0, 0, 1, i & 255]),
    markerWatermarkMs: null,
    timestampMs: 1_700_000_000_000 + i,
  }))
}

async function rowCount(store: MemoryObjectStore, path: string): Promise<number> {
  let n = 0
  for await (const _row of readRows(await loadTable(store, path))) n++
  return n
}

void describe('sinks > iceberg > offline sink commits', () => {
  void test('a checkpoint the table already holds is skipped without writing anything', async () => {
    const store = new CountingStore()
    const sink = new IcebergOfflineSink(store)
    const tableId = sink.tableId({ kind: 'archive', topic: TOPIC })
    const staged = await sink.stageArchiveRows(TOPIC, archiveRows(0, 0, 10))
    await sink.commit(tableId, [staged], { 'clicks/0': 1 }, {})
    const objects = (await store.list(`${tableId}/`)).length
    const puts = store.calls.put + store.calls.putIfAbsent
    // Rolled forward again (a restore after a crash): same markers, nothing new.
    await sink.commit(tableId, [staged], { 'clicks/0': 1 }, {})
    await new IcebergOfflineSink(store).commit(tableId, [staged], { 'clicks/0': 1 }, {})
    assert.equal((await store.list(`${tableId}/`)).length, objects)
    assert.equal(store.calls.put + store.calls.putIfAbsent, puts)
    assert.equal(await rowCount(store, tableId), 10)
  })

  void test('a writer whose cached table is stale still lands its commit, after the other writer’s', async () => {
    const store = new CountingStore()
    const a = new IcebergOfflineSink(store)
    const b = new IcebergOfflineSink(store)
    const tableId = a.tableId({ kind: 'archive', topic: TOPIC })
    const first = await a.stageArchiveRows(TOPIC, archiveRows(0, 0, 5))
    await a.commit(tableId, [first], { 'clicks/0': 1 }, {})
    // b opens the table now, then a commits again: b's view is one version behind.
    const fromB = await b.stageArchiveRows(TOPIC, archiveRows(1, 0, 7))
    await a.commit(tableId, [await a.stageArchiveRows(TOPIC, archiveRows(0, 5, 3))], { 'clicks/0': 2 }, {})
    await b.commit(tableId, [fromB], { 'clicks/1': 1 }, {})
    // b also rolls forward a checkpoint a already committed: skipped on the fresh table.
    await b.commit(tableId, [first], { 'clicks/0': 1 }, {})
    const table = await loadTable(store, tableId)
    assert.equal(listSnapshots(table).length, 3)
    assert.equal(await rowCount(store, tableId), 15)
  })

  void test('concurrent commits to one table from one sink never race each other: no conflicts, all land', async () => {
    const store = new CountingStore()
    const sink = new IcebergOfflineSink(store)
    const tableId = sink.tableId({ kind: 'archive', topic: TOPIC })
    const staged = await Promise.all([0, 1, 2, 3, 4].map((p) => sink.stageArchiveRows(TOPIC, archiveRows(p, 0, 4))))
    const before = store.calls.putIfAbsent
    await Promise.all(staged.map((s, p) => sink.commit(tableId, [s], { [`clicks/${p}`]: 1 }, {})))
    // One metadata version per snapshot and not one attempt more: none of them conflicted. The
    // first commit starts alone; the four made while it is in flight land together after it.
    const snapshots = listSnapshots(await loadTable(store, tableId)).length
    assert.equal(store.calls.putIfAbsent - before, snapshots)
    assert.equal(snapshots, 2)
    assert.equal(await rowCount(store, tableId), 20)
  })

  void test('refreshing an unchanged table costs two small GETs; a changed one is read forward', async () => {
    const store = new CountingStore()
    const sink = new IcebergOfflineSink(store)
    const tableId = sink.tableId({ kind: 'archive', topic: TOPIC })
    await sink.commit(tableId, [await sink.stageArchiveRows(TOPIC, archiveRows(0, 0, 2))], { 'clicks/0': 1 }, {})
    const held = await loadTable(store, tableId)
    const gets = store.calls.get
    assert.equal(await refreshTable(held), held)
    // The probe for a newer version, and the hint: snapshot expiry deletes old versions, so a
    // missing next version is the newest only when the hint is not ahead (iceberg-table.ts).
    assert.equal(store.calls.get - gets, 2)
    await sink.commit(tableId, [await sink.stageArchiveRows(TOPIC, archiveRows(0, 2, 2))], { 'clicks/0': 2 }, {})
    await sink.commit(tableId, [await sink.stageArchiveRows(TOPIC, archiveRows(0, 4, 2))], { 'clicks/0': 3 }, {})
    const fresh = await refreshTable(held)
    assert.equal(fresh.version, held.version + 2)
    assert.equal(listSnapshots(fresh).length, 3)
  })

  void test('a commit after the sink’s own reads three small objects (no manifest list) and keeps every file', async () => {
    const store = new CountingStore()
    const sink = new IcebergOfflineSink(store)
    const tableId = sink.tableId({ kind: 'archive', topic: TOPIC })
    await sink.commit(tableId, [await sink.stageArchiveRows(TOPIC, archiveRows(0, 0, 3))], { 'clicks/0': 1 }, {})
    for (let seq = 2; seq <= 4; seq++) {
      const staged = await sink.stageArchiveRows(TOPIC, archiveRows(0, 3 * seq, 3))
      const gets = store.calls.get
      await sink.commit(tableId, [staged], { 'clicks/0': seq }, {})
      // The probe for a newer metadata version and the hint (refreshTable), and the version hint
      // again before it moves forward.
      assert.equal(store.calls.get - gets, 3)
    }
    const table = await loadTable(store, tableId)
    assert.equal((await dataFilesOf(table)).length, 4)
    assert.equal(await rowCount(store, tableId), 12)
  })
})
