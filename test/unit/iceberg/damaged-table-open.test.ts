/**
 * The engine's offline sink opens a table creating it when there is none, and reads a topic's
 * archive as empty when there is none. A table whose metadata cannot be found while its files are
 * there (metadata deleted, or answered "not found") is not "none": creating a table over it, or
 * reading it as no archive, would make its history read as gone — an archive a backfill then calls
 * complete with no records, a feature table whose rows a training set no longer sees. Every open and
 * archive read refuses it naming the table and writes nothing, and so do the readers of its
 * snapshots, rows and statistics; a table with only its version hint gone, and creators racing on a
 * new table, still open.
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { FeatureStoreError } from '../../../core/errors.ts'
import { userPurchases } from '../../../examples/features.ts'
import { MemoryObjectStore } from '../../../adapters/object-store/index.ts'
import { IcebergOfflineSink, archiveTablePath, featureTablePath } from '../../../adapters/offline/iceberg/offline-sink.ts'
import { archiveRows as rows } from '../../support/archive-rows.ts'

const TOPIC = 'purchases'

/** The two tables an engine opens: the raw archive (two commits) and a view's feature table. */
async function tables(): Promise<{ store: MemoryObjectStore; paths: Record<'archive' | 'feature table', string> }> {
  const store = new MemoryObjectStore()
  const sink = new IcebergOfflineSink(store, { parquetWorker: false })
  const archive = sink.tableId({ kind: 'archive', topic: TOPIC })
  await sink.commit(archive, [await sink.stageArchiveRows(TOPIC, rows(0, 10))], { 'g/purchases/0': 1 }, {})
  await sink.commit(archive, [await sink.stageArchiveRows(TOPIC, rows(10, 20))], { 'g/purchases/0': 2 }, {})
  await sink.featureTable(userPurchases)
  // A feature table's data file: what makes its metadata's loss damage, not absence.
  await store.put(`${featureTablePath(userPurchases)}/data/as_of_day=2026-01-01/part-0.parquet`, Uint8Array.of(1, 2, 3))
  return { store, paths: { archive: archiveTablePath(TOPIC), 'feature table': featureTablePath(userPurchases) } }
}

/** Each way a table's metadata goes missing while its other files stay (`newest`: its newest metadata file). */
const DAMAGE: readonly [string, (key: string, newest: string) => boolean][] = [
  [
    'every metadata file and the version hint deleted',
    (key) => key.includes('/metadata/') && /\.metadata\.json$|version-hint/.test(key),
  ],
  [
    'the metadata files deleted, the version hint left naming one',
    (key) => key.includes('/metadata/') && key.endsWith('.metadata.json'),
  ],
  ['everything under metadata/ deleted (manifests too)', (key) => key.includes('/metadata/')],
  ['the newest metadata file deleted, the hint naming it', (key, newest) => key === newest],
]

/** The refusal of a damaged table, naming it: files without metadata, or the hinted version gone. */
const isDamaged = (err: unknown, path: string) =>
  err instanceof FeatureStoreError &&
  (err.message.includes(`table ${path} has files but no table metadata`) || err.message.startsWith(`table ${path} is damaged:`))

const open = (sink: IcebergOfflineSink, kind: 'archive' | 'feature table') =>
  kind === 'archive' ? sink.archiveTable(TOPIC) : sink.featureTable(userPurchases)

void describe('offline tables > opening a damaged table', () => {
  for (const kind of ['archive', 'feature table'] as const) {
    for (const [damage, lost] of DAMAGE) {
      void test(`${kind}, ${damage}: refused naming the table, nothing written`, async () => {
        const { store, paths } = await tables()
        const path = paths[kind]
        const keys = await store.list(`${path}/`)
        const version = (key: string) => Number(/\/metadata\/v(\d+)\.metadata\.json$/.exec(key)?.[1] ?? -1)
        const newest = keys.reduce((a, b) => (version(b) > version(a) ? b : a))
        for (const key of keys) if (lost(key, newest)) await store.delete(key)
        const left = await store.list('')
        assert.ok(
          left.some((k) => k.startsWith(`${path}/`)),
          'files of the table are left',
        )
        await assert.rejects(
          open(new IcebergOfflineSink(store, { parquetWorker: false }), kind),
          (err: unknown) => err instanceof FeatureStoreError && isDamaged(err, path),
        )
        assert.deepEqual(await store.list(''), left, 'no table created over it')
        // Read as no snapshots, verify-parity and replay --snapshot-id would call the table missing.
        const lister = new IcebergOfflineSink(store, { parquetWorker: false })
        await assert.rejects(lister.snapshots(path), (err: unknown) => isDamaged(err, path), 'snapshots')
        if (kind === 'feature table') {
          // Read as no rows, replay --online-from-offline reloaded nothing for the view and said so as success.
          await assert.rejects(lister.readFeatureRows(userPurchases), (err: unknown) => isDamaged(err, path), 'readFeatureRows')
          await assert.rejects(lister.featureTableStats(userPurchases), (err: unknown) => isDamaged(err, path), 'featureTableStats')
        }
        if (kind === 'archive') {
          // Read as no archive, a backfill would call the view complete with no history.
          const reader = new IcebergOfflineSink(store, { parquetWorker: false })
          const damaged = (err: unknown) => err instanceof FeatureStoreError && isDamaged(err, path)
          await assert.rejects(reader.archiveEnd(TOPIC), damaged, 'archiveEnd')
          await assert.rejects(
            async () => {
              for await (const _ of reader.readArchive(TOPIC, 0)) void _
            },
            damaged,
            'readArchive',
          )
        }
      })
    }

    void test(`${kind} with only its version hint deleted still opens, at its latest version`, async () => {
      const { store, paths } = await tables()
      const path = paths[kind]
      const before = await open(new IcebergOfflineSink(store, { parquetWorker: false }), kind)
      for (const key of await store.list(`${path}/`)) if (key.includes('version-hint')) await store.delete(key)
      const after = await open(new IcebergOfflineSink(store, { parquetWorker: false }), kind)
      assert.equal(after.metadata['current-snapshot-id'], before.metadata['current-snapshot-id'])
    })
  }

  void test('a hint lagging behind, its version expired, still opens at the newest version', async () => {
    const { store, paths } = await tables()
    const path = paths.archive
    const newest = await new IcebergOfflineSink(store, { parquetWorker: false }).archiveTable(TOPIC)
    assert.ok(newest.version >= 3, 'the archive has several versions')
    await store.put(`${path}/metadata/version-hint.text`, new TextEncoder().encode('1'))
    await store.delete(`${path}/metadata/v1.metadata.json`)
    const opened = await new IcebergOfflineSink(store, { parquetWorker: false }).archiveTable(TOPIC)
    assert.deepEqual(
      [opened.version, opened.metadata['current-snapshot-id']],
      [newest.version, newest.metadata['current-snapshot-id']],
    )
  })

  void test('a topic with no archive at all still reads as no archive, a view with no table as no rows', async () => {
    const reader = new IcebergOfflineSink(new MemoryObjectStore(), { parquetWorker: false })
    assert.deepEqual(await reader.archiveEnd(TOPIC), { snapshotId: null, nextOffsets: {} })
    for await (const _ of reader.readArchive(TOPIC, 0)) assert.fail('no rows')
    assert.deepEqual(await reader.snapshots(archiveTablePath(TOPIC)), [])
    assert.equal((await reader.readFeatureRows(userPurchases)).size, 0)
    assert.equal(await reader.featureTableStats(userPurchases), undefined)
  })

  void test('sinks racing to create a new table all open the one created', async () => {
    const store = new MemoryObjectStore()
    const sinks = Array.from({ length: 4 }, () => new IcebergOfflineSink(store, { parquetWorker: false }))
    const opened = await Promise.all(sinks.map((sink) => sink.archiveTable(TOPIC)))
    assert.equal(new Set(opened.map((t) => t.metadata['table-uuid'])).size, 1)
  })
})
