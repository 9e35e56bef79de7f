import assert from 'node:assert/strict'
import { test } from 'node:test'
import { createYielder } from '../../../core/event-loop.ts'

void test('core > yielder > lets callbacks run once the interval has passed, and only then', async () => {
  let ran = false
  setImmediate(() => (ran = true))
  await createYielder(60_000)()
  assert.equal(ran, false, 'within the interval it must not yield')
  await createYielder(0)()
  assert.equal(ran, true, 'past the interval it yields to the event loop')
})
