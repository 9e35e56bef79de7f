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
import { stackObjectStore } from '../../support/stack-store.ts'
import { defineCheckpointFaultCases, type RetryBudgets } from '../../support/checkpoint-fault-scenario.ts'
import { newRunId, stackEnv } from '../../support/stack-env.ts'

const env = stackEnv()
const budgets: RetryBudgets = { checkpointStepAttempts: 3, commitAttempts: 3 }

defineCheckpointFaultCases('S3 store', async () => stackObjectStore(env, `it/ckpt-faults/${newRunId()}`), budgets)
