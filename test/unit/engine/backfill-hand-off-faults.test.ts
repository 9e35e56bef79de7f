/**
 * The hand-off side of test/unit/engine/backfill-faults.test.ts: the backfill completes, and the
 * first live process after it — which adopts the view's backfill state, catches it up from the
 * archive and consumes on — is killed after each write it makes (and before its first call), up to
 * and including its stop's checkpoint, the first that records the adopted view. A second live
 * process resumes from whatever was published (adopting again where nothing was) and runs until
 * caught up. Everything must end as in the clean run: no event the hand-off skipped or applied twice.
 * (A thrown fault in the live engine is test/unit/engine/checkpoint-faults.test.ts's class.)
 */
import assert from 'node:assert/strict'
import { rm } from 'node:fs/promises'
import { after, before, test } from 'node:test'
import { isRead, type CallFaultKind } from '../../support/call-faults.ts'
import {
  assertEndsAsClean,
  buildBaseline,
  runBackfillFaultCase,
  type Baseline,
  type CaseOutcome,
} from '../../support/backfill-fault-scenario.ts'

let baseline: Baseline
let clean: CaseOutcome

before(async () => {
  baseline = await buildBaseline()
  clean = await runBackfillFaultCase(baseline)
})
after(() => rm(baseline.dir, { recursive: true, force: true }))

void test('backfill hand-off faults: the live process is killed after each of its writes', async (t) => {
  const calls = clean.liveCalls
  const deaths: { index: number; kind: CallFaultKind }[] = [{ index: 0, kind: 'process dies before the call' }]
  for (const [index, call] of calls.entries())
    if (!isRead(call)) deaths.push({ index, kind: 'process dies after the call landed' })
  assert.ok(
    calls.some((c) => c.operation === 'putIfAbsent' && /checkpoints\/kfs-engine\//.test(c.key)),
    'the live process publishes checkpoints',
  )
  assert.ok(deaths.length > 20, `${deaths.length} death points`)
  for (const { index, kind } of deaths) {
    // The live engine's calls are numbered as they start; its order may shift with timing, so the name is the clean run's.
    const call = calls[index]!
    const what = `live process: ${kind} at call ${index} (about ${call.operation} ${call.key})`
    await t.test(what, async () => {
      const got = await runBackfillFaultCase(baseline, { process: 'live', index, kind })
      assert.equal(got.liveInjected, 1, `${what}: the fault fired`)
      assert.equal(got.liveDied, true, `${what}: the live process died`)
      assert.equal(got.first, 'done', 'the backfill itself ran clean')
      assertEndsAsClean(got, clean, what)
    })
  }
})
