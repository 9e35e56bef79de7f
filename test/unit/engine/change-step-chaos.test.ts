/**
 * Change views (a Debezium changelog: an attribute view, a current-state view keyed by the source
 * key and one re-keyed by user) under a fault at a random call of any store step in each engine
 * generation — failed once, answer lost, an outage past the retries, the process dying right
 * before or after the call (test/support/change-step-chaos.ts) — then stopped or crashed, the
 * next generation resuming; and the same with the checkpoint directories put back, before some
 * generations, as a backup taken earlier held them (docs/semantics.md §14, "A checkpoint older than
 * the tables"). ./change-crash-restart-chaos.test.ts crashes change views between checkpoints
 * only, ./change-checkpoint-faults.test.ts faults one step with no process death. The oracle is a
 * clean run of the same changes: online rows, offline rows, archives and dead letters must be its.
 * Seeded: a failure names its seed; KFS_TEST_SEED replays it.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { assertSameOutcome } from '../../support/change-fault-workload.ts'
import { chaosCase, cleanChangeRun } from '../../support/change-crash-chaos.ts'
import { stepChaosRun } from '../../support/change-step-chaos.ts'

const BASE_SEED = Number(process.env.KFS_TEST_SEED ?? 35_200)
const SEEDS = process.env.KFS_TEST_SEED === undefined ? 2 : 1

for (let seed = BASE_SEED; seed < BASE_SEED + SEEDS; seed++) {
  for (const restores of [false, true]) {
    const what = restores ? 'faults, crashes and checkpoints restored from backups' : 'faults and crashes'
    void test(`change views, seed ${seed}, ${what}: online, offline, archive and dead letters equal a clean run's`, async () => {
      const c = chaosCase(seed)
      const clean = await cleanChangeRun(c, `clean-${seed}`)
      const run = await stepChaosRun(c, restores)
      const where = `${c.where} [${run.drawn.join('; ')}]`
      if (process.env.KFS_TEST_DEBUG) console.log(where)
      assert.ok(
        run.struck.size > 0 || run.drawn.some((d) => d.endsWith('crashed')),
        `${where}: no fault struck and no generation crashed (the case checked nothing)`,
      )
      if (restores) assert.ok(run.restores > 0, `${where}: nothing restored (the case checked nothing)`)
      assertSameOutcome(run.outcome, clean, where)
      assert.deepEqual(run.failures, [], `${where}: engines failed with no outage`)
    })
  }
}
