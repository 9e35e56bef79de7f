/**
 * Feature-table compaction's commit (adapters/offline/iceberg/compaction.ts, through
 * replace-files.ts), raced at each store call it makes: by another compaction of the same table,
 * which it reports as `superseded` (ports/offline-compaction.ts) — never a throw — leaving no
 * object under the table that no metadata names; and by an append, after which it still commits
 * and leaves no manifest of its losing attempt behind. The rows read the same either way.
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { MemoryObjectStore } from '../../../adapters/object-store/index.ts'
import {
  appendFiles,
  compactPartitions,
  createTable,
  dayPartitionSpec,
  loadTable,
  readRows,
  writeDataFiles,
  type DataFile,
  type IcebergTable,
} from '../../../adapters/offline/iceberg/index.ts'
import { referencedKeys } from '../../../adapters/offline/iceberg/referenced-files.ts'
import type { ObjectStore } from '../../../ports/object-store.ts'
import { forwardingStore } from '../../support/forwarding-store.ts'
import { clicksSchema, testClock } from './clicks-table.ts'

const DAY = 86_400_000
const T0 = Date.UTC(2026, 0, 5)
const PATH = 'wh/compacted'
const OPTIONS = { olderThanDay: Math.floor(T0 / DAY) + 2, maxRowsPerFile: 8, parquetWorker: false, clock: testClock }

/** Two days of six small files each, in three appends (several manifests). */
async function smallFiles(): Promise<MemoryObjectStore> {
  const memory = new MemoryObjectStore()
  const schema = clicksSchema()
  let table = await createTable(memory, PATH, { schema, partitionSpec: dayPartitionSpec(schema, 'as_of') })
  for (let a = 0; a < 3; a++) {
    const files: DataFile[] = []
    for (let f = 0; f < 4; f++)
      files.push(
        ...(await writeDataFiles(table, rowsAt(T0 + (f % 2) * DAY + a * 1000 + f, 3, a * 100 + f * 10), {
          parquetWorker: false,
        })),
      )
    table = (await appendFiles(table, files)).table
  }
  return memory
}

function rowsAt(asOf: number, n: number, first: number): Record<string, unknown>[] {
  return Array.from({ length: n }, (_, i) => ({ entity_key: `k${(first + i) % 5}`, as_of: asOf + i, clicks: first + i }))
}

/** `inner`, with `hook` run once just before its `at`-th call (from 0); counts the calls. */
function hookedStore(inner: ObjectStore, at: number, hook: () => Promise<void>): { store: ObjectStore; calls: string[] } {
  const calls: string[] = []
  const wrap =
    <A extends [string, ...unknown[]], T>(name: string, call: (...args: A) => Promise<T>) =>
    async (...args: A): Promise<T> => {
      if (calls.push(`${name} ${args[0]}`) - 1 === at) await hook()
      return call(...args)
    }
  const f = forwardingStore(inner)
  return {
    store: {
      ...f,
      get: wrap('get', f.get),
      put: wrap('put', f.put),
      putIfAbsent: wrap('putIfAbsent', f.putIfAbsent),
      delete: wrap('delete', f.delete),
      list: wrap('list', f.list),
      listWithTimes: wrap('listWithTimes', f.listWithTimes),
    },
    calls,
  }
}

async function rowsOf(table: IcebergTable): Promise<string[]> {
  const out: string[] = []
  for await (const r of readRows(table)) out.push(`${String(r.entity_key)}|${String(r.as_of)}|${String(r.clicks)}`)
  return out.sort()
}

/** Objects under the table's `dir` (metadata/, data/) that no metadata of the table names. */
async function unnamed(memory: MemoryObjectStore, dir: string): Promise<string[]> {
  const named = new Set<string>()
  await referencedKeys(await loadTable(memory, PATH), named, new Set())
  return (await memory.list(`${PATH}/${dir}/`)).filter((key) => !named.has(key))
}

/** The calls a clean compaction makes. */
async function cleanCalls(): Promise<string[]> {
  const memory = await smallFiles()
  const { store, calls } = hookedStore(memory, -1, async () => undefined)
  const result = await compactPartitions(await loadTable(store, PATH), OPTIONS)
  assert.equal(result.status, 'committed')
  for (const kind of [/^put .*\.parquet$/, /^put .*-m0\.avro$/, /^put .*-m1\.avro$/, /^putIfAbsent .*metadata\.json$/])
    assert.ok(
      calls.some((c) => kind.test(c)),
      `no ${String(kind)} among ${calls.join(', ')}`,
    )
  return calls
}

void describe('iceberg > compaction commit raced at each call', () => {
  void test('another compaction first: `superseded` (or nothing to do, or it committed first), never a throw; nothing unnamed left; the rows unchanged', async () => {
    const calls = await cleanCalls()
    const seen = new Set<string>()
    for (let at = 0; at < calls.length; at++) {
      const memory = await smallFiles()
      const before = await rowsOf(await loadTable(memory, PATH))
      let other: string | undefined
      const { store } = hookedStore(memory, at, async () => {
        other = (await compactPartitions(await loadTable(memory, PATH), OPTIONS)).status
      })
      const what = `the other compaction before call ${at} (${calls[at]})`
      const result = await compactPartitions(await loadTable(store, PATH), OPTIONS)
      const status = result.status ?? 'nothing'
      seen.add(status)
      // Exactly one of the two commits; the other says why it did not, and counts nothing.
      if (status === 'committed') assert.equal(other, undefined, what)
      else {
        assert.equal(other, 'committed', what)
        assert.ok(status === 'superseded' || status === 'nothing', `${what}: ${status}`)
        assert.deepEqual([result.removedFiles, result.addedFiles], [0, 0], what)
      }
      assert.deepEqual(await rowsOf(await loadTable(memory, PATH)), before, what)
      for (const dir of ['metadata', 'data']) assert.deepEqual(await unnamed(memory, dir), [], `${what}: unnamed under ${dir}/`)
    }
    assert.ok(seen.has('superseded'), `superseded never reached: ${[...seen].join(', ')}`)
  })

  void test('an append first: the compaction is rebuilt and commits; no manifest of a losing attempt left under metadata/', async () => {
    const calls = await cleanCalls()
    let rebuilt = 0
    for (let at = 0; at < calls.length; at++) {
      const memory = await smallFiles()
      const before = await rowsOf(await loadTable(memory, PATH))
      const late = rowsAt(T0 + 1000 * at, 2, 1000 + at)
      const { store, calls: made } = hookedStore(memory, at, async () => {
        const table = await loadTable(memory, PATH)
        await appendFiles(table, await writeDataFiles(table, late, { parquetWorker: false }))
      })
      const what = `an append before call ${at} (${calls[at]})`
      const result = await compactPartitions(await loadTable(store, PATH), OPTIONS)
      assert.equal(result.status, 'committed', what)
      if (made.filter((c) => c.startsWith('putIfAbsent')).length > 1) rebuilt++
      const after = await rowsOf(await loadTable(memory, PATH))
      assert.deepEqual(
        after,
        [...before, ...late.map((r) => `${String(r.entity_key)}|${String(r.as_of)}|${String(r.clicks)}`)].sort(),
        what,
      )
      assert.deepEqual(await unnamed(memory, 'metadata'), [], `${what}: unnamed under metadata/`)
    }
    assert.ok(rebuilt > 0, 'no compaction lost its first race')
  })
})
