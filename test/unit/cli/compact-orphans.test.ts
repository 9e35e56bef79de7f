/**
 * `kfs compact --remove-orphans` (docs/semantics.md §25) over the read-command baseline, every
 * object of it written four days ago: per table, the files no metadata names and older than
 * KFS_ORPHAN_MIN_AGE_MS (3 days) go — in text and `--json` output — while a younger one, a file
 * a published checkpoint record staged, and every file the tables name stay; `--dry-run` reports
 * the same and deletes nothing; `--dry-run` alone is a usage error (exit 2); a damaged table fails
 * the command (exit 1) with nothing of it deleted.
 */
import assert from 'node:assert/strict'
import { rm } from 'node:fs/promises'
import { after, before, test } from 'node:test'
import { MemoryObjectStore } from '../../../adapters/object-store/index.ts'
import { loadTable } from '../../../adapters/offline/iceberg/iceberg-table.ts'
import { keyOfStoreUri } from '../../../ports/object-store-keys.ts'
import { IcebergOfflineSink } from '../../../adapters/offline/iceberg/offline-sink.ts'
import { userPurchases } from '../../../examples/with-new-view.ts'
import { buildReadBaseline, type ReadBaseline } from '../../support/read-command-baseline.ts'
import { compactBaseline, userPurchasesRows, type CliRun } from '../../support/compact-cli.ts'

const DAY = 86_400_000
const sink0 = new IcebergOfflineSink(new MemoryObjectStore(), { parquetWorker: false })
const FEATURE_TABLE = sink0.tableId({ kind: 'feature', view: userPurchases })
const ARCHIVE_TABLE = sink0.tableId({ kind: 'archive', topic: userPurchases.source.topic })
const OLD_ORPHAN = `${FEATURE_TABLE}/data/old-orphan.parquet`
const OLD_ARCHIVE_ORPHAN = `${ARCHIVE_TABLE}/metadata/old-orphan-m0.avro`
const YOUNG = `${FEATURE_TABLE}/data/young.parquet`
const STAGED = `${FEATURE_TABLE}/data/staged-by-a-record.parquet`

let baseline: ReadBaseline
before(async () => {
  baseline = await buildReadBaseline()
})
after(() => rm(baseline.dir, { recursive: true, force: true }))

/** The baseline's objects and the test's strays, stamped four days ago; then one young stray. */
async function storeOfBaseline(): Promise<MemoryObjectStore> {
  let stamp: number | undefined = Date.now() - 4 * DAY
  const storage = new MemoryObjectStore('memory://kfs', { nowMs: () => stamp ?? Date.now() })
  for (const [key, body] of baseline.objects) await storage.put(key, body)
  await storage.put(OLD_ORPHAN, new Uint8Array(10))
  await storage.put(OLD_ARCHIVE_ORPHAN, new Uint8Array(20))
  await storage.put(STAGED, new Uint8Array(30))
  const record = { seq: 1, topic: 't', partition: 0, nextOffset: '1', views: [], createdAtMs: 0, watermarkMs: null }
  const staged = [{ table: FEATURE_TABLE, files: [{ filePath: storage.uriOf(STAGED) }], rowCount: 1 }]
  await storage.put(
    'checkpoints/crashed/t/0/ckpt-000000000001.json',
    new TextEncoder().encode(JSON.stringify({ ...record, staged })),
  )
  stamp = undefined
  await storage.put(YOUNG, new Uint8Array(40))
  return storage
}

const compact = (storage: MemoryObjectStore, extra: readonly string[], json = false): Promise<CliRun> =>
  compactBaseline(baseline, storage, [...extra, ...(json ? ['--json'] : [])])

void test('kfs compact --remove-orphans deletes the old unnamed files of each table, and says so per table', async () => {
  const storage = await storeOfBaseline()
  const rows = await userPurchasesRows(storage)
  const run = await compact(storage, ['--remove-orphans'])
  assert.equal(run.code, 0, run.stderr)
  assert.match(
    run.stdout,
    new RegExp(
      `${FEATURE_TABLE}: 1 orphan files \\(10 bytes\\): 1 deleted \\(10 bytes\\), 1 unnamed files kept \\(written less than 3d ago\\)`,
    ),
  )
  assert.match(run.stdout, new RegExp(`${ARCHIVE_TABLE}: 1 orphan files \\(20 bytes\\): 1 deleted \\(20 bytes\\)\n`))
  assert.equal(await storage.get(OLD_ORPHAN), undefined)
  assert.equal(await storage.get(OLD_ARCHIVE_ORPHAN), undefined)
  assert.ok(await storage.get(YOUNG), 'a young unnamed file stays')
  assert.ok(await storage.get(STAGED), 'a file a published checkpoint record staged stays')
  assert.equal(await userPurchasesRows(storage), rows)
})

void test('kfs compact --remove-orphans --dry-run --json reports per table and deletes nothing', async () => {
  const storage = await storeOfBaseline()
  const objects = await storage.list('')
  const run = await compact(storage, ['--remove-orphans', '--dry-run', '--no-expire'], true)
  assert.equal(run.code, 0, run.stderr)
  const out = JSON.parse(run.stdout) as { compacted: unknown[]; orphans: Record<string, unknown>[] }
  // The view's table, then its topic's archive.
  assert.deepEqual(
    out.compacted.map((c) => Object.keys(c as object)[0]),
    ['view', 'archive'],
  )
  assert.deepEqual(out.orphans, [
    {
      table: FEATURE_TABLE,
      dryRun: true,
      orphanFiles: 1,
      orphanBytes: 10,
      deletedFiles: 0,
      deletedBytes: 0,
      keptTooYoung: 1,
      failedDeletes: 0,
    },
    {
      table: ARCHIVE_TABLE,
      dryRun: true,
      orphanFiles: 1,
      orphanBytes: 20,
      deletedFiles: 0,
      deletedBytes: 0,
      keptTooYoung: 0,
      failedDeletes: 0,
    },
  ])
  const now = await storage.list('')
  assert.deepEqual(
    objects.filter((k) => !now.includes(k)),
    [],
    'no object deleted (the compaction only adds)',
  )
})

void test('kfs compact --dry-run without --remove-orphans is a usage error (exit 2)', async () => {
  const storage = await storeOfBaseline()
  const objects = await storage.list('')
  const run = await compact(storage, ['--dry-run'])
  assert.equal(run.code, 2)
  assert.match(run.stderr, /--dry-run needs --remove-orphans/)
  assert.deepEqual(await storage.list(''), objects)
})

void test('kfs compact --remove-orphans over a table with a manifest list missing fails naming it, and deletes none of its files', async () => {
  const storage = await storeOfBaseline()
  const table = await loadTable(storage, FEATURE_TABLE)
  // An older snapshot's: compaction reads only the current one, so the clean-up is what meets it.
  const list = table.metadata.snapshots[0]!['manifest-list']
  assert.ok(table.metadata.snapshots.length > 1)
  await storage.delete(keyOfStoreUri(storage, list))
  const run = await compact(storage, ['--remove-orphans', '--no-expire'])
  assert.equal(run.code, 1)
  assert.ok(run.stderr.includes(`manifest list ${list} is missing`), run.stderr)
  assert.ok(await storage.get(OLD_ORPHAN), 'nothing of the damaged table deleted')
})
