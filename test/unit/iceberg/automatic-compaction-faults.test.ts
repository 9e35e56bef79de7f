/**
 * Every step of the engine's automatic compaction faulted (adapters/offline/iceberg/automatic-compaction.ts):
 * each object-store call a compaction of a feature table makes — reads of metadata, manifests and
 * data files, writes of data files and manifests, the metadata commit — fails in turn, before it
 * happened and after it happened (its answer lost; a create answered "already exists"); and, in
 * turn at each call, an engine checkpoint commits to the same table first (a racing append). After
 * each: every committed row is read once, in archive order; a failure was reported, never thrown
 * at the engine; the engine's next checkpoints commit, a later compaction compacts, and a
 * restart's roll-forward of any checkpoint is still recognised.
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { loadTable } from '../../../adapters/offline/iceberg/index.ts'
import { FeatureStoreError } from '../../../core/errors.ts'
import { copyOf, DAY, FeatureWorld, HOUR } from './feature-compaction-world.ts'
import { everyStepFaultedOrRaced, InjectedFault, StepStore, type Fault, type StepOutcome } from '../../support/step-store.ts'

const SETTINGS = { olderThanMs: DAY, everyMs: HOUR, maxPartitions: 3, maxRowsPerFile: 5 }
/** A day of checkpoints of two partitions (18 rows in 6 files: 4 files compacted), not compacted yet (their age is not reached). */
async function baseWorld(): Promise<FeatureWorld> {
  const world = new FeatureWorld({ ...SETTINGS, olderThanMs: 365 * DAY })
  for (let t = 0; t < 3; t++) {
    world.now += 6 * HOUR
    for (let p = 0; p < 2; p++) await world.checkpoint(p, world.rowsOf(p, 3, world.now - HOUR))
  }
  world.now += 2 * DAY
  await world.scheduler.settled()
  return world
}

/** One compaction on a copy of `base`'s table, its `at`-th call faulted or raced; the oracle checked after it. */
async function runOnce(base: FeatureWorld, at: number, fault: Fault | undefined, race: boolean): Promise<StepOutcome> {
  const memory = await copyOf(base.memory, base.clock)
  let steps: StepStore | undefined
  const world = new FeatureWorld(SETTINGS, { memory, store: (m) => (steps = new StepStore(m)).store }).continueFrom(base)
  const replaces = async (): Promise<number> =>
    (await loadTable(memory, world.tableId)).metadata.snapshots.filter((s) => s.summary?.operation === 'replace').length
  // The checkpoint that makes the compaction due; the compaction starts on a later turn, armed.
  await world.checkpoint(0, world.rowsOf(0, 2, world.now))
  steps!.armed = true
  steps!.at = at
  steps!.fault = fault
  steps!.race = race ? () => world.checkpoint(1, world.rowsOf(1, 2, world.now)).then(() => undefined) : undefined
  await world.scheduler.settled()
  steps!.armed = false
  const what = `${race ? 'race' : fault} at call ${at} (${steps!.calls[at] ?? 'none'})`
  for (const err of world.errors)
    assert.ok(err instanceof InjectedFault || err instanceof FeatureStoreError, `${what}: ${String(err)}`)
  const compacted = (await replaces()) > 0
  await world.assertEveryRowOnce(what)
  await world.assertRollForwardsRecognised(what)

  // The engine goes on: its checkpoints commit, and the next compaction due compacts every old day.
  world.now += SETTINGS.everyMs
  await world.checkpoint(1, world.rowsOf(1, 2, world.now))
  await world.scheduler.settled()
  assert.equal(world.errors.length, compacted ? 0 : 1, `${what}: ${world.errors.map(String).join('; ')}`)
  const olderThanDay = Math.floor((world.now - SETTINGS.olderThanMs) / DAY)
  for (const [day, { files, rows }] of await world.partitions())
    if (day < olderThanDay)
      assert.equal(files, Math.ceil(rows / SETTINGS.maxRowsPerFile), `${what}: day ${day} after the next compaction`)
  await world.assertEveryRowOnce(`${what}, then`)
  return { calls: steps!.calls, compacted, errors: world.errors }
}

void describe('iceberg > automatic compaction, every step faulted or raced', () => {
  void test('each store call of a compaction failing each way, and an engine checkpoint committing at each: no row lost or doubled, the engine goes on', async () => {
    const base = await baseWorld()
    await everyStepFaultedOrRaced((at, fault, race) => runOnce(base, at, fault, race))
  })
})
