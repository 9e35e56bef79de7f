/**
 * `kfs compact` over a topic's raw archive on MinIO (the dev stack's KFS_S3_* env): an archive as
 * the engine leaves it (a file per partition per checkpoint, with idle markers) is merged, every partition reads the same
 * records and markers in the same order at the new snapshot and at the one before, where each
 * ends is unchanged, the JSON summary names the archive, and a second run has nothing to do.
 */
import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { IcebergOfflineSink } from '../../../adapters/offline/iceberg/offline-sink.ts'
import { archiveTablePath } from '../../../adapters/offline/iceberg/table-paths.ts'
import { loadTable, dataFilesOf } from '../../../adapters/offline/iceberg/index.ts'
import { purchases } from '../../../examples/features.ts'
import type { ArchiveRow } from '../../../ports/offline.ts'
import type { S3ObjectStore } from '../../../adapters/object-store/s3/s3-object-store.ts'
import { compactBaseline } from '../../support/compact-cli.ts'
import { buildReadBaseline } from '../../support/read-command-baseline.ts'
import type { ReadBaseline } from '../../support/read-command-baseline.ts'
import { makeS3Store, requireS3Env } from '../object-store/s3-env.ts'
import { rm } from 'node:fs/promises'

let baseline: ReadBaseline
let store: S3ObjectStore

before(async () => {
  baseline = await buildReadBaseline()
  store = makeS3Store(requireS3Env(), 'archive-compact')
  // The baseline's registry; its tables name the in-memory store, so the archive is written here afresh.
  for (const [key, body] of baseline.objects) if (key.startsWith('registry/')) await store.put(key, body)
  const sink = new IcebergOfflineSink(store, { parquetWorker: false })
  const next = new Map<number, number>()
  for (let checkpoint = 1; checkpoint <= 6; checkpoint++)
    for (let partition = 0; partition < purchases.partitions; partition++) {
      const rows = checkpointRows(partition, next.get(partition) ?? 0, checkpoint)
      next.set(partition, Number(rows.at(-1)!.offset))
      const staged = await sink.stageArchiveRows(purchases.topic, rows)
      await sink.commit(
        sink.tableId({ kind: 'archive', topic: purchases.topic }),
        [staged],
        { [`kfs-engine/${purchases.topic}/${partition}`]: checkpoint },
        {},
      )
    }
})

/** A checkpoint's archive rows: records (one a tombstone, one not Avro), then an idle marker at the next offset. */
function checkpointRows(partition: number, from: number, checkpoint: number): ArchiveRow[] {
  const records = Array.from({ length: 3 + checkpoint }, (_, i): ArchiveRow => {
    const offset = from + i
    return {
      partition,
      offset: String(offset),
      eventTimeMs: 1_767_225_600_000 + offset * 1000,
      key: Buffer.from(`u${offset % 7}`),
      schemaId: i === 1 ? null : 1,
      payload: i === 0 ? null : i === 1 ? Buffer.from('not avro') : Buffer.from([0, 0, 0, 0, 1, offset & 0xff]),
      markerWatermarkMs: null,
      timestampMs: 1_767_225_600_000 + offset,
    }
  })
  const next = from + records.length
  return [
    ...records,
    {
      partition,
      offset: String(next),
      eventTimeMs: null,
      key: null,
      schemaId: null,
      payload: null,
      markerWatermarkMs: 1_767_225_600_000 + next,
      timestampMs: -1,
    },
  ]
}

after(async () => {
  for (const key of await store.list('')) await store.delete(key)
  store.close()
  await rm(baseline.dir, { recursive: true, force: true })
})

async function archive(sink: IcebergOfflineSink, snapshotId?: string): Promise<string[][]> {
  const out: string[][] = []
  for (let p = 0; p < purchases.partitions; p++) {
    const rows: string[] = []
    for await (const r of sink.readArchive(purchases.topic, p, snapshotId === undefined ? {} : { snapshotId }))
      rows.push(
        JSON.stringify({
          ...r,
          key: r.key && Buffer.from(r.key).toString('hex'),
          payload: r.payload && Buffer.from(r.payload).toString('hex'),
        }),
      )
    out.push(rows)
  }
  return out
}

const files = async (): Promise<number> => (await dataFilesOf(await loadTable(store, archiveTablePath(purchases.topic)))).length

void test('kfs compact merges the archive on MinIO: the same rows in the same order, then nothing to do', async () => {
  const sink = new IcebergOfflineSink(store, { parquetWorker: false })
  const end = await sink.archiveEnd(purchases.topic)
  const rows = await archive(sink)
  const filesBefore = await files()
  assert.ok(rows.flat().length > 0 && filesBefore > purchases.partitions, `${filesBefore} archive files to merge`)

  const run = await compactBaseline(baseline, store, ['--older-than', '1ms', '--no-expire', '--json'])
  assert.equal(run.code, 0, run.stderr)
  const archived = (JSON.parse(run.stdout) as Record<string, unknown>[]).find((r) => r.archive === purchases.topic)
  assert.ok(
    archived !== undefined && archived.status === 'committed' && Number(archived.removedFiles) === filesBefore,
    run.stdout,
  )
  assert.ok(Number(archived.addedFiles) >= 1 && Number(archived.addedFiles) <= purchases.partitions, run.stdout)
  assert.equal(await files(), Number(archived.addedFiles), 'the archive holds the merged files alone')

  const fresh = new IcebergOfflineSink(store, { parquetWorker: false })
  assert.deepEqual(await archive(fresh), rows, 'each partition reads the same rows in the same order')
  assert.deepEqual(await archive(fresh, end.snapshotId!), rows, 'the snapshot before still reads as it did')
  assert.deepEqual((await fresh.archiveEnd(purchases.topic)).nextOffsets, end.nextOffsets, 'where each partition ends')

  const again = await compactBaseline(baseline, store, ['--older-than', '1ms', '--no-expire', '--json'])
  assert.equal(again.code, 0, again.stderr)
  const second = (JSON.parse(again.stdout) as Record<string, unknown>[]).find((r) => r.archive === purchases.topic)
  assert.deepEqual(second, { archive: purchases.topic, removedFiles: 0, addedFiles: 0, status: 'nothing to compact' })
})
