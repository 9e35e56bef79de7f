/**
 * Group commit under faults (docs/semantics.md §11 "Group commit"): partitions checkpointing at
 * the same time commit their archive and feature-table files through one sink (engine/roll-forward.ts,
 * the engine's step 4), and their commits to a table land together. Each object-store call of that
 * phase is faulted in turn — failing before it happened, after it happened (its answer lost), and as
 * a crash (that call and every later one never answer: the process is gone) — then a restarted
 * process rolls every partition's published record forward again, as the engine's restore does, and
 * takes the next checkpoint. No row may be lost or doubled at any point, every snapshot holds exactly
 * the rows of the checkpoints its markers show, and the markers, offsets and rows-through end right.
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import type { PartitionCheckpoint } from '../../../engine/checkpoint-store.ts'
import { GroupWorld, InjectedFault, sinkOn, stagedWorld, StepStore, type StepFault } from './group-commit-world.ts'

const PARTITIONS = 3
const partitions = Array.from({ length: PARTITIONS }, (_, p) => p)
const through = (seq: number): Map<number, number> => new Map(partitions.map((p) => [p, seq]))

/** Every partition's checkpoints 1–3, staged (no table holds them yet). */
const staged = stagedWorld(PARTITIONS, 3)

/** A world whose tables hold every partition's checkpoint 1, with checkpoints 2 and 3 published and staged. */
async function prepared(): Promise<{ world: GroupWorld; records: PartitionCheckpoint[] }> {
  const world = await (await staged).copy()
  const sink = sinkOn(world.memory)
  await Promise.all(partitions.map(async (p) => world.rollForward(sink, await world.record(p, 1))))
  const records = await Promise.all(partitions.map((p) => world.record(p, 2)))
  return { world, records }
}

/** Resolves once the store has seen no call for a while: a crashed process has done all it will. */
async function quiet(step: StepStore): Promise<void> {
  for (let still = 0, seen = step.calls; still < 20;) {
    await new Promise((resolve) => setImmediate(resolve))
    still = step.calls === seen ? still + 1 : 0
    seen = step.calls
  }
}

interface Phase {
  readonly step: StepStore
  /** Per partition: resolved, rejected (with what), or never answered (a crash). */
  readonly outcomes: ('resolved' | { readonly err: unknown } | 'pending')[]
}

/** Every partition's checkpoint 2 rolled forward at once, through one sink on a store faulted as `fault` says. */
async function groupPhase(
  world: GroupWorld,
  records: readonly PartitionCheckpoint[],
  fault?: { at: number; how: StepFault },
): Promise<Phase> {
  const step = new StepStore(world.memory)
  step.fault = fault
  step.counting = true
  const sink = sinkOn(step.store)
  const outcomes: Phase['outcomes'] = records.map(() => 'pending')
  const runs = records.map((record, i) =>
    world.rollForward(sink, record).then(
      () => void (outcomes[i] = 'resolved'),
      (err: unknown) => void (outcomes[i] = { err }),
    ),
  )
  if (fault?.how === 'crash') await quiet(step)
  else await Promise.all(runs)
  step.counting = false
  return { step, outcomes }
}

void describe('iceberg > group commit under faults', () => {
  void test('every call of a group commit faulted in turn, and a crash at each: no row lost or doubled, markers right after the restart rolls forward', async () => {
    // The healthy phase: how many calls it makes, and that its commits were grouped at all.
    const healthy = await prepared()
    const before = await healthy.world.assertTables(through(1))
    const { step: dry, outcomes } = await groupPhase(healthy.world, healthy.records)
    assert.deepEqual(
      outcomes,
      partitions.map(() => 'resolved'),
    )
    const after = await healthy.world.assertTables(through(2))
    assert.ok(
      after.archive - before.archive < PARTITIONS,
      `archive: ${after.archive - before.archive} snapshots for ${PARTITIONS} partitions' checkpoints: grouped`,
    )
    assert.ok(
      after.feature - before.feature < PARTITIONS,
      `feature table: ${after.feature - before.feature} snapshots for ${PARTITIONS} partitions' checkpoints: grouped`,
    )
    const calls = dry.calls
    assert.ok(calls > 10, `${calls} calls`)

    let rejectedTogether = 0
    let crashedMidway = 0
    for (let at = 0; at < calls; at++) {
      for (const how of ['before', 'after', 'crash'] as const) {
        const where = `${how} at call ${at} of ${calls}`
        const { world, records } = await prepared()
        const { step, outcomes } = await groupPhase(world, records, { at, how })
        assert.ok(step.calls > at, `${where}: the fault was reached`)
        for (const o of outcomes) {
          if (typeof o === 'object')
            assert.ok(
              o.err instanceof InjectedFault || (o.err instanceof Error && o.err.cause !== undefined),
              `${where}: a clean failure, not ${String(o.err)}`,
            )
          if (how !== 'crash') assert.notEqual(o, 'pending', `${where}: every checkpoint got its answer`)
        }
        // Whatever happened so far: no snapshot holds a checkpoint in part, or twice.
        await world.assertSnapshots('archive')
        const feature = await world.assertSnapshots('feature')
        // A checkpoint that reported success holds in both tables.
        const markers = feature.at(-1)?.markers ?? {}
        for (const [p, o] of outcomes.entries())
          if (o === 'resolved') assert.equal(markers[`kfs-engine/clicks/${p}`], 2, `${where}: partition ${p} reported success`)
        if (outcomes.filter((o) => typeof o === 'object').length > 1) rejectedTogether++
        if (how === 'crash' && outcomes.some((o) => o === 'resolved') && outcomes.some((o) => o === 'pending')) crashedMidway++
        // The restart: a new process rolls every partition's latest record forward, then checkpoints on.
        const restarted = sinkOn(world.memory)
        await Promise.all(records.map((record) => world.rollForward(restarted, record)))
        await world.assertTables(through(2))
        await Promise.all(partitions.map(async (p) => world.rollForward(restarted, await world.record(p, 3))))
        await world.assertTables(through(3))
      }
    }
    // Not vacuous: a group's failure reached several checkpoints at once, and a crash left some done, some not.
    assert.ok(rejectedTogether > 0, 'no fault rejected more than one checkpoint')
    assert.ok(crashedMidway > 0, 'no crash fell between two groups')
  })
})
