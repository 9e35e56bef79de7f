/**
 * The checkpoint fault-injection suite on the real S3-compatible server (MinIO): every step of a
 * checkpoint faulted transiently, beyond its retries and after the write, over S3's
 * If-None-Match create-if-absent, at a running checkpoint and at the stop's own. Nothing lost,
 * nothing doubled, parity holds, and a stop whose final checkpoint fails rejects
 * (test/support/checkpoint-fault-scenario.ts). On smaller retry budgets than the product's (three
 * checkpoint-step attempts, three commit attempts inside each): a fault outlasting the product's
 * costs 120 table commits per partition and checkpoint, each a reload and writes on S3, and took up
 * to 50 s a case; the local-store variant (test/unit/engine/checkpoint-faults.test.ts) runs the
 * product's budgets.
 */
import { describe, test } from 'node:test'
import { stackObjectStore } from '../../support/stack-store.ts'
import { assertFaultCase, faultCases, runCheckpointFaultCase, type RetryBudgets } from '../../support/checkpoint-fault-scenario.ts'
import { newRunId, stackEnv } from '../../support/stack-env.ts'

const env = stackEnv()
const s3Store = async () =>
  stackObjectStore(env, `it/ckpt-faults/${newRunId()}`)
const budgets: RetryBudgets = { checkpointStepAttempts: 3, commitAttempts: 3 }

// Three cases at a time: a case waits on MinIO's answers and its engines' ticks most of its time.
void describe('checkpoint faults on S3', { concurrency: 3 }, () => {
  for (const { at, step, kind } of faultCases()) {
    void test(`checkpoint fault, S3 store, ${at}: ${kind} at ${step}`, async () => {
      const result = await runCheckpointFaultCase(s3Store, step, kind, at, budgets)
      assertFaultCase(result, step, kind, at)
    })
  }
})
