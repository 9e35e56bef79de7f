/**
 * `kfs run`'s automatic compaction of its feature tables (adapters/offline/iceberg/automatic-compaction.ts):
 * a long simulated run — days of checkpoints of several source partitions, late rows landing in
 * day partitions compacted already — keeps every old day partition in as few files as its rows
 * make, while every row stays readable once, in archive order, and the checkpoint markers still
 * recognise a restart's roll-forward of any checkpoint. And the rewrite holds at most one output
 * file's rows at once (compaction-rewrite.ts), counted at the store: rows of the input files read
 * less the rows of the files written.
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
} from '../../../adapters/offline/iceberg/index.ts'
import { keyOfStoreUri } from '../../../ports/object-store-keys.ts'
import { liveEntriesOf } from '../../../adapters/offline/iceberg/table-reader.ts'
import { parquetFileInfo } from '../../../adapters/offline/parquet/index.ts'
import { loadConfig } from '../../../main/config.ts'
import { createRuntime } from '../../../main/runtime.ts'
import { silentLogger } from '../../../core/logger.ts'
import type { IcebergOfflineSink } from '../../../adapters/offline/iceberg/offline-sink.ts'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { forwardingStore } from '../../support/forwarding-store.ts'
import { clicksSchema } from './clicks-table.ts'
import { DAY, FeatureWorld, HOUR, TOPIC, VIEW } from './feature-compaction-world.ts'

const PARTITIONS = 3
const DAYS = 7
const CHECKPOINT_MS = 4 * HOUR
const ROWS = 5
const SETTINGS = { olderThanMs: DAY, everyMs: 6 * HOUR, maxPartitions: 2, maxRowsPerFile: 40 }

/** Files of a day partition of `rows` rows, compacted: as few as its rows make. */
const compacted = (rows: number): number => Math.ceil(rows / SETTINGS.maxRowsPerFile)

void describe('iceberg > automatic compaction of feature tables in the engine', () => {
  void test('a long run: old day partitions stay in few files, every row is read once in order, markers still recognise a roll-forward', async () => {
    const world = new FeatureWorld(SETTINGS)
    let worst = 0
    let compactions = 0
    for (let t = 0; t < (DAYS * DAY) / CHECKPOINT_MS; t++) {
      world.now += CHECKPOINT_MS
      // The partitions commit one after the other without waiting for compaction, as the engine's checkpoints do.
      for (let p = 0; p < PARTITIONS; p++) {
        const rows = world.rowsOf(p, ROWS, world.now - HOUR)
        // Now and then a late row, three days back: into a day partition compacted already.
        if (t % 5 === p) rows.push(...world.rowsOf(p, 1, world.now - 3 * DAY))
        await world.checkpoint(p, rows)
      }
      // A compaction started by this round's commits ends before the next round: checkpoints are
      // seconds apart, a compaction of a day of a few rows much less. (The faults test races them.)
      await world.scheduler.settled()
      // Partitions old enough for a compaction, given the time one takes to come due and the late rows since.
      const oldDay = Math.floor((world.now - SETTINGS.olderThanMs - SETTINGS.everyMs) / DAY) - 1
      for (const [day, { files, rows }] of await world.partitions()) {
        if (day >= oldDay) continue
        worst = Math.max(worst, files - compacted(rows))
      }
      if ((await loadTable(world.memory, world.tableId)).metadata.snapshots.some((s) => s.summary?.operation === 'replace'))
        compactions++
    }
    await world.scheduler.settled()
    assert.deepEqual(world.errors, [])
    assert.ok(compactions > 0, 'no compaction ran')
    // Late rows since a compaction (a checkpoint's, of each partition at most) wait for the next.
    assert.ok(worst <= PARTITIONS, `an old day partition held ${worst} files more than its rows make`)
    // One more compaction, due: every old day partition is in exactly as few files as its rows make.
    world.now += SETTINGS.everyMs
    await world.checkpoint(0, world.rowsOf(0, ROWS, world.now))
    await world.scheduler.settled()
    world.now += SETTINGS.everyMs
    await world.checkpoint(1, world.rowsOf(1, ROWS, world.now))
    await world.scheduler.settled()
    const olderThanDay = Math.floor((world.now - SETTINGS.olderThanMs) / DAY)
    const days = await world.partitions()
    const old = [...days].filter(([day]) => day < olderThanDay)
    assert.ok(old.length >= DAYS - 2, `${old.length} old day partitions`)
    for (const [day, { files, rows }] of old) assert.equal(files, compacted(rows), `day ${day}: ${files} files for ${rows} rows`)
    // The young ones are left as the checkpoints wrote them.
    assert.ok([...days].some(([day, { files }]) => day >= olderThanDay && files > 1))
    await world.assertEveryRowOnce('after the run')

    // Markers: the newest of each partition, carried through the compactions' snapshots.
    const snapshots = await world.sink.snapshots(world.tableId)
    const markers = snapshots.at(-1)!.markers
    for (let p = 0; p < PARTITIONS; p++) assert.equal(markers[`${TOPIC}/${p}`], world.last.get(p)!.seq)
    // A restart's roll-forward of a checkpoint (its staged files, committed again by a new process)
    // writes nothing: neither the last one nor the first, whose files compaction replaced long ago.
    await world.assertRollForwardsRecognised('after the run')
    await world.assertEveryRowOnce('after the roll-forwards')
  })

  void test('compacting again with nothing new commits nothing; `off` and the default age come from the configuration', async () => {
    const world = new FeatureWorld(SETTINGS)
    for (let t = 0; t < 12; t++) {
      world.now += CHECKPOINT_MS
      await world.checkpoint(t % 2, world.rowsOf(t % 2, ROWS, world.now - HOUR))
    }
    world.now += 2 * DAY
    await world.checkpoint(0, world.rowsOf(0, 1, world.now))
    await world.scheduler.settled()
    const after = (await loadTable(world.memory, world.tableId)).metadata.snapshots.length
    world.now += SETTINGS.everyMs
    await world.checkpoint(1, world.rowsOf(1, 1, world.now))
    await world.scheduler.settled()
    // Only the checkpoint's own snapshot: the compacted partitions are not rewritten again.
    assert.equal((await loadTable(world.memory, world.tableId)).metadata.snapshots.length, after + 1)
    assert.deepEqual(world.errors, [])

    assert.equal(loadConfig({}, () => assert.fail('no file')).featureCompactionAgeMs, 2 * DAY)
    assert.equal(loadConfig({ KFS_COMPACT_OLDER_THAN_MS: 'off' }, () => assert.fail('no file')).featureCompactionAgeMs, null)
    assert.equal(loadConfig({ KFS_COMPACT_OLDER_THAN_MS: '7d' }, () => assert.fail('no file')).featureCompactionAgeMs, 7 * DAY)
  })

  void test("kfs run's runtime compacts (not with KFS_COMPACT_OLDER_THAN_MS=off, nor other commands' runtimes)", async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'kfs-run-compaction-'))
    try {
      let turnsTaken = 0
      for (const { env, compacts, expected } of [
        { env: {}, compacts: true, expected: true },
        { env: { KFS_COMPACT_OLDER_THAN_MS: 'off' }, compacts: true, expected: false },
        { env: {}, compacts: false, expected: false },
      ]) {
        const world = new FeatureWorld(SETTINGS)
        const memory = new MemoryObjectStore('memory://kfs', world.clock)
        const config = loadConfig({ KFS_DATA_DIR: dataDir, KFS_LOG_LEVEL: 'silent', ...env }, () => assert.fail('no file'))
        const runtime = await createRuntime(config, {
          clock: world.clock,
          logger: silentLogger,
          ports: { store: memory },
          compactsTables: compacts,
        })
        const replaced = async (): Promise<boolean> =>
          (await loadTable(memory, world.tableId)).metadata.snapshots.some((s) => s.summary?.operation === 'replace')
        try {
          const commit = async (rows: Parameters<IcebergOfflineSink['stageFeatureRows']>[1], seq: number): Promise<void> =>
            runtime.offline.commit(
              world.tableId,
              [await runtime.offline.stageFeatureRows(VIEW, rows)],
              { [`${TOPIC}/0`]: seq },
              {},
            )
          for (let seq = 1; seq <= 4; seq++) {
            world.now += HOUR
            await commit(world.rowsOf(0, ROWS, world.now), seq)
          }
          // Three days on, the next checkpoint makes the first day's compaction due.
          world.now += 3 * DAY
          await commit(world.rowsOf(0, 1, world.now), 5)
          let turns = 0
          const budget = expected ? 10_000 : 2 * turnsTaken + 100
          while (turns < budget && !(await replaced())) {
            await new Promise((resolve) => setImmediate(resolve))
            turns++
          }
          if (expected) turnsTaken = turns
          assert.equal(await replaced(), expected, JSON.stringify(env))
          // What `kfs run` exposes on /metrics (main/commands/run.ts): the runtime's own scheduler's counts.
          // (Its count follows the commit by a few turns: the run ends after its commit's last write.)
          for (let i = 0; expected && i < 1000 && runtime.compactionStats?.features.runs.committed === 0; i++) await new Promise((resolve) => setImmediate(resolve))
          assert.equal(runtime.compactionStats?.features.runs.committed, expected ? 1 : undefined, JSON.stringify(env))
        } finally {
          await runtime.close()
        }
      }
    } finally {
      await rm(dataDir, { recursive: true, force: true })
    }
  })

  void test('stopping (the engine closing) ends a compaction under way before its commit: nothing reported, the table and its files as they were', async () => {
    let armed = false
    let stoppedAfter: string | undefined
    // The engine stops once the compaction has written its first file.
    const world: FeatureWorld = new FeatureWorld(
      { ...SETTINGS, maxRowsPerFile: 12 },
      {
        store: (memory) => ({
          ...forwardingStore(memory),
          put: async (key, body) => {
            await memory.put(key, body)
            if (armed && stoppedAfter === undefined && key.endsWith('.parquet')) {
              stoppedAfter = key
              void world.scheduler.stop()
            }
          },
        }),
      },
    )
    for (let t = 0; t < 12; t++) {
      world.now += CHECKPOINT_MS
      await world.checkpoint(t % 2, world.rowsOf(t % 2, ROWS, world.now - HOUR))
    }
    world.now += 2 * DAY
    const dataFiles = async (): Promise<number> => (await world.memory.list(`${world.tableId}/data/`)).length
    const before = await dataFiles()
    await world.checkpoint(0, world.rowsOf(0, 1, world.now))
    armed = true
    await world.scheduler.settled()
    assert.ok(stoppedAfter !== undefined, 'the compaction wrote no file')
    assert.deepEqual(world.errors, [])
    assert.equal(await dataFiles(), before + 1, 'only the checkpoint added a file: the compaction deleted its own')
    assert.ok(!(await loadTable(world.memory, world.tableId)).metadata.snapshots.some((s) => s.summary?.operation === 'replace'))
    // And it starts none after.
    world.now += SETTINGS.everyMs
    await world.checkpoint(1, world.rowsOf(1, 1, world.now))
    await world.scheduler.settled()
    assert.equal(await dataFiles(), before + 2)
    await world.assertEveryRowOnce('after the stop')
  })

  void test('the rewrite of a big day partition holds at most one output file of rows (plus one input file) at once', async () => {
    const memory = new MemoryObjectStore()
    const schema = clicksSchema()
    let table = await createTable(memory, 'wh/big', { schema, partitionSpec: dayPartitionSpec(schema, 'as_of') })
    const T0 = Date.UTC(2026, 0, 5)
    const FILES = 60
    const PER_FILE = 7
    const MAX_ROWS = 50
    const files: DataFile[] = []
    for (let f = 0; f < FILES; f++)
      files.push(
        ...(await writeDataFiles(
          table,
          Array.from({ length: PER_FILE }, (_, i) => ({
            entity_key: `k${(f + i) % 5}`,
            as_of: T0 + f * 1000 + i,
            clicks: f * PER_FILE + i,
          })),
          { parquetWorker: false },
        )),
      )
    for (let i = 0; i < FILES; i += 10) table = (await appendFiles(table, files.slice(i, i + 10))).table
    const before: string[] = []
    for await (const r of readRows(table)) before.push(`${String(r.entity_key)}|${String(r.as_of)}|${String(r.clicks)}`)

    const rowsOfInput = new Map(
      (await liveEntriesOf(table)).map((e) => [keyOfStoreUri(memory, e.dataFile.filePath), e.dataFile.recordCount]),
    )
    let held = 0
    let peak = 0
    let written = 0
    const counting = {
      ...forwardingStore(memory),
      get: async (key: string) => {
        const bytes = await memory.get(key)
        held += rowsOfInput.get(key) ?? 0
        peak = Math.max(peak, held)
        return bytes
      },
      put: async (key: string, body: Uint8Array) => {
        if (key.endsWith('.parquet')) {
          const { rows } = await parquetFileInfo(body)
          held -= rows
          written += rows
        }
        return memory.put(key, body)
      },
    }
    const result = await compactPartitions(await loadTable(counting, 'wh/big'), {
      olderThanDay: Math.floor(T0 / DAY) + 1,
      maxRowsPerFile: MAX_ROWS,
      parquetWorker: false,
    })
    assert.ok(peak <= MAX_ROWS + PER_FILE, `${peak} rows held at once, more than ${MAX_ROWS} (+ one input file's ${PER_FILE})`)
    assert.equal(written, FILES * PER_FILE, 'every row was rewritten')
    assert.equal(result.removedFiles, FILES)
    assert.equal(result.addedFiles, Math.ceil((FILES * PER_FILE) / MAX_ROWS))
    const after: string[] = []
    for await (const r of readRows(await loadTable(memory, 'wh/big')))
      after.push(`${String(r.entity_key)}|${String(r.as_of)}|${String(r.clicks)}`)
    assert.deepEqual(
      after,
      [...before].sort((a, b) => Number(a.split('|')[2]) - Number(b.split('|')[2])),
      'the same rows, in commit order',
    )
    const entries = await liveEntriesOf(await loadTable(memory, 'wh/big'))
    assert.ok(entries.every((e) => e.dataFile.recordCount <= MAX_ROWS))
  })
})
