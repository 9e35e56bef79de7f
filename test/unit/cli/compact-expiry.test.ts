/**
 * `kfs compact` expires old snapshots after compacting (docs/semantics.md §23): with a retention
 * of 1 ms and a minimum of one, the feature table and its topic's archive keep little more than
 * their current snapshot — but the snapshot a recorded training set pinned stays and reads the
 * same rows. `--no-expire` keeps every snapshot.
 */
import assert from 'node:assert/strict'
import { rm } from 'node:fs/promises'
import { after, before, test } from 'node:test'
import { MemoryObjectStore } from '../../../adapters/object-store/index.ts'
import { IcebergOfflineSink } from '../../../adapters/offline/iceberg/offline-sink.ts'
import { userPurchases } from '../../../examples/with-new-view.ts'
import { trainingSetKeys } from '../../../training/records.ts'
import { buildReadBaseline, type ReadBaseline } from '../../support/read-command-baseline.ts'
import { compactBaseline, userPurchasesRows, type CliRun } from '../../support/compact-cli.ts'

const FEATURE = { kind: 'feature', view: userPurchases } as const
const ARCHIVE = { kind: 'archive', topic: userPurchases.source.topic } as const

let baseline: ReadBaseline
before(async () => {
  baseline = await buildReadBaseline()
})
after(() => rm(baseline.dir, { recursive: true, force: true }))

/** `kfs compact <extra>` over a copy of the baseline in `storage`, with a retention of 1 ms and a minimum of one snapshot. */
const compact = (storage: MemoryObjectStore, extra: readonly string[]): Promise<CliRun> =>
  compactBaseline(baseline, storage, extra, { KFS_SNAPSHOT_RETENTION_MS: '1', KFS_SNAPSHOT_MIN_KEEP: '1' })

async function storeOfBaseline(): Promise<{ storage: MemoryObjectStore; sink: IcebergOfflineSink }> {
  const storage = new MemoryObjectStore()
  for (const [key, body] of baseline.objects) await storage.put(key, body)
  return { storage, sink: new IcebergOfflineSink(storage, { parquetWorker: false }) }
}

void test('kfs compact expires old snapshots of the feature table and the archive, keeping a training set’s pin', async () => {
  const { storage, sink } = await storeOfBaseline()
  const featureTable = sink.tableId(FEATURE)
  const archiveTable = sink.tableId(ARCHIVE)
  const snapshots = await sink.snapshots(featureTable)
  const archiveBefore = (await sink.snapshots(archiveTable)).length
  assert.ok(
    snapshots.length > 3 && archiveBefore > 3,
    `${snapshots.length} feature and ${archiveBefore} archive snapshots to start with`,
  )
  const pinned = snapshots[1]!.snapshotId
  const pinnedRows = await userPurchasesRows(storage, pinned)
  const currentRows = await userPurchasesRows(storage)
  // A recorded training set that read the table at its second snapshot.
  const record = {
    id: '00000000000000aa',
    views: [{ name: userPurchases.name, version: userPurchases.version, hash: 'h', table: featureTable, snapshotId: pinned }],
  }
  await storage.put(trainingSetKeys.record(record.id), new TextEncoder().encode(JSON.stringify(record)))

  const run = await compact(storage, [])
  assert.equal(run.code, 0, run.stderr)
  assert.match(run.stdout, new RegExp(`${featureTable}: \\d+ snapshots expired`))
  const after = (await sink.snapshots(featureTable)).map((s) => s.snapshotId)
  assert.ok(after.includes(pinned), 'the pinned snapshot stays')
  // The pin, and the replace compaction committed (its parent too, if superseded within the millisecond).
  assert.ok(after.length <= 3, `kept ${after.length} of ${snapshots.length + 1}`)
  assert.equal(await userPurchasesRows(storage, pinned), pinnedRows)
  assert.equal(await userPurchasesRows(storage), currentRows)
  assert.ok((await sink.snapshots(archiveTable)).length <= 2, 'the archive expired too')
})

void test('kfs compact --no-expire keeps every snapshot', async () => {
  const { storage, sink } = await storeOfBaseline()
  const featureTable = sink.tableId(FEATURE)
  const before = (await sink.snapshots(featureTable)).length
  const archiveBefore = (await sink.snapshots(sink.tableId(ARCHIVE))).length
  const run = await compact(storage, ['--no-expire'])
  assert.equal(run.code, 0, run.stderr)
  assert.doesNotMatch(run.stdout, /expired/)
  assert.equal((await sink.snapshots(featureTable)).length, before + 1, 'one replace snapshot more, none gone')
  assert.equal((await sink.snapshots(sink.tableId(ARCHIVE))).length, archiveBefore)
})

void test('kfs compact under a one-day retention keeps only the newest KFS_SNAPSHOT_MAX_KEEP young snapshots (and a pin)', async () => {
  const { storage, sink } = await storeOfBaseline()
  const featureTable = sink.tableId(FEATURE)
  const before = await sink.snapshots(featureTable)
  assert.ok(before.length > 4, `${before.length} feature snapshots to start with`)
  const pinned = before[0]!.snapshotId
  const pinnedRows = await userPurchasesRows(storage, pinned)
  const record = {
    id: '00000000000000ab',
    views: [{ name: userPurchases.name, version: userPurchases.version, hash: 'h', table: featureTable, snapshotId: pinned }],
  }
  await storage.put(trainingSetKeys.record(record.id), new TextEncoder().encode(JSON.stringify(record)))
  // Every snapshot here is minutes old: the age alone keeps them all.
  const run = await compactBaseline(baseline, storage, [], {
    KFS_SNAPSHOT_RETENTION_MS: '1d',
    KFS_SNAPSHOT_MIN_KEEP: '1',
    KFS_SNAPSHOT_MAX_KEEP: '2',
  })
  assert.equal(run.code, 0, run.stderr)
  const after = (await sink.snapshots(featureTable)).map((s) => s.snapshotId)
  // The compaction's replace snapshot and its parent (the newest two), and the pin.
  assert.deepEqual(after, [pinned, before.at(-1)!.snapshotId, after.at(-1)!])
  assert.equal(await userPurchasesRows(storage, pinned), pinnedRows)
  assert.ok((await sink.snapshots(sink.tableId(ARCHIVE))).length <= 2, 'the archive keeps the newest two')
})
