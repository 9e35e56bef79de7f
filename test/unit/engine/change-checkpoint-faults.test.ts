/**
 * Every step of a checkpoint, faulted every way (test/support/checkpoint-fault-scenario.ts), over
 * change views — an attribute view, a current-state view keyed by the source key and one re-keyed
 * by another column, fed by a Debezium changelog with out-of-order commit times and poison changes
 * (test/support/change-checkpoint-fault-scenario.ts): after recovery, offline rows, online rows,
 * archives and dead letters equal a clean run's, and replay reproduces the live rows.
 */
import assert from 'node:assert/strict'
import { before, test } from 'node:test'
import {
  CHECKPOINT_STEPS,
  FAULT_KINDS,
  assertFaultCase,
  type CheckpointStep,
  type FaultKind,
} from '../../support/checkpoint-fault-scenario.ts'
import { cleanChangeOutcome, runChangeFaultCase } from '../../support/change-checkpoint-fault-scenario.ts'
import { assertSameOutcome, type ChangeOutcome } from '../../support/change-fault-workload.ts'

let clean: ChangeOutcome
before(async () => {
  clean = await cleanChangeOutcome()
})

for (const step of Object.keys(CHECKPOINT_STEPS) as CheckpointStep[]) {
  for (const kind of Object.keys(FAULT_KINDS) as FaultKind[]) {
    void test(`change views, checkpoint fault: ${kind} at ${step}`, async () => {
      const result = await runChangeFaultCase(step, kind)
      assertFaultCase(result, step, kind)
      assert.ok(clean !== undefined, 'the clean run finished')
      assertSameOutcome(result.outcome, clean, `${kind} at ${step}`)
    })
  }
}
