/**
 * A compaction whose commit gives up (replace-files.ts `commitReplace`, one attempt: a store whose
 * calls retry themselves ends the commit at once) reads the table back: when its snapshot is not
 * there and none of its metadata writes went unanswered, nothing will ever name the files it
 * wrote, and they are deleted then — not left for `--remove-orphans`; an unanswered metadata write
 * may land later, so what it names stays; when it is there (the answer was lost) it reports the
 * commit, not a failure. Each store call of a feature-table compaction and of an archive
 * compaction fails in turn, before it happened and after it (a create also answered "exists"):
 * the compaction throws exactly when the table has no replace snapshot, and then the table's data
 * files are those it had — but for the one file whose own faulted write or delete is the failure.
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { MemoryObjectStore } from '../../../adapters/object-store/index.ts'
import { compactArchiveTable } from '../../../adapters/offline/iceberg/archive-compaction.ts'
import {
  appendFiles,
  compactPartitions,
  createTable,
  dataFilesOf,
  dayPartitionSpec,
  loadTable,
  writeDataFiles,
  type DataFile,
  type IcebergTable,
} from '../../../adapters/offline/iceberg/index.ts'
import type { ObjectStore } from '../../../ports/object-store.ts'
import { keyOfStoreUri } from '../../../ports/object-store-keys.ts'
import { forwardingStore } from '../../support/forwarding-store.ts'
import { InjectedFault, StepStore, type Fault } from '../../support/step-store.ts'
import { ArchiveWorld, fixedItems, MINUTE, TOPIC } from './archive-world.ts'
import { clicksSchema, testClock } from './clicks-table.ts'

const DAY = 86_400_000
const T0 = Date.UTC(2026, 0, 5)
const PATH = 'wh/gives-up'

/** Two old days of four small files each, in two appends. */
async function featureTable(): Promise<MemoryObjectStore> {
  const memory = new MemoryObjectStore()
  const schema = clicksSchema()
  let table = await createTable(memory, PATH, { schema, partitionSpec: dayPartitionSpec(schema, 'as_of') })
  for (let a = 0; a < 2; a++) {
    const files: DataFile[] = []
    for (let f = 0; f < 4; f++) {
      const rows = Array.from({ length: 3 }, (_, i) => ({
        entity_key: `k${i}`,
        as_of: T0 + (f % 2) * DAY + a * 1000 + f * 10 + i,
        clicks: a * 100 + f * 10 + i,
      }))
      files.push(...(await writeDataFiles(table, rows, { parquetWorker: false })))
    }
    table = (await appendFiles(table, files)).table
  }
  return memory
}

/** Two archive partitions of five checkpoints each, old enough to compact. */
async function archive(): Promise<ArchiveWorld> {
  const world = new ArchiveWorld(new MemoryObjectStore())
  for (let i = 0; i < 10; i++) {
    world.clock.now += 10 * MINUTE
    await world.append(i % 2, fixedItems(i))
  }
  world.clock.now += 60 * MINUTE
  return world
}

async function copyOf(memory: ObjectStore): Promise<MemoryObjectStore> {
  const copy = new MemoryObjectStore()
  for (const key of await memory.list('')) await copy.put(key, (await memory.get(key))!)
  return copy
}

interface Kind {
  readonly name: string
  readonly path: string
  readonly original: ObjectStore
  /** One compaction of the table, its commit given one attempt. */
  readonly compact: (table: IcebergTable) => Promise<unknown>
}

const featureCompaction = (table: IcebergTable): Promise<unknown> =>
  compactPartitions(table, {
    olderThanDay: Math.floor(T0 / DAY) + 2,
    maxRowsPerFile: 8,
    parquetWorker: false,
    clock: testClock,
    attempts: 1,
  })

const archiveCompaction =
  (world: ArchiveWorld) =>
  (table: IcebergTable): Promise<unknown> =>
    compactArchiveTable(table, TOPIC, {
      committedBeforeMs: world.clock.now - 30 * MINUTE,
      rowsPerFile: 5,
      parquetWorker: false,
      clock: world.clock,
      attempts: 1,
    })

async function everyCallFailing(kind: Kind): Promise<void> {
  const run = async (at: number, fault: Fault | undefined) => {
    const memory = await copyOf(kind.original)
    const steps = new StepStore(memory)
    const before = new Set(await memory.list(`${kind.path}/data/`))
    const table = await loadTable(steps.store, kind.path)
    Object.assign(steps, { armed: true, at, fault })
    const threw = await kind.compact(table).then(
      () => undefined,
      (err: unknown) => err,
    )
    steps.armed = false
    const replaced = (await loadTable(memory, kind.path)).metadata.snapshots.some((s) => s.summary?.operation === 'replace')
    return { calls: steps.calls, threw, replaced, memory, before }
  }
  const clean = await run(-1, undefined)
  assert.ok(clean.threw === undefined && clean.replaced, `${kind.name}: the compaction unfaulted commits`)
  assert.ok(clean.calls.some((c) => /^putIfAbsent .*metadata\.json$/.test(c)))
  let gaveUp = 0
  let unanswered = 0
  for (let at = 0; at < clean.calls.length; at++) {
    const call = clean.calls[at]!
    for (const fault of call.startsWith('putIfAbsent')
      ? (['before', 'after', 'lost-create'] as const)
      : (['before', 'after'] as const)) {
      const what = `${kind.name}: ${fault} at call ${at} (${call})`
      const { threw, replaced, memory, before, calls } = await run(at, fault)
      assert.equal(
        threw !== undefined,
        !replaced,
        `${what}: threw ${String(threw)} with the table ${replaced ? '' : 'not '}compacted`,
      )
      if (replaced) continue
      const [verb, key] = calls[at]!.split(' ') as [string, string]
      const written = (await memory.list(`${kind.path}/data/`)).filter((k) => !before.has(k))
      if (verb === 'putIfAbsent' && key.endsWith('.metadata.json')) {
        // A metadata write without an answer may still land (see the late-landing test below):
        // nothing it would name is deleted.
        unanswered++
        assert.ok(written.length > 0, `${what}: the files an unanswered metadata write names were deleted`)
        continue
      }
      gaveUp++
      // Its own faulted write (answer lost) or delete may leave that one file: an orphan, §25.
      // (The faulted run's own call: file names are random.)
      const mayStay = (verb === 'put' || verb === 'delete') && key.endsWith('.parquet') ? key : undefined
      const left = written.filter((k) => k !== mayStay)
      assert.deepEqual(left, [], `${what}: data files the failed compaction wrote are left`)
    }
  }
  // Not vacuous: runs that gave up with their files deleted, and with them kept, were both among the runs.
  assert.ok(gaveUp >= 1, `${kind.name}: no run gave up with its files deleted`)
  assert.ok(unanswered >= 1, `${kind.name}: no run's metadata write went unanswered`)
}

/**
 * The metadata write is sent but its answer never comes, and it lands only after the commit gave
 * up and read the table back (a slow server): the table it makes must name files that exist.
 */
async function metadataWriteLandingLate(kind: Kind): Promise<void> {
  const memory = await copyOf(kind.original)
  let delayed: (() => Promise<unknown>) | undefined
  const store: ObjectStore = {
    ...forwardingStore(memory),
    putIfAbsent: async (k, b) => {
      if (delayed === undefined && k.endsWith('.metadata.json')) {
        delayed = () => memory.putIfAbsent(k, b)
        throw new InjectedFault(`putIfAbsent ${k}: no answer`)
      }
      return memory.putIfAbsent(k, b)
    },
  }
  const threw = await kind.compact(await loadTable(store, kind.path)).then(
    () => undefined,
    (err: unknown) => err,
  )
  assert.ok(threw !== undefined && delayed !== undefined, `${kind.name}: the compaction gave up at its metadata write`)
  assert.equal(await delayed(), true, `${kind.name}: the late write lands`)
  const table = await loadTable(memory, kind.path)
  assert.ok(
    table.metadata.snapshots.some((s) => s.summary?.operation === 'replace'),
    `${kind.name}: the late write is the replace`,
  )
  const missing: string[] = []
  for (const file of await dataFilesOf(table))
    if ((await memory.get(keyOfStoreUri(memory, file.filePath))) === undefined) missing.push(file.filePath)
  assert.deepEqual(missing, [], `${kind.name}: the late-landing replace names deleted files`)
}

void describe('iceberg > a compaction whose commit gives up', () => {
  void test('feature table: each call failing, the compaction fails with its files deleted, or reports the commit that landed', async () => {
    const original = await featureTable()
    await everyCallFailing({
      name: 'feature table',
      path: PATH,
      original,
      compact: featureCompaction,
    })
  })

  void test('archive: each call failing, the compaction fails with its files deleted, or reports the commit that landed', async () => {
    const world = await archive()
    await everyCallFailing({
      name: 'archive',
      path: world.tableId,
      original: world.store,
      compact: archiveCompaction(world),
    })
  })

  void test('feature table: a metadata write without an answer that lands after the give-up names files that exist', async () => {
    const original = await featureTable()
    await metadataWriteLandingLate({ name: 'feature table', path: PATH, original, compact: featureCompaction })
  })

  void test('archive: a metadata write without an answer that lands after the give-up names files that exist', async () => {
    const world = await archive()
    await metadataWriteLandingLate({
      name: 'archive',
      path: world.tableId,
      original: world.store,
      compact: archiveCompaction(world),
    })
  })
})
