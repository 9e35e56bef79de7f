/**
 * The feature table's writer facts (adapters/offline/iceberg/writer-facts.ts): recorded in each
 * snapshot's summary, carried forward, dropped for good once a commit cannot vouch for them, kept
 * by compaction; and what pinning makes of them with the files' bounds (TieKeyBounds).
 */
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, test } from 'node:test'
import { MemoryObjectStore } from '../../../adapters/object-store/index.ts'
import { dataFilesOf, listSnapshots, loadTable } from '../../../adapters/offline/iceberg/index.ts'
import { featureTablePath, IcebergOfflineSink } from '../../../adapters/offline/iceberg/offline-sink.ts'
import { currentSchema } from '../../../adapters/offline/iceberg/table-metadata.ts'
import { AS_OF_WHOLE_MS_KEY, SEQ_INDEX_BITS_KEY, TIE_FREE_KEY, tieKeyBoundsOf, writerFactsSummary } from '../../../adapters/offline/iceberg/writer-facts.ts'
import * as examples from '../../../examples/features.ts'
import type { OfflineFeatureRow, StagedFiles } from '../../../ports/offline.ts'

const DAY = 86_400_000
const T0 = Date.UTC(2024, 0, 10)
const view = examples.userClicks

function row(entity: string, asOfMs: number, offset: number, rowIndex = 0): OfflineFeatureRow {
  return {
    entityKey: entity,
    asOfMs,
    createdAtMs: asOfMs + 1,
    values: view.features.map(() => null),
    origin: { partition: 0, offset: String(offset), seq: rowIndex, marker: false },
  }
}

const dirs: string[] = []
after(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true })
})

async function commit(sink: IcebergOfflineSink, staged: StagedFiles): Promise<void> {
  await sink.commit(featureTablePath(view), [staged], {}, {})
}

async function summaries(store: MemoryObjectStore): Promise<Readonly<Record<string, string>>[]> {
  return listSnapshots(await loadTable(store, featureTablePath(view))).map((s) => s.summary)
}

const facts = (summary: Readonly<Record<string, string>>) => [summary[AS_OF_WHOLE_MS_KEY], summary[SEQ_INDEX_BITS_KEY]]

async function pin(sink: IcebergOfflineSink, snapshotId?: string) {
  const dir = await mkdtemp(join(tmpdir(), 'kfs-writer-facts-'))
  dirs.push(dir)
  return sink.pinFeatureFiles(view, { snapshotId, tempDir: dir })
}

void describe('iceberg > writer facts', () => {
  void test('each commit records them, the row index width growing as the largest index does', async () => {
    const store = new MemoryObjectStore()
    const sink = new IcebergOfflineSink(store, { parquetWorker: false })
    await commit(sink, await sink.stageFeatureRows(view, [row('u1', T0, 7), row('u2', T0 + DAY, 8)]))
    await commit(sink, await sink.stageFeatureRows(view, [row('u1', T0 + 5, 9, 0), row('u1', T0 + 6, 9, 5)]))
    await commit(sink, await sink.stageFeatureRows(view, [row('u3', T0 - 3 * DAY, 10, 1)]))
    // An index past 2^21 − 1 is stored saturated (archiveSeq), so 21 bits hold it.
    await commit(sink, await sink.stageFeatureRows(view, [row('u3', T0 + 2 * DAY, 11, 5_000_000)]))
    assert.deepEqual((await summaries(store)).map(facts), [
      ['true', '0'],
      ['true', '3'],
      ['true', '3'],
      ['true', '21'],
    ])
  })

  void test('pinning gives the spans of as_of and seq from the bounds, per snapshot', async () => {
    const store = new MemoryObjectStore()
    const sink = new IcebergOfflineSink(store, { parquetWorker: false })
    await commit(sink, await sink.stageFeatureRows(view, [row('u1', T0, 7), row('u2', T0 + DAY, 8, 2)]))
    const first = await pin(sink)
    await commit(sink, await sink.stageFeatureRows(view, [row('u1', -DAY - 3, 3, 9)]))
    assert.deepEqual(first.tieKeyBounds, {
      asOfMinMs: T0,
      asOfMaxMs: T0 + DAY,
      seq: { min: 7n << 21n, max: (8n << 21n) + 2n },
      seqIndexBits: 2,
      seqNullFree: true,
      // No two rows share (entity, as_of) so far (tie-free-fact.test.ts); the next commit, reaching
      // back before this one's rows, drops that fact.
      tieFree: true,
    })
    // Before 1970 too; an older snapshot keeps its own facts and spans.
    assert.deepEqual((await pin(sink)).tieKeyBounds, {
      asOfMinMs: -DAY - 3,
      asOfMaxMs: T0 + DAY,
      seq: { min: (3n << 21n) + 9n, max: (8n << 21n) + 2n },
      seqIndexBits: 4,
      seqNullFree: true,
    })
    assert.deepEqual((await pin(sink, first.snapshotId!)).tieKeyBounds, first.tieKeyBounds)
  })

  void test('seqNullFree only when every pinned file counts 0 null seqs (a missing count is not 0)', async () => {
    const store = new MemoryObjectStore()
    const sink = new IcebergOfflineSink(store, { parquetWorker: false })
    await commit(sink, await sink.stageFeatureRows(view, [row('u1', T0, 7)]))
    await commit(sink, await sink.stageFeatureRows(view, [row('u2', T0 + DAY, 8)]))
    const table = await loadTable(store, featureTablePath(view))
    const snapshot = listSnapshots(table).at(-1)!
    const schema = currentSchema(table.metadata)
    const seqId = schema.fields.find((f) => f.name === 'seq')!.id
    const files = await dataFilesOf(table)
    assert.equal(files.length, 2)
    assert.equal(tieKeyBoundsOf(schema, snapshot.summary, files)?.seqNullFree, true)
    const withCount = (n: number | undefined) => {
      const counts = new Map(files[1]!.nullValueCounts)
      if (n === undefined) counts.delete(seqId)
      else counts.set(seqId, n)
      return [files[0]!, { ...files[1]!, nullValueCounts: counts }]
    }
    const someNull = tieKeyBoundsOf(schema, snapshot.summary, withCount(1))
    assert.ok(someNull !== undefined && !('seqNullFree' in someNull), 'a file with a null seq')
    const unknown = tieKeyBoundsOf(schema, snapshot.summary, withCount(undefined))
    assert.ok(unknown !== undefined && !('seqNullFree' in unknown), 'a file without a null count for seq')
  })

  void test('a file staged without the facts (an earlier kfs) drops them, and they stay dropped', async () => {
    const store = new MemoryObjectStore()
    const sink = new IcebergOfflineSink(store, { parquetWorker: false })
    await commit(sink, await sink.stageFeatureRows(view, [row('u1', T0, 1)]))
    const staged = await sink.stageFeatureRows(view, [row('u1', T0 + 1, 2)])
    const older: StagedFiles = {
      ...staged,
      files: staged.files.map((f) => ({ ...(f as Record<string, unknown>), largestRowIndex: undefined })),
    }
    await commit(sink, older)
    await commit(sink, await sink.stageFeatureRows(view, [row('u1', T0 + 2, 3)]))
    assert.deepEqual((await summaries(store)).map(facts), [
      ['true', '0'],
      [undefined, undefined],
      [undefined, undefined],
    ])
    const pinned = await pin(sink)
    assert.equal(pinned.files.length, 3)
    assert.equal(pinned.tieKeyBounds, undefined, 'a table without the facts gives no bounds: the join keeps the 128-bit key')
  })

  void test('compaction keeps them (same rows); archive tables never get them', async () => {
    const store = new MemoryObjectStore()
    const sink = new IcebergOfflineSink(store, { parquetWorker: false })
    for (let i = 0; i < 3; i++) await commit(sink, await sink.stageFeatureRows(view, [row(`u${i}`, T0 + i, i, i)]))
    const before = await pin(sink)
    const result = await sink.compactFeatureTable(view, { olderThanDay: Math.floor(T0 / DAY) + 1 })
    assert.equal(result.removedFiles, 3)
    const last = (await summaries(store)).at(-1)!
    assert.equal(last.operation, 'replace')
    assert.deepEqual(facts(last), ['true', '2'])
    const after = await pin(sink)
    assert.equal(after.files.length, 1)
    assert.deepEqual(after.tieKeyBounds, before.tieKeyBounds)

    const topic = 'clicks'
    await sink.commit(sink.tableId({ kind: 'archive', topic }), [await sink.stageArchiveRows(topic, [])], {}, {})
    const archive = listSnapshots(await loadTable(store, sink.tableId({ kind: 'archive', topic })))
    assert.deepEqual(
      archive.map((s) => facts(s.summary)),
      [[undefined, undefined]],
    )
  })

  void test('the summary rule: none before a first commit, the parent must have them, every file must vouch', () => {
    assert.deepEqual(writerFactsSummary(undefined, []), { [AS_OF_WHOLE_MS_KEY]: 'true', [SEQ_INDEX_BITS_KEY]: '0', [TIE_FREE_KEY]: 'none' })
    assert.deepEqual(writerFactsSummary({ [AS_OF_WHOLE_MS_KEY]: 'true', [SEQ_INDEX_BITS_KEY]: '4' }, [1]), {
      [AS_OF_WHOLE_MS_KEY]: 'true',
      [SEQ_INDEX_BITS_KEY]: '4',
    })
    assert.deepEqual(writerFactsSummary({ [AS_OF_WHOLE_MS_KEY]: 'true', [SEQ_INDEX_BITS_KEY]: '4' }, [16, 0]), {
      [AS_OF_WHOLE_MS_KEY]: 'true',
      [SEQ_INDEX_BITS_KEY]: '5',
    })
    assert.deepEqual(writerFactsSummary({ 'total-records': '3' }, [0]), {}, 'a parent written without them')
    assert.deepEqual(writerFactsSummary({ [AS_OF_WHOLE_MS_KEY]: 'true' }, [0]), {}, 'half the facts are none')
    assert.deepEqual(writerFactsSummary(undefined, [0, undefined]), {}, 'one file staged without them')
  })
})
