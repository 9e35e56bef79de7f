/**
 * A version hint that lags (its writes are best effort: each failed while the commits landed) and
 * orphan removal: the metadata versions from the hinted one up stay, as snapshot expiry keeps them
 * (docs/semantics.md §23, §25). A writer holding a version in memory probes the next one, and only
 * a hint ahead of it tells "deleted" from "not yet written": removing the versions between the
 * hint and the metadata log made an idle writer's next commit create a version number that had
 * been deleted — unseen by every reader, its rows lost.
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { loadTable, readRows } from '../../../adapters/offline/iceberg/index.ts'
import { metadataKey, readVersionHint } from '../../../adapters/offline/iceberg/iceberg-table.ts'
import { IcebergOfflineSink } from '../../../adapters/offline/iceberg/offline-sink.ts'
import { removeOrphanFiles } from '../../../adapters/offline/iceberg/orphan-files.ts'
import { DEFAULT_ORPHAN_MIN_AGE_MS } from '../../../ports/offline-compaction.ts'
import { archiveRows } from '../../support/archive-rows.ts'
import { DAY, OrphanWorld, PATH, TOPIC } from './orphan-world.ts'

/** Commits that fall off the metadata log (it names the last 100 versions). */
const COMMITS = 104

void describe('iceberg > orphan removal with a lagging version hint', () => {
  void test('the versions from the hinted one up stay, and an idle writer’s next commit is seen', async () => {
    const world = await OrphanWorld.create()
    world.store.arm({ operation: 'put', key: /version-hint\.text$/, when: 'before', skip: 0, times: 1e9 })
    // An engine that committed once and then went idle, holding its version in memory.
    const idle = new IcebergOfflineSink(world.memory, { clock: world.clock, parquetWorker: false })
    await idle.commit(world.tableId, [await idle.stageArchiveRows(TOPIC, archiveRows(1_000, 1_001))], { 'idle/0': 1 }, {})
    const held = (await loadTable(world.memory, PATH)).version
    for (let i = 0; i < COMMITS; i++) await world.append(0, 1)
    const hint = await readVersionHint(world.memory, PATH)
    assert.ok(hint !== undefined && hint <= held, `the hint lags (v${hint}, the idle writer holds v${held})`)

    world.now += DEFAULT_ORPHAN_MIN_AGE_MS + DAY
    await removeOrphanFiles(world.memory, PATH, { clock: world.clock })
    for (let v = hint; v <= held + COMMITS; v++)
      assert.ok(await world.memory.get(metadataKey(PATH, v)), `v${v}, at or after the hint, stays`)

    await idle.commit(world.tableId, [await idle.stageArchiveRows(TOPIC, archiveRows(2_000, 2_001))], { 'idle/0': 2 }, {})
    const offsets: string[] = []
    for await (const r of readRows(await loadTable(world.memory, PATH))) offsets.push(String(r.offset))
    assert.ok(offsets.includes('2000'), 'the idle writer’s commit is read')
    assert.equal(offsets.length, 1 + COMMITS + 1)
  })
})
