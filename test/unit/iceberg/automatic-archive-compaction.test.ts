/**
 * `kfs run`'s automatic compaction of its archives (adapters/offline/iceberg/automatic-compaction.ts
 * `archiveCompaction`, the scheduler the feature tables use): a long simulated run — checkpoints of
 * several partitions with records, tombstones, records that do not decode and idle markers — keeps
 * the old archive files of every partition few, while every partition reads the reference's records
 * in its order and ends where it does, a restart's roll-forward of any checkpoint is recognised, and
 * `kfs compact` finds nothing left to do. And `kfs run`'s runtime compacts archives (not with `off`);
 * a compaction holds at most one merged file's rows at once, counted at the store.
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { MemoryObjectStore } from '../../../adapters/object-store/index.ts'
import { loadTable } from '../../../adapters/offline/iceberg/index.ts'
import { archiveFilesInReadOrder } from '../../../adapters/offline/iceberg/archive-reader.ts'
import { liveEntriesOf } from '../../../adapters/offline/iceberg/table-reader.ts'
import { compactArchiveTable } from '../../../adapters/offline/iceberg/archive-compaction.ts'
import { keyOfStoreUri } from '../../../ports/object-store-keys.ts'
import { parquetFileInfo } from '../../../adapters/offline/parquet/index.ts'
import { silentLogger } from '../../../core/logger.ts'
import { loadConfig } from '../../../main/config.ts'
import { createRuntime } from '../../../main/runtime.ts'
import { forwardingStore } from '../../support/forwarding-store.ts'
import { ArchiveWorld, assertReadsReference, fixedItems, MINUTE, TOPIC } from './archive-world.ts'

const HOUR = 60 * MINUTE
const PARTITIONS = 3
const ROUNDS = 48
const CHECKPOINT_MS = HOUR
const SETTINGS = { olderThanMs: 6 * HOUR, everyMs: 2 * HOUR, maxPartitions: 2, maxArchiveFiles: 12, maxRowsPerFile: 20 }

/** Per partition, its live files and their rows. */
async function liveFiles(world: ArchiveWorld): Promise<Map<number, { files: number; rows: number }>> {
  const entries = await liveEntriesOf(await loadTable(world.store, world.tableId))
  const out = new Map<number, { files: number; rows: number }>()
  for (const p of world.partitions) {
    const files = archiveFilesInReadOrder(entries, TOPIC, p)
    out.set(p, { files: files.length, rows: files.reduce((n, f) => n + f.e.dataFile.recordCount, 0) })
  }
  return out
}

const replaces = async (world: ArchiveWorld): Promise<number> =>
  (await loadTable(world.store, world.tableId)).metadata.snapshots.filter((s) => s.summary?.operation === 'replace').length

void describe('iceberg > automatic compaction of archives in the engine', () => {
  void test('a long run: old archive files stay few, every partition reads the reference in order, roll-forwards are recognised', async () => {
    const world = new ArchiveWorld(new MemoryObjectStore()).compactInRun(SETTINGS)
    // Files a partition may hold: not yet old enough (committed within olderThanMs, and until the
    // next compaction is due), plus its old rows in files of about maxRowsPerFile and a tail left.
    const young = (SETTINGS.olderThanMs + 2 * SETTINGS.everyMs) / CHECKPOINT_MS + 1
    let worst = -Infinity
    for (let t = 0; t < ROUNDS; t++) {
      world.clock.now += CHECKPOINT_MS
      // The partitions commit one after the other without waiting for compaction, as the engine's checkpoints do.
      for (let p = 0; p < PARTITIONS; p++) await world.append(p, fixedItems(t + p))
      await world.scheduler!.settled()
      for (const [p, { files, rows }] of await liveFiles(world)) {
        worst = Math.max(worst, files - (young + Math.ceil(rows / SETTINGS.maxRowsPerFile) + 2))
        // Without compaction a partition holds a file per checkpoint: the bound means something.
        if (t === ROUNDS - 1) assert.ok(files < (t + 1) / 2, `partition ${p}: ${files} files after ${t + 1} checkpoints`)
      }
    }
    assert.deepEqual(world.errors, [])
    assert.ok((await replaces(world)) > 3, 'compactions ran')
    assert.ok(worst <= 0, `a partition held ${worst} files more than its old rows make and its young files`)
    await assertReadsReference(world, 'after the run')
    await world.assertRollForwardsRecognised('after the run')
    await assertReadsReference(world, 'after the roll-forwards')

    // A few more compactions, due: then `kfs compact` at the same age finds nothing left.
    for (let i = 0; i < 4; i++) {
      world.clock.now += SETTINGS.everyMs
      await world.append(i % PARTITIONS, fixedItems(i))
      await world.scheduler!.settled()
    }
    assert.deepEqual(
      await world.newSink().compactArchive(TOPIC, {
        committedBeforeMs: world.clock.now - SETTINGS.olderThanMs,
        rowsPerFile: SETTINGS.maxRowsPerFile,
      }),
      { removedFiles: 0, addedFiles: 0, status: undefined },
    )
    await assertReadsReference(world, 'at the end')
    assert.deepEqual(world.errors, [])
  })

  void test('stopping (the engine closing) ends an archive compaction under way before its commit: nothing reported, its files deleted', async () => {
    const memory = new MemoryObjectStore()
    let armed = false
    let stoppedAfter: string | undefined
    const world = new ArchiveWorld(memory)
    for (let t = 0; t < 12; t++) {
      world.clock.now += CHECKPOINT_MS
      await world.append(t % 2, fixedItems(t))
    }
    // The engine stops once the compaction has written its first file.
    world.compactInRun(
      { ...SETTINGS, maxRowsPerFile: 6 },
      {
        ...forwardingStore(memory),
        put: async (key, body) => {
          await memory.put(key, body)
          if (armed && stoppedAfter === undefined && key.endsWith('.parquet')) {
            stoppedAfter = key
            void world.scheduler!.stop()
          }
        },
      },
    )
    world.clock.now += SETTINGS.olderThanMs + SETTINGS.everyMs
    const dataFiles = async (): Promise<number> => (await memory.list(`${world.tableId}/data/`)).length
    const before = await dataFiles()
    await world.append(0, fixedItems(1))
    armed = true
    await world.scheduler!.settled()
    assert.ok(stoppedAfter !== undefined, 'the compaction wrote no file')
    assert.deepEqual(world.errors, [])
    assert.equal(await dataFiles(), before + 1, 'only the checkpoint added a file: the compaction deleted its own')
    assert.equal(await replaces(world), 0)
    await assertReadsReference(world, 'after the stop')
  })

  void test("kfs run's runtime compacts archives (not with KFS_COMPACT_OLDER_THAN_MS=off, nor other commands' runtimes)", async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'kfs-run-archive-compaction-'))
    try {
      let turnsTaken = 0
      for (const { env, compacts, expected } of [
        { env: {}, compacts: true, expected: true },
        { env: { KFS_COMPACT_OLDER_THAN_MS: 'off' }, compacts: true, expected: false },
        { env: {}, compacts: false, expected: false },
      ]) {
        const world = new ArchiveWorld(new MemoryObjectStore())
        const config = loadConfig({ KFS_DATA_DIR: dataDir, KFS_LOG_LEVEL: 'silent', ...env }, () => assert.fail('no file'))
        const runtime = await createRuntime(config, {
          clock: world.clock,
          logger: silentLogger,
          ports: { store: world.store },
          compactsTables: compacts,
        })
        try {
          const engine = runtime.offline as ArchiveWorld['sink']
          for (let i = 0; i < 4; i++) {
            world.clock.now += HOUR
            await world.append(0, fixedItems(i), engine)
          }
          // Three days on (past the default two), the next checkpoint makes the archive's compaction due.
          world.clock.now += 3 * 24 * HOUR
          await world.append(0, fixedItems(4), engine)
          let turns = 0
          const budget = expected ? 10_000 : 2 * turnsTaken + 100
          while (turns < budget && (await replaces(world)) === 0) {
            await new Promise((resolve) => setImmediate(resolve))
            turns++
          }
          if (expected) turnsTaken = turns
          assert.equal((await replaces(world)) > 0, expected, JSON.stringify({ env, compacts }))
          await assertReadsReference(world, JSON.stringify(env))
        } finally {
          await runtime.close()
        }
      }
    } finally {
      await rm(dataDir, { recursive: true, force: true })
    }
  })

  void test('a bounded archive compaction takes from every partition in turn, and holds at most one merged file of rows (plus its last input file) at once', async () => {
    const world = new ArchiveWorld(new MemoryObjectStore())
    for (let i = 0; i < 40; i++) {
      world.clock.now += MINUTE
      await world.append(i % 2, fixedItems(i))
    }
    world.clock.now += HOUR
    const memory = world.store
    const entries = await liveEntriesOf(await loadTable(memory, world.tableId))
    const rowsOfInput = new Map(entries.map((e) => [keyOfStoreUri(memory, e.dataFile.filePath), e.dataFile.recordCount]))
    const largest = Math.max(...rowsOfInput.values())
    const ROWS = 12
    let held = 0
    let peak = 0
    let written = 0
    const counting = {
      ...forwardingStore(memory),
      get: async (key: string) => {
        held += rowsOfInput.get(key) ?? 0
        peak = Math.max(peak, held)
        return memory.get(key)
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
    const result = await compactArchiveTable(await loadTable(counting, world.tableId), TOPIC, {
      committedBeforeMs: world.clock.now,
      rowsPerFile: ROWS,
      maxFiles: 16,
      parquetWorker: false,
    })
    assert.equal(result.status, 'committed')
    assert.ok(
      result.removedFiles >= 16 && result.removedFiles < entries.length,
      `${result.removedFiles} files replaced of ${entries.length}`,
    )
    assert.ok(written > 2 * ROWS, `${written} rows rewritten`)
    assert.ok(peak <= ROWS + largest, `${peak} rows held at once, more than ${ROWS} (+ one input file's ${largest})`)
    // Bounded, it takes from every partition in turn: each one's backlog goes down.
    const after = await liveFiles(world)
    for (const p of world.partitions) {
      const before = archiveFilesInReadOrder(entries, TOPIC, p).length
      assert.ok(after.get(p)!.files < before, `partition ${p}: ${after.get(p)!.files} files, ${before} before`)
    }
    await assertReadsReference(world, 'after it')
  })
})
