/**
 * The orphan-file clean-up (adapters/offline/iceberg/orphan-files.ts, docs/semantics.md §25): over
 * random tables written through the real offline sink — appends, compactions, expiries, manifest
 * merges, commits whose metadata write failed, expiries whose deletes failed, files put directly —
 * it deletes exactly the unnamed objects older than the minimum age; every snapshot the table keeps
 * reads the same rows, row for row; a dry run reports the same set and deletes nothing. A commit
 * landing between the listing and the deletes loses nothing; a damaged table is refused with
 * nothing deleted; nothing outside the table's own prefix is touched.
 */
import assert from 'node:assert/strict'
import { mkdtemp, readdir, rm, utimes } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { describe, test } from 'node:test'
import fc from 'fast-check'
import { LocalObjectStore, MemoryObjectStore } from '../../../adapters/object-store/index.ts'
import { appendFiles, loadTable, writeDataFiles } from '../../../adapters/offline/iceberg/index.ts'
import { manifestsOf, metadataKey } from '../../../adapters/offline/iceberg/iceberg-table.ts'
import { keyOfStoreUri } from '../../../ports/object-store-keys.ts'
import { removeOrphanFiles } from '../../../adapters/offline/iceberg/orphan-files.ts'
import { archiveColumns } from '../../../adapters/offline/iceberg/archive-columns.ts'
import { IcebergOfflineSink } from '../../../adapters/offline/iceberg/offline-sink.ts'
import { DEFAULT_ORPHAN_MIN_AGE_MS } from '../../../ports/offline-compaction.ts'
import type { ListedObject, ObjectStore } from '../../../ports/object-store.ts'
import { archiveRows } from '../../support/archive-rows.ts'
import { DAY, namedKeys, OrphanWorld, PATH, rowsBySnapshot, TOPIC, type Op } from './orphan-world.ts'
import { forwardingStore } from '../../support/forwarding-store.ts'

const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({
      kind: fc.constant('append' as const),
      partition: fc.integer({ min: 0, max: 2 }),
      rows: fc.integer({ min: 1, max: 3 }),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('compact' as const) }) },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('expire' as const),
      minKeep: fc.integer({ min: 1, max: 4 }),
      failDeletes: fc.boolean(),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('failed-commit' as const), partition: fc.integer({ min: 0, max: 2 }) }) },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('stray' as const),
      dir: fc.constantFrom('data' as const, 'metadata' as const),
      bytes: fc.integer({ min: 0, max: 64 }),
    }),
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('tick' as const), ms: fc.integer({ min: 0, max: 2 * DAY }) }) },
)

/**
 * Fixed runs beside the random ones, so the not-vacuous check below holds whatever the random
 * ones drew (they left fewer than four compactions in about one run in fifty): alone they pass
 * it. Each ends on a compaction of a table with several files per partition, after two faulted
 * commits, strays, an expiry whose deletes failed and one that deleted; two are checked long
 * after, two at once.
 */
const FIXED_RUNS: readonly [Op[], number][] = [0, 1, 2, 3].map((n): [Op[], number] => [
  [
    ...[0, 1, 2, 0, 1, 2].map((partition): Op => ({ kind: 'append', partition, rows: 2 })),
    { kind: 'failed-commit', partition: n % 3 },
    { kind: 'failed-commit', partition: (n + 1) % 3 },
    { kind: 'stray', dir: 'data', bytes: 8 },
    { kind: 'stray', dir: 'metadata', bytes: 8 },
    { kind: 'expire', minKeep: 2, failDeletes: true },
    { kind: 'tick', ms: DAY },
    { kind: 'expire', minKeep: 2, failDeletes: false },
    ...[0, 1, 2].map((partition): Op => ({ kind: 'append', partition, rows: 1 })),
    { kind: 'compact' },
  ],
  n < 2 ? 5 * DAY : 0,
])

const keys = (objects: readonly ListedObject[]): string[] => objects.map((o) => o.key)

/** A store that runs `between` once, right after its first listing with times (a commit racing the clean-up). */
function listingHooked(inner: ObjectStore, between: () => Promise<void>): ObjectStore {
  let hook: (() => Promise<void>) | undefined = between
  return {
    ...forwardingStore(inner),
    listWithTimes: async (p) => {
      const listed = await inner.listWithTimes(p)
      const run = hook
      hook = undefined
      await run?.()
      return listed
    },
  }
}

void describe('iceberg > orphan-file clean-up', () => {
  void test('random tables: exactly the old unnamed objects go, every snapshot reads the same rows, a dry run reports the same', async () => {
    const seen = { deleted: 0, young: 0, failedCommits: 0, merged: 0, compacted: 0 }
    await fc.assert(
      fc.asyncProperty(
        fc.array(opArb, { minLength: 4, maxLength: 24 }),
        fc.integer({ min: 0, max: 5 * DAY }),
        async (ops, wait) => {
          const world = await OrphanWorld.create()
          await world.append(0, 2)
          for (const op of ops) await world.apply(op)
          world.now += wait
          const table = await loadTable(world.memory, PATH)
          const rows = await rowsBySnapshot(table)
          const named = await namedKeys(table)
          const before = await world.memory.listWithTimes(`${PATH}/`)
          const cutoff = world.now - DEFAULT_ORPHAN_MIN_AGE_MS
          const expected = before.filter((o) => !named.has(o.key) && o.lastModifiedMs < cutoff)

          const dry = await removeOrphanFiles(world.memory, PATH, { clock: world.clock, dryRun: true })
          assert.deepEqual(await world.memory.listWithTimes(`${PATH}/`), before, 'a dry run deletes nothing')
          const run = await removeOrphanFiles(world.memory, PATH, { clock: world.clock })
          assert.deepEqual(keys(run.orphans), keys(expected))
          assert.deepEqual(keys(dry.orphans), keys(run.orphans), 'the dry run reports the same set')
          assert.equal(run.deletedFiles, expected.length)
          assert.equal(
            run.deletedBytes,
            expected.reduce((n, o) => n + o.size, 0),
          )
          assert.equal(run.keptTooYoung, before.filter((o) => !named.has(o.key) && o.lastModifiedMs >= cutoff).length)
          const gone = new Set(keys(expected))
          assert.deepEqual(
            await world.memory.list(`${PATH}/`),
            keys(before).filter((k) => !gone.has(k)),
          )
          const reloaded = await loadTable(world.memory, PATH)
          assert.deepEqual(await rowsBySnapshot(reloaded), rows, 'every kept snapshot reads the same rows')
          seen.deleted += run.deletedFiles
          seen.young += run.keptTooYoung
          seen.failedCommits += ops.filter((o) => o.kind === 'failed-commit').length
          const kept = reloaded.metadata.snapshots
          if (kept.some((s) => Number(s.summary['manifests-replaced'] ?? '0') > 0)) seen.merged++
          if (kept.some((s) => s.summary.operation === 'replace')) seen.compacted++
        },
      ),
      { numRuns: 25 + FIXED_RUNS.length, examples: [...FIXED_RUNS] },
    )
    // Not vacuous: orphans went and young ones stayed, and the tables saw faulted commits, merges and compactions.
    assert.ok(
      seen.deleted > 20 && seen.young > 5 && seen.failedCommits > 5 && seen.merged > 3 && seen.compacted > 3,
      JSON.stringify(seen),
    )
  })

  void test('a commit landing between the listing and the deletes loses nothing, even files staged long before', async () => {
    const world = await OrphanWorld.create()
    await world.append(0, 2)
    const base = await loadTable(world.memory, PATH)
    // A writer stages its data file, then stalls past the minimum age before committing it.
    const staged = await writeDataFiles(
      base,
      { rowCount: 3, columns: await archiveColumns(archiveRows(100, 103)) },
      { parquetWorker: false },
    )
    world.now += DEFAULT_ORPHAN_MIN_AGE_MS + DAY
    const store = listingHooked(world.memory, async () => {
      await appendFiles(await loadTable(world.memory, PATH), staged, { 'kfs.ckpt.late': '1' }, { clock: world.clock })
    })
    const run = await removeOrphanFiles(store, PATH, { clock: world.clock })
    assert.deepEqual(keys(run.orphans), [])
    const table = await loadTable(world.memory, PATH)
    assert.equal(table.metadata.snapshots.length, 2)
    for (const f of staged) assert.ok(await world.memory.get(keyOfStoreUri(world.memory, f.filePath)), `${f.filePath} stays`)
    const rows = await rowsBySnapshot(table)
    assert.equal(JSON.parse(rows.get(table.metadata['current-snapshot-id'])!).length, 5)
  })

  void test('a damaged table is refused and nothing is deleted: metadata gone, a manifest list gone, a manifest gone', async () => {
    const damages: Record<string, (w: OrphanWorld) => Promise<void>> = {
      metadata: async (w) => {
        for (const k of await w.memory.list(`${PATH}/metadata/v`)) await w.memory.delete(k)
        await w.memory.delete(`${PATH}/metadata/version-hint.text`)
      },
      'manifest list': async (w) => {
        const t = await loadTable(w.memory, PATH)
        await w.memory.delete(keyOfStoreUri(w.memory, t.metadata.snapshots[0]!['manifest-list']))
      },
      manifest: async (w) => {
        const t = await loadTable(w.memory, PATH)
        const [m] = await manifestsOf(t, t.metadata.snapshots.at(-1))
        await w.memory.delete(keyOfStoreUri(w.memory, m!.manifestPath))
      },
    }
    for (const [what, damage] of Object.entries(damages)) {
      const world = await OrphanWorld.create()
      for (let i = 0; i < 3; i++) await world.append(i, 1)
      await world.apply({ kind: 'stray', dir: 'data', bytes: 8 })
      await world.apply({ kind: 'failed-commit', partition: 0 })
      await damage(world)
      world.now += DEFAULT_ORPHAN_MIN_AGE_MS + DAY
      const before = await world.memory.list('')
      await assert.rejects(removeOrphanFiles(world.memory, PATH, { clock: world.clock }), /damaged|missing/, what)
      assert.deepEqual(await world.memory.list(''), before, `${what}: nothing deleted`)
    }
  })

  void test('nothing outside the table’s own prefix is touched; files a checkpoint record staged stay', async () => {
    const world = await OrphanWorld.create()
    await world.append(0, 2)
    const sibling = `${PATH}_v2/data/old.parquet`
    await world.memory.put(sibling, new Uint8Array(4))
    await world.memory.put(`${PATH}/data/staged-by-a-record.parquet`, new Uint8Array(4))
    await world.memory.put(`${PATH}/data/orphan.parquet`, new Uint8Array(4))
    world.now += DEFAULT_ORPHAN_MIN_AGE_MS + DAY
    const keep = new Set([world.memory.uriOf(`${PATH}/data/staged-by-a-record.parquet`)])
    const run = await removeOrphanFiles(world.memory, PATH, { clock: world.clock, keep })
    assert.deepEqual(keys(run.orphans), [`${PATH}/data/orphan.parquet`])
    assert.ok(await world.memory.get(sibling))
    assert.ok(await world.memory.get(`${PATH}/data/staged-by-a-record.parquet`))
  })

  void test('no table at the path: nothing to remove', async () => {
    const run = await removeOrphanFiles(new MemoryObjectStore(), PATH)
    assert.deepEqual(run.orphans, [])
  })

  void test('on a local store: files whose mtime is older than the age go unless named; the table reads the same', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'kfs-orphans-'))
    try {
      const store = new LocalObjectStore(dir)
      const sink = new IcebergOfflineSink(store, { parquetWorker: false })
      const tableId = sink.tableId({ kind: 'archive', topic: TOPIC })
      for (let seq = 1; seq <= 3; seq++)
        await sink.commit(
          tableId,
          [await sink.stageArchiveRows(TOPIC, archiveRows(2 * seq, 2 * seq + 2))],
          { [`${TOPIC}/0`]: seq },
          {},
        )
      await store.put(`${PATH}/data/kafka_partition=0/stray.parquet`, new Uint8Array(9))
      await store.put(`${PATH}/metadata/young-stray.avro`, new Uint8Array(3))
      const old = new Date(Date.now() - DEFAULT_ORPHAN_MIN_AGE_MS - DAY)
      for (const entry of await readdir(path.join(dir, PATH), { recursive: true, withFileTypes: true })) {
        if (entry.isFile() && entry.name !== 'young-stray.avro') await utimes(path.join(entry.parentPath, entry.name), old, old)
      }
      const rows = await rowsBySnapshot(await loadTable(store, PATH))
      const run = await removeOrphanFiles(store, PATH)
      assert.deepEqual(keys(run.orphans), [`${PATH}/data/kafka_partition=0/stray.parquet`])
      assert.equal(run.deletedBytes, 9)
      assert.equal(run.keptTooYoung, 1)
      assert.deepEqual(await rowsBySnapshot(await loadTable(store, PATH)), rows)
      assert.ok(await store.get(metadataKey(PATH, 4)))
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })
})
