/**
 * A version hint that lags or is gone (its writes are best effort: each may fail while the commits
 * land) under the clean-ups that delete old metadata versions — snapshot expiry and orphan removal
 * (docs/semantics.md §11, §23, §25). A writer holding a version in memory (an idle engine) probes
 * the next one: missing may mean "not yet written" or "deleted". Before, it took a deleted one for
 * the first, created that version number again, and wrote the hint to it: readers following the
 * hint then read that version as the newest, every commit after it gone.
 *
 * Pinned: orphan removal keeps the versions from the hinted one up, as expiry does; and a writer
 * whose hint is behind the version it holds, or gone, asks the listing before it commits.
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

const CLEAN_UPS: Readonly<Record<string, (world: OrphanWorld) => Promise<unknown>>> = {
  'orphan removal': (w) => removeOrphanFiles(w.memory, PATH, { clock: w.clock }),
  'snapshot expiry': (w) => w.sink.expireSnapshots({ kind: 'archive', topic: TOPIC }, { maxAgeMs: 1, minSnapshots: 1 }),
}

void describe('iceberg > a lagging or missing version hint and the clean-ups', () => {
  for (const hint of ['lagging', 'gone'] as const) {
    for (const [name, cleanUp] of Object.entries(CLEAN_UPS)) {
      void test(`hint ${hint}, ${name}: an idle writer’s next commit lands after every other, and readers see them all`, async () => {
        const world = await OrphanWorld.create()
        world.store.arm({ operation: 'put', key: /version-hint\.text$/, when: 'before', skip: 0, times: 1e9 })
        // An engine that committed once and then went idle, holding its version in memory.
        const idle = new IcebergOfflineSink(world.memory, { clock: world.clock, parquetWorker: false })
        await idle.commit(world.tableId, [await idle.stageArchiveRows(TOPIC, archiveRows(1_000, 1_001))], { 'idle/0': 1 }, {})
        const held = (await loadTable(world.memory, PATH)).version
        if (hint === 'gone') await world.memory.delete(`${PATH}/metadata/version-hint.text`)
        else await world.memory.put(`${PATH}/metadata/version-hint.text`, new TextEncoder().encode('1'))
        for (let i = 0; i < COMMITS; i++) await world.append(0, 1)
        world.now += DEFAULT_ORPHAN_MIN_AGE_MS + DAY
        await cleanUp(world)
        if (hint === 'lagging') {
          const hinted = (await readVersionHint(world.memory, PATH))!
          for (let v = hinted; v <= held + COMMITS; v++)
            assert.ok(await world.memory.get(metadataKey(PATH, v)), `v${v}, at or after the hint, stays`)
        }

        const newest = (await loadTable(world.memory, PATH)).version
        await idle.commit(world.tableId, [await idle.stageArchiveRows(TOPIC, archiveRows(2_000, 2_001))], { 'idle/0': 2 }, {})
        const table = await loadTable(world.memory, PATH)
        assert.equal(table.version, newest + 1, 'the idle writer committed the next version, not a deleted one')
        const offsets: string[] = []
        for await (const r of readRows(table)) offsets.push(String(r.offset))
        assert.ok(offsets.includes('2000'), 'the idle writer’s commit is read')
        assert.equal(offsets.length, 1 + COMMITS + 1, 'and every commit before it')
      })
    }
  }
})
