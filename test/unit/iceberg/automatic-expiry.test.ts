/**
 * The sink's automatic snapshot expiry (adapters/offline/iceberg/automatic-expiry.ts): every
 * `everyCommits` commits of a table the sink expires at most `maxExpired` of its old snapshots,
 * queued before the table's next commit; the rows and checkpoint markers stay as they were, and a
 * failing expiry is reported, never a failed commit.
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { MemoryObjectStore } from '../../../adapters/object-store/index.ts'
import { loadTable, readRows } from '../../../adapters/offline/iceberg/index.ts'
import type { AutomaticExpiry } from '../../../adapters/offline/iceberg/automatic-expiry.ts'
import { IcebergOfflineSink } from '../../../adapters/offline/iceberg/offline-sink.ts'
import type { Clock } from '../../../core/clock.ts'
import { archiveRows } from '../../support/archive-rows.ts'

const TOPIC = 'clicks'

/**
 * A second passes at every reading: each commit's snapshot is older than the next. It starts a day
 * ahead: the sink creates its tables on the system clock, and commits never go back before that.
 */
function tickingClock(): Clock {
  let now = Date.now() + 86_400_000
  return { nowMs: () => (now += 1_000), sleep: () => new Promise((r) => setImmediate(r)) }
}

async function commitN(sink: IcebergOfflineSink, tableId: string, from: number, to: number): Promise<void> {
  for (let seq = from; seq <= to; seq++)
    await sink.commit(tableId, [await sink.stageArchiveRows(TOPIC, archiveRows(2 * seq, 2 * seq + 2))], { 'clicks/0': seq }, {})
}

void describe('sinks > iceberg > automatic snapshot expiry', () => {
  void test('every N commits at most M old snapshots expire; rows and markers stay', async () => {
    const store = new MemoryObjectStore()
    const errors: unknown[] = []
    const expiry: AutomaticExpiry = {
      everyCommits: 10,
      maxExpired: 5,
      retention: () => Promise.resolve({ maxAgeMs: 1, minSnapshots: 3 }),
      onError: (err) => errors.push(err),
    }
    const sink = new IcebergOfflineSink(store, { clock: tickingClock(), parquetWorker: false, snapshotExpiry: expiry })
    const tableId = sink.tableId({ kind: 'archive', topic: TOPIC })
    await commitN(sink, tableId, 1, 9)
    assert.equal((await loadTable(store, tableId)).metadata.snapshots.length, 9, 'nothing expires before the 10th commit')
    // Expiry after the 10th, 20th and 30th commits, each of the 5 oldest due; the 31st commit waits for the last.
    await commitN(sink, tableId, 10, 31)
    const table = await loadTable(store, tableId)
    assert.equal(table.metadata.snapshots.length, 31 - 3 * 5)
    let rows = 0
    for await (const _row of readRows(table)) rows++
    assert.equal(rows, 62)
    const snapshots = await sink.snapshots(tableId)
    assert.deepEqual(
      snapshots.map((s) => s.markers['clicks/0']),
      Array.from({ length: 16 }, (_, i) => 16 + i),
    )
    assert.deepEqual(errors, [])
    // A held checkpoint is still recognised after expiry: nothing new committed.
    await commitN(sink, tableId, 31, 31)
    assert.equal((await loadTable(store, tableId)).metadata.snapshots.length, 16)
  })

  void test('an expiry that fails is reported and the commits go on', async () => {
    const store = new MemoryObjectStore()
    const failures: string[] = []
    const expiry: AutomaticExpiry = {
      everyCommits: 2,
      maxExpired: 100,
      retention: () => Promise.reject(new Error('the registry cannot be read')),
      onError: (err, table) => failures.push(`${table}: ${(err as Error).message}`),
    }
    const sink = new IcebergOfflineSink(store, { clock: tickingClock(), parquetWorker: false, snapshotExpiry: expiry })
    const tableId = sink.tableId({ kind: 'archive', topic: TOPIC })
    await commitN(sink, tableId, 1, 5)
    assert.equal((await loadTable(store, tableId)).metadata.snapshots.length, 5)
    assert.deepEqual(failures, [`${tableId}: the registry cannot be read`, `${tableId}: the registry cannot be read`])
  })
})
