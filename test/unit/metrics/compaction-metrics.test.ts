/**
 * What `kfs run`'s background compactions do is on the engine's /metrics (main/metrics-server.ts,
 * from the scheduler's CompactionStats): runs by kind and outcome, files replaced and written,
 * manifests decoded, when the last one ended and how long it took. A feature table and an archive
 * are compacted through the real scheduler: each counter moves by what the table's `replace`
 * snapshots say, a second attempt with nothing to do counts as `nothing`, a failing one as
 * `failed`; the exposition passes `promtool check metrics`; the pacing variables reach the
 * scheduler's settings.
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { loadTable } from '../../../adapters/offline/iceberg/index.ts'
import type { IcebergTable } from '../../../adapters/offline/iceberg/iceberg-table.ts'
import { createEngineStats } from '../../../engine/engine-stats.ts'
import { loadConfig } from '../../../main/config.ts'
import { createEngineMetrics } from '../../../main/metrics-server.ts'
import type { CompactionStats } from '../../../ports/offline-compaction.ts'
import { forwardingStore } from '../../support/forwarding-store.ts'
import { promtool } from '../../support/promtool.ts'
import { ArchiveWorld, fixedItems, MINUTE } from '../iceberg/archive-world.ts'
import { DAY, FeatureWorld, HOUR } from '../iceberg/feature-compaction-world.ts'

/** The value of each sample of the exposition, by its series as written (name and labels). */
async function scrape(stats: CompactionStats, nowMs: number): Promise<Map<string, number>> {
  const text = await createEngineMetrics(
    createEngineStats(),
    { nowMs: () => nowMs, sleep: async () => undefined },
    [],
    stats,
  ).metrics()
  const lint = promtool(['check', 'metrics'], text)
  assert.equal(lint.status, 0, `promtool check metrics\n${lint.stdout}${lint.stderr}`)
  const out = new Map<string, number>()
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#') || !line.startsWith('kfs_compaction_')) continue
    const at = line.lastIndexOf(' ')
    out.set(line.slice(0, at), Number(line.slice(at + 1)))
  }
  return out
}

/** What the table's replace snapshots replaced and wrote, summed. */
function replaced(table: IcebergTable): { removed: number; added: number; commits: number } {
  const replaces = table.metadata.snapshots.filter((s) => s.summary?.operation === 'replace')
  return {
    removed: replaces.reduce((n, s) => n + Number(s.summary?.['deleted-data-files']), 0),
    added: replaces.reduce((n, s) => n + Number(s.summary?.['added-data-files']), 0),
    commits: replaces.length,
  }
}

void describe('metrics > background compaction', () => {
  void test('feature table: committed, nothing, failed — each counted, the files as the snapshots say', async () => {
    let failing = false
    const world = new FeatureWorld(
      { olderThanMs: DAY, everyMs: HOUR, maxPartitions: 5, maxRowsPerFile: 10 },
      {
        store: (memory) => ({
          ...forwardingStore(memory),
          put: async (key, body) => {
            if (failing && key.endsWith('.parquet') && key.includes('/data/')) throw new Error('injected: store down')
            return memory.put(key, body)
          },
        }),
      },
    )
    const empty = await scrape(world.scheduler.stats, world.now)
    assert.equal(empty.get('kfs_compaction_runs_total{kind="features",outcome="committed"}'), 0)
    assert.equal(empty.get('kfs_compaction_last_run_timestamp_seconds{kind="features"}'), undefined, 'no run yet, no time')
    for (let t = 0; t < 8; t++) {
      world.now += 3 * HOUR
      await world.checkpoint(t % 2, world.rowsOf(t % 2, 4, world.now))
    }
    await world.scheduler.settled()
    world.now += 2 * DAY
    await world.checkpoint(0, world.rowsOf(0, 4, world.now))
    await world.scheduler.settled()
    const table = await loadTable(world.memory, world.tableId)
    const done = replaced(table)
    assert.ok(done.commits > 0, 'a compaction committed')
    const after = await scrape(world.scheduler.stats, world.now)
    assert.equal(after.get('kfs_compaction_runs_total{kind="features",outcome="committed"}'), done.commits)
    assert.equal(after.get('kfs_compaction_files_rewritten_total{kind="features"}'), done.removed)
    assert.equal(after.get('kfs_compaction_files_written_total{kind="features"}'), done.added)
    assert.ok(after.get('kfs_compaction_manifests_read_total{kind="features"}')! > 0)
    assert.equal(after.get('kfs_compaction_last_run_timestamp_seconds{kind="features"}'), world.now / 1000)
    assert.equal(after.get('kfs_compaction_last_run_duration_seconds{kind="features"}'), 0, "the test's clock stands still")
    assert.equal(after.get('kfs_compaction_runs_total{kind="archive",outcome="committed"}'), 0, 'no archive compacted')

    // Nothing more to do: counted as `nothing`, no file counted.
    const nothingBefore = after.get('kfs_compaction_runs_total{kind="features",outcome="nothing"}')!
    world.now += HOUR
    await world.checkpoint(1, world.rowsOf(1, 4, world.now))
    await world.scheduler.settled()
    const idle = await scrape(world.scheduler.stats, world.now)
    assert.equal(idle.get('kfs_compaction_runs_total{kind="features",outcome="nothing"}'), nothingBefore + 1)
    assert.equal(idle.get('kfs_compaction_files_rewritten_total{kind="features"}'), done.removed)

    // Two late files make a compacted day worth compacting again, and the store fails its rewrite: `failed`.
    for (let p = 0; p < 2; p++) {
      world.now += HOUR / 2
      await world.checkpoint(p, world.rowsOf(p, 1, world.now - 2 * DAY))
    }
    // The compaction the second one made due starts on a later turn, with the store failing.
    failing = true
    await world.scheduler.settled()
    failing = false
    const failed = await scrape(world.scheduler.stats, world.now)
    assert.equal(world.errors.length, 1, world.errors.map(String).join('; '))
    assert.equal(failed.get('kfs_compaction_runs_total{kind="features",outcome="failed"}'), 1)
    assert.equal(failed.get('kfs_compaction_files_rewritten_total{kind="features"}'), done.removed)
    assert.equal(failed.get('kfs_compaction_last_run_timestamp_seconds{kind="features"}'), world.now / 1000)
  })

  void test('archive: committed runs and their files counted under kind="archive"', async () => {
    const world = new ArchiveWorld()
    world.compactInRun({ olderThanMs: 30 * MINUTE, everyMs: 10 * MINUTE, maxPartitions: 2, maxRowsPerFile: 5 })
    for (let i = 0; i < 10; i++) {
      world.clock.now += 10 * MINUTE
      await world.append(i % 2, fixedItems(i))
      await world.scheduler!.settled()
    }
    const done = replaced(await loadTable(world.store, world.tableId))
    assert.ok(done.commits > 0, 'an archive compaction committed')
    const after = await scrape(world.scheduler!.stats, world.clock.now)
    assert.equal(after.get('kfs_compaction_runs_total{kind="archive",outcome="committed"}'), done.commits)
    assert.equal(after.get('kfs_compaction_files_rewritten_total{kind="archive"}'), done.removed)
    assert.equal(after.get('kfs_compaction_files_written_total{kind="archive"}'), done.added)
    assert.equal(after.get('kfs_compaction_runs_total{kind="features",outcome="committed"}'), 0)
  })

  void test('the pacing comes from KFS_COMPACT_EVERY_MS, KFS_COMPACT_MAX_PARTITIONS and KFS_COMPACT_MAX_ARCHIVE_FILES', () => {
    const noFile = (): never => assert.fail('no file')
    assert.deepEqual(loadConfig({}, noFile).compactionPacing, { everyMs: 10 * 60_000, maxPartitions: 2, maxArchiveFiles: 10_000 })
    assert.deepEqual(
      loadConfig({ KFS_COMPACT_EVERY_MS: '1h', KFS_COMPACT_MAX_PARTITIONS: '7', KFS_COMPACT_MAX_ARCHIVE_FILES: '500' }, noFile)
        .compactionPacing,
      { everyMs: HOUR, maxPartitions: 7, maxArchiveFiles: 500 },
    )
  })
})
