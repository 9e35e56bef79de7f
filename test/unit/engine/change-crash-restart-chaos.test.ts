/**
 * The crash/restart chaos loop (./crash-restart-chaos.test.ts, test/support/crash-harness.ts) over
 * change views: a Debezium changelog (test/support/change-fault-workload.ts) arrives in bursts
 * between engine generations, each generation is crashed (abandoned, its memory lost) or stopped
 * at a random point between checkpoints, and the next resumes — with an attribute view, a
 * current-state view keyed by the source key and one re-keyed by user (its re-key stage crashed
 * with the rest). The oracle is a clean run of the same changes: one engine, all of them at once,
 * no crash. Online rows (reopened from the file), offline rows, archives and dead letters must be
 * the clean run's (change-fault-workload.ts says why a clean run is comparable at all).
 * Seeded: a failure names its seed; KFS_TEST_SEED replays it. The loop: test/support/change-crash-chaos.ts.
 */
import { test } from 'node:test'
import { assertSameOutcome } from '../../support/change-fault-workload.ts'
import { chaosCase, cleanChangeRun, crashedChangeRun } from '../../support/change-crash-chaos.ts'

async function runSeed(seed: number): Promise<void> {
  const c = chaosCase(seed)
  const clean = await cleanChangeRun(c, `clean-${seed}`)
  assertSameOutcome(await crashedChangeRun(c), clean, c.where)
}

const BASE_SEED = Number(process.env.KFS_TEST_SEED ?? 7_300)
const SEEDS = process.env.KFS_TEST_SEED === undefined ? 4 : 1

for (let seed = BASE_SEED; seed < BASE_SEED + SEEDS; seed++) {
  void test(`change views, crash and stop at random points between checkpoints, seed ${seed}: online, offline, archive and dead letters equal a clean run's`, () =>
    runSeed(seed))
}
