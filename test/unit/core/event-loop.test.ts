import assert from 'node:assert/strict'
import { test } from 'node:test'
import { createYielder, runStepsYielding } from '../../../core/event-loop.ts'
import { runSteps, type Steps } from '../../../core/steps.ts'
import { loopTurnsDuring } from '../../support/loop-turns.ts'

void test('core > yielder > lets callbacks run once the interval has passed, and only then', async () => {
  let ran = false
  setImmediate(() => (ran = true))
  await createYielder(60_000)()
  assert.equal(ran, false, 'within the interval it must not yield')
  await createYielder(0)()
  assert.equal(ran, true, 'past the interval it yields to the event loop')
})

void test('core > steps > run at once, or with the event loop running at their pauses, to the same result', async () => {
  function* sum(n: number): Steps<number> {
    let total = 0
    for (let i = 0; i < n; i++) {
      if (i % 10 === 9) yield
      total += i
    }
    return total
  }
  assert.equal(runSteps(sum(100)), 4950)
  const { value, turns } = await loopTurnsDuring(() => runStepsYielding(sum(100), createYielder(0)))
  assert.equal(value, 4950)
  assert.ok(turns >= 9, `the loop ran ${turns} times at 9 pauses`)
})
