/**
 * A manifest merge (adapters/offline/iceberg/manifest-merge.ts) rewrites the table's merged manifest
 * with every merge until it reaches 8 MB, ~40,000 entries: decoding and encoding it took 6 s of
 * synchronous CPU on a loaded machine, on the committing engine's thread, once per hundred commits
 * of the table. Merges and manifest reads now pause between blocks of 1,000 entries; these tests
 * make them pause at every chance (createYielder(0)) and count the event loop's turns, and check
 * that the pauses change nothing the merge writes or the read returns.
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { MemoryObjectStore } from '../../../adapters/object-store/index.ts'
import {
  appendFiles,
  createTable,
  dayPartitionSpec,
  liveEntriesOf,
  writeDataFiles,
  type DataFile,
  type IcebergTable,
} from '../../../adapters/offline/iceberg/index.ts'
import { manifestsOf } from '../../../adapters/offline/iceberg/iceberg-table.ts'
import { keyOfStoreUri } from '../../../ports/object-store-keys.ts'
import { mergeCarriedManifests, MIN_COUNT_TO_MERGE_PROPERTY } from '../../../adapters/offline/iceberg/manifest-merge.ts'
import { decodeManifest } from '../../../adapters/offline/iceberg/manifests.ts'
import { liveEntriesOfManifest } from '../../../adapters/offline/iceberg/table-reader.ts'
import { currentSnapshot, specById } from '../../../adapters/offline/iceberg/table-metadata.ts'
import { createYielder } from '../../../core/event-loop.ts'
import { loopTurnsDuring } from '../../support/loop-turns.ts'
import { clicksSchema } from './clicks-table.ts'

const T0 = Date.UTC(2026, 0, 5)
/** Entries of the big manifest: five blocks of 1,000 and a part. */
const BIG = 5_300
const BLOCKS = Math.ceil(BIG / 1000)
/** Manifests before the merge: the big one and small ones up to the table's min count. */
const MIN_COUNT = 8

/** A table listing one manifest of BIG entries (its first append) and MIN_COUNT − 2 of one entry each after it. */
async function tableWithBigManifest(): Promise<IcebergTable> {
  const schema = clicksSchema()
  let table = await createTable(new MemoryObjectStore(), 'wh/big', {
    schema,
    partitionSpec: dayPartitionSpec(schema, 'as_of'),
    properties: { [MIN_COUNT_TO_MERGE_PROPERTY]: String(MIN_COUNT) },
  })
  const [file] = await writeDataFiles(table, [{ entity_key: 'k', as_of: T0, clicks: 1 }])
  // The entries of many checkpoints' files; only their manifest entries are read here.
  const many: DataFile[] = Array.from({ length: BIG }, (_, i) => ({
    ...file!,
    filePath: `${file!.filePath}.${i}`,
    recordCount: 1 + (i % 13),
  }))
  table = (await appendFiles(table, many)).table
  for (let i = 0; i < MIN_COUNT - 2; i++)
    table = (await appendFiles(table, await writeDataFiles(table, [{ entity_key: `k${i}`, as_of: T0 + i, clicks: i }]))).table
  return table
}

async function entriesOfManifest(table: IcebergTable, path: string, specId: number): Promise<unknown[]> {
  const bytes = await table.store.get(keyOfStoreUri(table.store, path))
  return decodeManifest(bytes!, specById(table.metadata, specId), path)
}

void describe('manifest merges and reads pause between blocks', () => {
  void test('a merge of a big manifest lets the loop run at least once per block read and written, and writes what an unpaused one does', async () => {
    const table = await tableWithBigManifest()
    const carried = await manifestsOf(table, currentSnapshot(table.metadata))
    assert.equal(carried.length, MIN_COUNT - 1)
    const seq = table.metadata['last-sequence-number'] + 1
    const { value: paused, turns } = await loopTurnsDuring(() =>
      mergeCarriedManifests(table, carried, 1, 777n, seq, createYielder(0)),
    )
    assert.equal(paused.replaced, carried.length, 'every carried manifest merged into one')
    assert.equal(paused.manifests.length, 1)
    assert.ok(
      turns >= 2 * BLOCKS,
      `the loop ran ${turns} times while a ${BIG}-entry manifest was read and written (${BLOCKS} blocks each)`,
    )
    const atOnce = await mergeCarriedManifests(table, carried, 1, 777n, seq, async () => {})
    const [a, b] = [paused.manifests[0]!, atOnce.manifests[0]!]
    assert.deepEqual({ ...a, manifestPath: '' }, { ...b, manifestPath: '' }, 'the same manifest entry in the list')
    assert.deepEqual(
      await entriesOfManifest(table, a.manifestPath, a.partitionSpecId),
      await entriesOfManifest(table, b.manifestPath, b.partitionSpecId),
      'the same entries',
    )
  })

  void test('a read of a big manifest lets the loop run at least once per block, and returns every entry', async () => {
    const table = await tableWithBigManifest()
    const big = (await manifestsOf(table, currentSnapshot(table.metadata))).find((m) => m.addedFilesCount === BIG)!
    const { value: entries, turns } = await loopTurnsDuring(() => liveEntriesOfManifest(table, big, createYielder(0)))
    assert.equal(entries.length, BIG)
    assert.ok(turns >= BLOCKS, `the loop ran ${turns} times while a ${BIG}-entry manifest was read (${BLOCKS} blocks)`)
    const all = await liveEntriesOf(table)
    assert.deepEqual(
      entries.map((e) => e.dataFile.filePath),
      all.filter((e) => e.dataFile.filePath.includes('.parquet.')).map((e) => e.dataFile.filePath),
      'the entries liveEntriesOf reads of it, in order',
    )
  })
})
