/**
 * The checkpoint fault-injection suite on the real S3-compatible server (MinIO): every step of a
 * checkpoint faulted transiently, beyond its retries and after the write, over S3's
 * If-None-Match create-if-absent, at a running checkpoint and at the stop's own. Nothing lost,
 * nothing doubled, parity holds, and a stop whose final checkpoint fails rejects
 * (test/support/checkpoint-fault-scenario.ts).
 */
import { test } from 'node:test'
import { stackObjectStore } from '../../support/stack-store.ts'
import { assertFaultCase, faultCases, runCheckpointFaultCase } from '../../support/checkpoint-fault-scenario.ts'
import { newRunId, stackEnv } from '../../support/stack-env.ts'

const env = stackEnv()
const s3Store = async () =>
  stackObjectStore(env, `it/ckpt-faults/${newRunId()}`)

for (const { at, step, kind } of faultCases()) {
  void test(`checkpoint fault, S3 store, ${at}: ${kind} at ${step}`, async () => {
    const result = await runCheckpointFaultCase(s3Store, step, kind, at)
    assertFaultCase(result, step, kind, at)
  })
}
