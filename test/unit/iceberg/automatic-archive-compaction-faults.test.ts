/**
 * Every step of the engine's automatic compaction of an archive faulted (adapters/offline/iceberg/
 * automatic-compaction.ts `archiveCompaction`): each object-store call an in-run archive compaction
 * makes — reads of metadata, manifests and data files, writes of the merged files and manifests,
 * the metadata commit, deletes — fails in turn, before it happened and after it happened (its
 * answer lost; a create answered "already exists"); and, in turn at each call, an engine checkpoint
 * commits to the archive first (a racing append). After each: every partition reads the reference
 * in its order and ends where it does; a failure was reported, never thrown at the engine; a
 * restart's roll-forward of any checkpoint is recognised; the engine's next checkpoint commits and
 * the next compaction due leaves `kfs compact` nothing to do.
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { MemoryObjectStore } from '../../../adapters/object-store/index.ts'
import { loadTable } from '../../../adapters/offline/iceberg/index.ts'
import { FeatureStoreError } from '../../../core/errors.ts'
import { ArchiveWorld, assertReadsReference, fixedItems, MINUTE, TOPIC } from './archive-world.ts'
import { everyStepFaultedOrRaced, InjectedFault, StepStore, type Fault, type StepOutcome } from '../../support/step-store.ts'

const HOUR = 60 * MINUTE
const SETTINGS = { olderThanMs: 6 * HOUR, everyMs: HOUR, maxPartitions: 2, maxArchiveFiles: 100, maxRowsPerFile: 5 }
/** Two partitions of five checkpoints each (records, tombstones, markers, marker-only checkpoints), old enough. */
async function oldArchive(): Promise<ArchiveWorld> {
  const world = new ArchiveWorld(new MemoryObjectStore())
  for (let i = 0; i < 10; i++) {
    world.clock.now += 10 * MINUTE
    await world.append(i % 2, fixedItems(i))
  }
  world.clock.now += SETTINGS.olderThanMs + HOUR
  return world
}

const replaces = async (world: ArchiveWorld): Promise<number> =>
  (await loadTable(world.store, world.tableId)).metadata.snapshots.filter((s) => s.summary?.operation === 'replace').length

/** One in-run compaction on a copy of `base`'s archive, its `at`-th call faulted or raced; the oracle checked after it. */
async function runOnce(base: ArchiveWorld, at: number, fault: Fault | undefined, race: boolean): Promise<StepOutcome> {
  const world = await base.copy()
  const steps = new StepStore(world.store)
  world.compactInRun(SETTINGS, steps.store)
  // The checkpoint that makes the compaction due; the compaction starts on a later turn, armed.
  await world.append(0, fixedItems(0))
  steps.armed = true
  steps.at = at
  steps.fault = fault
  steps.race = race ? () => world.append(1, fixedItems(1)) : undefined
  await world.scheduler!.settled()
  steps.armed = false
  const what = `${race ? 'race' : fault} at call ${at} (${steps.calls[at] ?? 'none'})`
  for (const err of world.errors)
    assert.ok(err instanceof InjectedFault || err instanceof FeatureStoreError, `${what}: ${String(err)}`)
  const compacted = (await replaces(world)) > 0
  await assertReadsReference(world, what)
  await world.assertRollForwardsRecognised(what)

  // The engine goes on: its checkpoint commits, and the next compaction due leaves nothing to do.
  world.clock.now += SETTINGS.everyMs
  await world.append(1, fixedItems(2))
  await world.scheduler!.settled()
  assert.equal(world.errors.length, compacted ? 0 : 1, `${what}: ${world.errors.map(String).join('; ')}`)
  assert.deepEqual(
    await world
      .newSink()
      .compactArchive(TOPIC, { committedBeforeMs: world.clock.now - SETTINGS.olderThanMs, rowsPerFile: SETTINGS.maxRowsPerFile }),
    { removedFiles: 0, addedFiles: 0, status: undefined },
    `${what}: the next compaction finished the job`,
  )
  await assertReadsReference(world, `${what}, then`)
  return { calls: steps.calls, compacted, errors: world.errors }
}

void describe('iceberg > automatic archive compaction, every step faulted or raced', () => {
  void test('each store call of an in-run archive compaction failing each way, and an engine checkpoint committing at each: the same records in order, the engine goes on', async () => {
    const base = await oldArchive()
    await everyStepFaultedOrRaced((at, fault, race) => runOnce(base, at, fault, race))
  })
})
