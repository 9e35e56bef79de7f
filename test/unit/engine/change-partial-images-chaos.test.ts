/**
 * The change crash/restart chaos loop (./change-crash-restart-chaos.test.ts,
 * test/support/change-crash-chaos.ts) over the same changelog as Postgres logs it under REPLICA
 * IDENTITY DEFAULT: updates without before images, deletes with key-only ones
 * (test/support/partial-change-images.ts). The re-keyed current-state view then depends on its
 * re-key stage's row index (engine/rekey-row-index.ts), which is crashed and stopped with the rest.
 * Two oracles: a clean run of the same partial changes (online, offline, archives and dead letters
 * equal), and — the stronger — a clean run of the changes with FULL before images, whose
 * current-state views' rows the partial run's must equal, where that must hold
 * (test/support/partial-images-oracle.ts says where, and why not elsewhere).
 * Seeded: a failure names its seed; KFS_TEST_SEED replays it.
 */
import { test } from 'node:test'
import { consumedView } from '../../../engine/plan-sources.ts'
import { orderTotals, userOpen } from '../../fixtures/features/change-faults.ts'
import { assertSameOutcome } from '../../support/change-fault-workload.ts'
import { chaosCase, cleanChangeRun, crashedChangeRun } from '../../support/change-crash-chaos.ts'
import { assertCurrentStateAsFullImages } from '../../support/partial-images-oracle.ts'

async function runSeed(seed: number): Promise<void> {
  const c = chaosCase(seed, { images: 'partial' })
  // The same changes, records and poisons, with full before images.
  const withFullImages = chaosCase(seed, { images: 'full', poisonsFor: 'partial' })
  const clean = await cleanChangeRun(c, `clean-${seed}`)
  const full = await cleanChangeRun(withFullImages, `full-${seed}`)
  assertCurrentStateAsFullImages(
    clean,
    full,
    [orderTotals, consumedView(userOpen)],
    withFullImages.bursts.flat(),
    `${c.where}, partial images against full ones`,
  )
  assertSameOutcome(await crashedChangeRun(c), clean, c.where)
}

const BASE_SEED = Number(process.env.KFS_TEST_SEED ?? 7_300)
const SEEDS = process.env.KFS_TEST_SEED === undefined ? 4 : 1

for (let seed = BASE_SEED; seed < BASE_SEED + SEEDS; seed++) {
  void test(`change views without full before images, crash and stop at random points, seed ${seed}: outcome equals a clean run's, current state a full-image run's`, () =>
    runSeed(seed))
}
