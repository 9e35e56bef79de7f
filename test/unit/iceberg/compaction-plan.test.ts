/**
 * The plan of a feature-table compaction (adapters/offline/iceberg/compaction-plan.ts) reads what
 * changed since the last attempt, not the table's whole history, and chooses exactly what a full
 * scan of every live file would.
 * - Counted at the store: after a long run of `kfs run`'s automatic compaction (many old day
 *   partitions compacted, manifests merged and rewritten), the next attempt decodes only
 *   manifests that were not in the table's manifest list at the attempt before it.
 * - Random tables (appends of files in random days, some without a day, manifests merged every
 *   few appends, compactions replacing chosen files, a memory kept or lost between attempts):
 *   at every attempt, the chosen files, partition by partition in commit order, are the full
 *   scan's, for random cut-off days, partition bounds, minimum files and file sizes.
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import fc from 'fast-check'
import { MemoryObjectStore } from '../../../adapters/object-store/index.ts'
import {
  appendFiles,
  createTable,
  dayPartitionSpec,
  loadTable,
  type DataFile,
  type IcebergTable,
} from '../../../adapters/offline/iceberg/index.ts'
import { ManifestCountsMemory, planCompaction, type PlanOptions } from '../../../adapters/offline/iceberg/compaction-plan.ts'
import { manifestsOf } from '../../../adapters/offline/iceberg/iceberg-table.ts'
import { MIN_COUNT_TO_MERGE_PROPERTY } from '../../../adapters/offline/iceberg/manifest-merge.ts'
import { commitReplace, prepareReplace } from '../../../adapters/offline/iceberg/replace-files.ts'
import { currentSnapshot } from '../../../adapters/offline/iceberg/table-metadata.ts'
import { liveEntriesOf } from '../../../adapters/offline/iceberg/table-reader.ts'
import { forwardingStore } from '../../support/forwarding-store.ts'
import { clicksSchema, testClock } from './clicks-table.ts'
import { DAY, FeatureWorld, HOUR } from './feature-compaction-world.ts'

/** Manifests (not manifest lists) of the table's current snapshot. */
async function manifestPaths(table: IcebergTable): Promise<Set<string>> {
  return new Set((await manifestsOf(table, currentSnapshot(table.metadata))).map((m) => m.manifestPath))
}

const isManifest = (key: string): boolean => key.includes('/metadata/') && key.endsWith('.avro') && !key.includes('/snap-')

/** The choice of the full scan, as compaction made it before its plan: every live entry listed, grouped, the oldest worth it. */
async function fullScanChoice(table: IcebergTable, o: PlanOptions): Promise<string[][]> {
  const groups = new Map<string, Awaited<ReturnType<typeof liveEntriesOf>>>()
  for (const e of await liveEntriesOf(table)) {
    const day = e.dataFile.partition[0] ?? null
    // Without a cut-off day, files without a day are a partition like any other.
    if (o.olderThanDay !== undefined && (day === null || day >= o.olderThanDay)) continue
    if (o.partitionFilter !== undefined && !o.partitionFilter(e.dataFile.partition)) continue
    const key = String(day)
    groups.set(key, [...(groups.get(key) ?? []), e])
  }
  return [...groups.values()]
    .filter(
      (g) =>
        g.length >= (o.minFiles ?? 2) &&
        g.length > Math.max(1, Math.ceil(g.reduce((n, e) => n + e.dataFile.recordCount, 0) / o.maxRowsPerFile)),
    )
    .sort((a, b) => (a[0]!.dataFile.partition[0] ?? -Infinity) - (b[0]!.dataFile.partition[0] ?? -Infinity))
    .slice(0, o.maxPartitions ?? Infinity)
    .map((g) =>
      g
        .map((e, i) => ({ e, i }))
        .sort((a, b) => Number(a.e.dataSequenceNumber - b.e.dataSequenceNumber) || a.i - b.i)
        .map(({ e }) => e.dataFile.filePath),
    )
}

let fileNumber = 0
/** A data file only named (the plan reads manifests, never data files). */
function namedFile(table: IcebergTable, day: number | null, rows: number): DataFile {
  return {
    filePath: table.store.uriOf(`${table.path}/data/f${fileNumber++}.parquet`),
    fileFormat: 'PARQUET',
    partition: [day],
    recordCount: rows,
    fileSizeInBytes: 100 + rows,
  }
}

/** The chosen files replaced by as few as their rows make, as compaction commits it. */
async function replaceChosen(
  table: IcebergTable,
  chosen: readonly (readonly DataFile[])[],
  maxRowsPerFile: number,
): Promise<IcebergTable> {
  const added = chosen.flatMap((files) => {
    let rows = files.reduce((n, f) => n + f.recordCount, 0)
    const out: DataFile[] = []
    while (rows > 0) {
      out.push(namedFile(table, files[0]!.partition[0]!, Math.min(rows, maxRowsPerFile)))
      rows -= maxRowsPerFile
    }
    return out
  })
  const result = await commitReplace(table, await prepareReplace(table, added), chosen.flat(), () => ({}), { clock: testClock })
  assert.equal(result.status, 'committed')
  return result.table
}

const DAYS = 12
const step = fc.oneof(
  {
    weight: 4,
    arbitrary: fc
      .array(fc.record({ day: fc.option(fc.nat(DAYS - 1), { freq: 8 }), rows: fc.integer({ min: 1, max: 30 }) }), {
        minLength: 1,
        maxLength: 4,
      })
      .map((files) => ({ kind: 'append' as const, files })),
  },
  {
    weight: 2,
    arbitrary: fc
      .record({
        olderThanDay: fc.option(fc.nat(DAYS + 1), { freq: 6 }),
        maxPartitions: fc.option(fc.integer({ min: 1, max: 4 })),
        minFiles: fc.option(fc.integer({ min: 1, max: 3 })),
        maxRowsPerFile: fc.integer({ min: 5, max: 60 }),
        evenDaysOnly: fc.boolean(),
        commit: fc.boolean(),
        forget: fc.boolean(),
      })
      .map((o) => ({ kind: 'compact' as const, ...o })),
  },
)

void describe('iceberg > compaction plan', () => {
  void test("after a long run, the engine's next compaction decodes only manifests new since the one before", async () => {
    let armed = false
    const read: string[] = []
    const world = new FeatureWorld(
      { olderThanMs: DAY, everyMs: HOUR, maxPartitions: 50, maxRowsPerFile: 40 },
      {
        store: (memory) => ({
          ...forwardingStore(memory),
          get: (key) => {
            if (armed && isManifest(key)) read.push(key)
            return memory.get(key)
          },
        }),
      },
    )
    for (let t = 0; t < 12 * 6; t++) {
      world.now += 4 * HOUR
      for (let p = 0; p < 2; p++) {
        const rows = world.rowsOf(p, 4, world.now - HOUR)
        // Late rows now and then, into days compacted already.
        if (t % 7 === p) rows.push(...world.rowsOf(p, 1, world.now - 3 * DAY))
        await world.checkpoint(p, rows)
      }
      await world.scheduler.settled()
    }
    // One more attempt settles every old day; the one after it is the steady one measured.
    // Attempts until one finds nothing to do: the one after it is the steady one measured.
    const steadyAttempt = async (): Promise<{ read: number; known: string[]; listed: number }> => {
      const listed = await manifestPaths(await loadTable(world.memory, world.tableId))
      world.now += HOUR
      await world.checkpoint(0, world.rowsOf(0, 4, world.now))
      const before = world.scheduler.stats.features.manifestsRead
      read.length = 0
      armed = true
      await world.scheduler.settled()
      armed = false
      assert.equal(world.scheduler.stats.features.manifestsRead - before, read.length, 'the plan counts what it read')
      return { read: read.length, known: read.filter((key) => [...listed].some((uri) => uri.endsWith(key))), listed: listed.size }
    }
    for (let attempts = 0; ; attempts++) {
      assert.ok(attempts < 5, 'the table never settled')
      const nothing = world.scheduler.stats.features.runs.nothing
      world.now += HOUR
      await world.checkpoint(1, world.rowsOf(1, 4, world.now))
      await world.scheduler.settled()
      if (world.scheduler.stats.features.runs.nothing > nothing) break
    }
    const table = await loadTable(world.memory, world.tableId)
    const cutoff = Math.floor((world.now + HOUR - DAY) / DAY)
    // Not vacuous: manifests listing old days, which a full scan decodes and summaries cannot rule out, are there to skip.
    const old = (await manifestsOf(table, currentSnapshot(table.metadata))).filter((m) => {
      const lower = m.partitions?.[0]?.lowerBound
      return lower !== null && lower !== undefined && new DataView(lower.buffer, lower.byteOffset, 4).getInt32(0, true) < cutoff
    })
    assert.ok(old.length >= 10, `${old.length} manifests list old days`)
    // Its checkpoint's manifest (today's rows only) is new; everything else was listed at the attempt before.
    const steady = await steadyAttempt()
    assert.deepEqual(world.errors, [])
    assert.deepEqual(
      steady.known,
      [],
      `of ${steady.listed} manifests listed at the attempt before, ${steady.known.length} were decoded again`,
    )
  })

  void test("a compaction's commit decodes only the manifests whose partition summaries may hold a file it replaces", async () => {
    const memory = new MemoryObjectStore()
    const read: string[] = []
    const counting = {
      ...forwardingStore(memory),
      get: (key: string) => {
        if (isManifest(key)) read.push(key)
        return memory.get(key)
      },
    }
    const schema = clicksSchema()
    let table = await createTable(counting, 'wh/commit', { schema, partitionSpec: dayPartitionSpec(schema, 'as_of') })
    // A manifest per day, and one holding days 0 to 2.
    for (let day = 0; day < DAYS; day++)
      table = (await appendFiles(table, [namedFile(table, day, 3), namedFile(table, day, 4)], {}, { clock: testClock })).table
    table = (
      await appendFiles(
        table,
        [0, 1, 2].map((day) => namedFile(table, day, 2)),
        {},
        { clock: testClock },
      )
    ).table
    const plan = await planCompaction(table, { olderThanDay: 1, maxRowsPerFile: 100 })
    assert.equal(plan.partitions.length, 1, 'day 0 chosen')
    read.length = 0
    const committed = await replaceChosen(table, plan.partitions, 100)
    assert.equal(new Set(read).size, 2, `${read.length} manifests decoded of ${DAYS + 1}: only day 0's and the one of days 0-2`)
    // Every file of the other days is still live, day 0 in one file.
    const live = await liveEntriesOf(committed)
    assert.equal(live.filter((e) => e.dataFile.partition[0] === 0).length, 1)
    assert.equal(live.length, 2 * (DAYS - 1) + 2 + 1)
  })

  void test('random tables and attempts: the chosen files are the full scan’s', async () => {
    // Not vacuous: plans chose files, compactions committed, and manifests were skipped or remembered.
    const seen = { chose: 0, committed: 0, skipped: 0 }
    await fc.assert(
      fc.asyncProperty(
        fc.array(step, { minLength: 5, maxLength: 40 }),
        fc.integer({ min: 2, max: 6 }),
        async (steps, mergeEvery) => {
          const memory = new MemoryObjectStore()
          const schema = clicksSchema()
          let table = await createTable(memory, 'wh/planned', {
            schema,
            partitionSpec: dayPartitionSpec(schema, 'as_of'),
            properties: { [MIN_COUNT_TO_MERGE_PROPERTY]: String(mergeEvery) },
          })
          let remembered = new ManifestCountsMemory()
          for (const s of steps) {
            if (s.kind === 'append') {
              table = (
                await appendFiles(
                  table,
                  s.files.map((f) => namedFile(table, f.day, f.rows)),
                  {},
                  { clock: testClock },
                )
              ).table
              continue
            }
            if (s.forget) remembered = new ManifestCountsMemory()
            const options: PlanOptions = {
              maxRowsPerFile: s.maxRowsPerFile,
              ...(s.olderThanDay === null ? {} : { olderThanDay: s.olderThanDay }),
              ...(s.maxPartitions === null ? {} : { maxPartitions: s.maxPartitions }),
              ...(s.minFiles === null ? {} : { minFiles: s.minFiles }),
              ...(s.evenDaysOnly ? { partitionFilter: (p: readonly (number | null)[]) => (p[0] ?? 1) % 2 === 0 } : {}),
            }
            const listed = (await manifestPaths(table)).size
            const known = remembered.size
            const plan = await planCompaction(table, { ...options, memory: remembered })
            if (known > 0 && plan.manifestsRead < listed) seen.skipped++
            if (plan.partitions.length > 0) seen.chose++
            const expected = await fullScanChoice(table, options)
            assert.deepEqual(
              plan.partitions.map((files) => files.map((f) => f.filePath)),
              expected,
            )
            if (s.commit && plan.partitions.length > 0) {
              table = await replaceChosen(table, plan.partitions, s.maxRowsPerFile)
              seen.committed++
            }
          }
        },
      ),
      { numRuns: 100 },
    )
    assert.ok(seen.chose > 50 && seen.committed > 20 && seen.skipped > 20, JSON.stringify(seen))
  })
})
