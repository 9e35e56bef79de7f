/**
 * A stop whose final checkpoint cannot commit ends at the stop deadline (engine/stop-deadline.ts,
 * docs/semantics.md "The stop deadline"). With the product's retry budgets — ten attempts of each
 * checkpoint step, twelve of a table commit inside each — a step failing for good kept one stop
 * retrying for about 90 s, past any supervisor's kill grace. Every step of the final checkpoint
 * that can fail it is faulted for good at the stop, in turn: the stop gives up within the deadline
 * (measured on the engine's clock: frozen for the stop, it moves only by back-off, so the claim
 * does not depend on the machine's speed), rejects naming the step given up and saying the last
 * published checkpoint stands, asks the store for no write after it, and the next start resumes
 * and leaves the tables exactly as an unfaulted run does (the checkpoint fault scenario's checks:
 * the reference model's rows, every archived offset once, parity). A fault that passes still lets
 * the stop complete.
 */
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import { LocalObjectStore } from '../../../adapters/object-store/index.ts'
import {
  assertFaultCase,
  CHECKPOINT_STEPS,
  faultFailsCheckpoint,
  runCheckpointFaultCase,
  type CheckpointStep,
  type FaultCaseResult,
  type FaultKind,
} from '../../support/checkpoint-fault-scenario.ts'
import { freezableClock } from '../../support/freezable-clock.ts'

const localStore = async (dir: string) => new LocalObjectStore(join(dir, 'warehouse'))
const at = "the stop's own checkpoint"
// Below the least a step's retries can sleep in all (jittered back-off: about 5.5 s for a step's
// ten attempts, 5.6 s for a table commit's twelve), so the deadline, not a budget, ends the first
// partition's failing step, whatever the jitter.
const STOP_TIMEOUT_MS = 5_000

/** How the stop's error names each step when it gives it up (partition-slot.ts, checkpoint-record.ts, the sink's commit). */
const STEP_NAMES: Record<CheckpointStep, RegExp> = {
  'stage feature rows': /staging the feature rows of user_purchases \(purchases\/\d+\) was given up/,
  'stage archive rows': /staging the archive rows of purchases\/\d+ was given up/,
  'write operator state: base': /writing the operator state of purchases\/\d+ was given up/,
  'write operator state: delta': /writing an operator-state delta of purchases\/\d+ was given up/,
  'publish checkpoint record': /publishing the checkpoint record of purchases\/\d+ was given up/,
  'commit: manifest': /the commit of table [^ ]+ was given up/,
  'commit: manifest list': /the commit of table [^ ]+ was given up/,
  'commit: table metadata': /the commit of table [^ ]+ was given up/,
  'commit: version hint': /never given up: absorbed/,
  'prune old checkpoints': /never given up: absorbed/,
}

interface ObservedStop {
  readonly result: FaultCaseResult
  /** How long the first engine's stop took, on the engine's clock. */
  readonly elapsedMs: number
  /** Writes the store was asked for after that stop settled. */
  readonly writesAfter: number
}

async function stopWithDeadline(step: CheckpointStep, kind: FaultKind): Promise<ObservedStop> {
  const clock = freezableClock()
  let elapsedMs = NaN
  let writesAfter = NaN
  const result = await runCheckpointFaultCase(localStore, step, kind, at, undefined, {
    clock,
    stopTimeoutMs: STOP_TIMEOUT_MS,
    async aroundFirstStop(stop, store) {
      clock.freeze()
      const started = clock.nowMs()
      try {
        await stop()
      } finally {
        elapsedMs = clock.nowMs() - started
        const writes = store.writes
        // Anything still retrying would ask again within these: 200 turns of the event loop, each
        // a second on the clock (a back-off sleeps at most 2 s).
        for (let i = 0; i < 200; i++) await clock.sleep(1_000)
        writesAfter = store.writes - writes
        clock.thaw()
      }
    },
  })
  return { result, elapsedMs, writesAfter }
}

void describe('a final checkpoint that cannot commit ends the stop at its deadline', () => {
  const kind: FaultKind = 'outlasts retries, healed after the stop'
  const failing = (Object.keys(CHECKPOINT_STEPS) as CheckpointStep[]).filter((step) => faultFailsCheckpoint(step, kind))
  void test('every step that can fail the checkpoint is covered', () => {
    assert.equal(failing.length, 8)
  })
  for (const step of failing) {
    void test(`${step}, failing for good at the stop`, { timeout: 120_000 }, async () => {
      const { result, elapsedMs, writesAfter } = await stopWithDeadline(step, kind)
      assertFaultCase(result, step, kind, at)
      assert.ok(elapsedMs <= STOP_TIMEOUT_MS, `the stop took ${elapsedMs} ms on the clock, past its ${STOP_TIMEOUT_MS} ms deadline`)
      assert.equal(writesAfter, 0, 'no write asked after the stop gave up')
      const message = (result.firstStopError as Error).message
      assert.match(message, /^the stop's deadline \(5000 ms\) passed, so the stop gave up and the last published checkpoint stands: the checkpoint of /)
      assert.match(message, STEP_NAMES[step], 'names the step given up')
      assert.match(message, /Nothing is lost: the next start resumes from the last checkpoint that was published/)
    })
  }
})

void describe('a fault that passes during the stop', () => {
  for (const step of ['publish checkpoint record', 'commit: table metadata', 'write operator state: base'] as const) {
    void test(`${step}, failing twice at the stop: the stop completes`, { timeout: 120_000 }, async () => {
      const { result, elapsedMs } = await stopWithDeadline(step, 'transient')
      assertFaultCase(result, step, 'transient', at)
      assert.equal(result.firstStopFailed, false, 'a clean stop: kfs run exits 0')
      assert.ok(elapsedMs <= STOP_TIMEOUT_MS, `the stop took ${elapsedMs} ms on the clock`)
    })
  }
})
