/**
 * The retry budgets of a checkpoint are the engine's and the offline sink's to set: each step of
 * a checkpoint is asked `checkpointStepAttempts` times before the checkpoint fails, and a table
 * commit, nested inside, `commitAttempts` times on each of those. A fault that outlasts them at
 * the stop's own checkpoint (the one checkpoint every partition takes once, the faulted engine
 * taking none before it) is met exactly that often per partition; the whole case still holds —
 * nothing lost, parity, the stop rejects (test/support/checkpoint-fault-scenario.ts).
 */
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { test } from 'node:test'
import { LocalObjectStore } from '../../../adapters/object-store/index.ts'
import { purchases } from '../../../examples/features.ts'
import { assertFaultCase, runCheckpointFaultCase } from '../../support/checkpoint-fault-scenario.ts'

const localStore = async (dir: string) => new LocalObjectStore(join(dir, 'warehouse'))
const kind = 'outlasts retries, healed before the stop'
const at = "the stop's own checkpoint"

void test('a publish that outlasts the retries is asked checkpointStepAttempts times per partition', async () => {
  const result = await runCheckpointFaultCase(localStore, 'publish checkpoint record', kind, at, {
    checkpointStepAttempts: 3,
    commitAttempts: 2,
  })
  assertFaultCase(result, 'publish checkpoint record', kind, at)
  assert.equal(result.injected, purchases.partitions * 3)
})

void test("a table commit that outlasts the retries is asked commitAttempts times inside each of the step's attempts", async () => {
  const result = await runCheckpointFaultCase(localStore, 'commit: manifest list', kind, at, {
    checkpointStepAttempts: 3,
    commitAttempts: 2,
  })
  assertFaultCase(result, 'commit: manifest list', kind, at)
  assert.equal(result.injected, purchases.partitions * 3 * 2)
})
