/**
 * Compaction of a day partition holding many files (adapters/offline/iceberg/compaction.ts): a
 * running engine commits a file per checkpoint per source partition, 34,560 a day at four
 * partitions, and nothing but `kfs compact` rewrites them. Grouping the files by partition copied
 * the group for every file added to it — quadratic: 21 s for one day of four partitions, 100 s
 * for eight. The work is counted, not timed: every step of an array iterator while compacting
 * (a copy by spread takes one per element): twice the files must take at most about twice the
 * steps (the quadratic grouping took 2.7 times as many at these sizes). And the rewrite keeps every row.
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { MemoryObjectStore } from '../../../adapters/object-store/index.ts'
import {
  appendFiles,
  compactPartitions,
  createTable,
  dayPartitionSpec,
  readRows,
  writeDataFiles,
  type DataFile,
  type IcebergTable,
} from '../../../adapters/offline/iceberg/index.ts'
import { clicksSchema } from './clicks-table.ts'

const DAY = 86_400_000
const T0 = Date.UTC(2026, 0, 5)
/** Files of the partition that gets most, in the smaller table; the old grouping took ~n²/2 iterator steps for it. */
const FILES = 300
/** Linear work doubles with the files (a little less: the commit's own steps do not grow); the old grouping's took 2.7×. */
const MAX_GROWTH = 2.2

/** A table with `count` files in day 0, a third as many in day 1 (interleaved in commit order), one in day 2. */
async function tableOfManyFiles(count: number): Promise<IcebergTable> {
  const schema = clicksSchema()
  let table = await createTable(new MemoryObjectStore(), 'wh/many', { schema, partitionSpec: dayPartitionSpec(schema, 'as_of') })
  const files: DataFile[] = []
  const third = count / 3
  for (let i = 0; i < count + third; i++) {
    const day = i % 4 === 3 ? 1 : 0
    files.push(...(await writeDataFiles(table, [{ entity_key: `k${i % 7}`, as_of: T0 + day * DAY + i * 1000, clicks: i }])))
  }
  files.push(...(await writeDataFiles(table, [{ entity_key: 'k', as_of: T0 + 2 * DAY, clicks: -1 }])))
  // Two commits, so the compaction orders files by sequence number as well as by place in a manifest.
  const half = Math.floor(files.length / 2)
  table = (await appendFiles(table, files.slice(0, half))).table
  return (await appendFiles(table, files.slice(half))).table
}

async function rowsOf(table: IcebergTable, snapshotId?: bigint): Promise<string[]> {
  const out: string[] = []
  for await (const r of readRows(table, snapshotId === undefined ? {} : { snapshotId }))
    out.push(`${String(r.entity_key)}|${String(r.as_of)}|${String(r.clicks)}`)
  return out
}

/** Runs `fn` counting every step of every array iterator (a spread copy takes one per element). */
async function countingIteratorSteps<T>(fn: () => Promise<T>): Promise<{ result: T; steps: number }> {
  const proto = Object.getPrototypeOf([][Symbol.iterator]()) as { next: (...args: unknown[]) => unknown }
  const next = proto.next
  let steps = 0
  proto.next = function (this: unknown, ...args: unknown[]) {
    steps++
    return next.apply(this, args)
  }
  try {
    return { result: await fn(), steps }
  } finally {
    proto.next = next
  }
}

/** Compacts the table of `files` files: its iterator steps, after checking the rewrite kept every row. */
async function compactionSteps(files: number): Promise<number> {
  const table = await tableOfManyFiles(files)
  const before = await rowsOf(table)
  const { result, steps } = await countingIteratorSteps(() =>
    compactPartitions(table, { olderThanDay: Math.floor(T0 / DAY) + 2 }),
  )
  assert.equal(result.removedFiles, files + files / 3, 'every file of the two old days is rewritten')
  assert.equal(result.addedFiles, 2, 'one file per old day')
  const after = result.table!
  assert.deepEqual((await rowsOf(after)).sort(), [...before].sort(), 'the same rows')
  assert.deepEqual(await rowsOf(after, table.metadata['current-snapshot-id']!), before, 'the snapshot before reads as it did')
  return steps
}

void describe('compaction of a partition holding many files', () => {
  void test('does work linear in the files and keeps every row', async () => {
    const small = await compactionSteps(FILES)
    const large = await compactionSteps(2 * FILES)
    assert.ok(
      large <= MAX_GROWTH * small,
      `twice the files took ${(large / small).toFixed(2)} times the iterator steps (${small} → ${large}), over ${MAX_GROWTH}: work that grows faster than the files`,
    )
  })
})
