/**
 * Every step of a checkpoint, faulted every way, on the local-directory store (the S3 variant runs
 * in test/integration/engine/checkpoint-faults-s3.test.ts), met by a checkpoint the running engine
 * takes and by the stop's own final checkpoint — whose failure must make stop() reject, not only be
 * logged: nothing lost, nothing doubled, parity holds (test/support/checkpoint-fault-scenario.ts
 * says what each case checks).
 */
import { join } from 'node:path'
import { describe, test } from 'node:test'
import { LocalObjectStore } from '../../../adapters/object-store/index.ts'
import { assertFaultCase, faultCases, runCheckpointFaultCase } from '../../support/checkpoint-fault-scenario.ts'

const localStore = async (dir: string) => new LocalObjectStore(join(dir, 'warehouse'))

// Three cases at a time: a case waits on its engines' ticks and polls a good part of its time.
void describe('checkpoint faults on the local store', { concurrency: 3 }, () => {
  for (const { at, step, kind } of faultCases()) {
    void test(`checkpoint fault, local store, ${at}: ${kind} at ${step}`, async () => {
      const result = await runCheckpointFaultCase(localStore, step, kind, at)
      assertFaultCase(result, step, kind, at)
    })
  }
})
