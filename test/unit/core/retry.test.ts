import assert from 'node:assert/strict'
import { test } from 'node:test'
import { RetriesExhaustedError, SinkWriteError } from '../../../core/errors.ts'
import { retry } from '../../../core/retry.ts'
import type { Clock } from '../../../core/clock.ts'

const instant: Clock = { nowMs: () => 0, sleep: async () => {} }
const unavailable = () => new SinkWriteError('SINK_UNAVAILABLE', 'down')

void test('retry > a retriable error is retried until it passes', async () => {
  let calls = 0
  const out = await retry(async () => {
    if (++calls < 3) throw unavailable()
    return 'ok'
  }, { clock: instant, attempts: 5 })
  assert.equal(out, 'ok')
  assert.equal(calls, 3)
})

void test('retry > the budget runs out with RetriesExhaustedError carrying the last cause', async () => {
  let calls = 0
  const err = await retry(async () => {
    calls++
    throw unavailable()
  }, { clock: instant, attempts: 4 }).catch((e: unknown) => e)
  assert.ok(err instanceof RetriesExhaustedError)
  assert.ok(err.cause instanceof SinkWriteError)
  // The CLI prints only the message: it says what failed last, not just that something did.
  assert.equal(err.message, 'gave up after 4 attempts, the last: down')
  assert.equal(calls, 4)
})

void test('retry > non-retriable errors and bail stop at once', async () => {
  let calls = 0
  await assert.rejects(retry(async () => {
    calls++
    throw new SinkWriteError('SINK_REJECTED', 'refused')
  }, { clock: instant, attempts: 5 }), /refused/)
  assert.equal(calls, 1)
  calls = 0
  await assert.rejects(retry(async (bail) => {
    calls++
    bail(new Error('stop'))
  }, { clock: instant, attempts: 5 }), /stop/)
  assert.equal(calls, 1)
})

void test('retry > nested: an inner budget exhausted on a passing fault is retried by the outer one', async () => {
  let calls = 0
  const inner = () => retry(async () => {
    if (++calls < 5) throw unavailable()
    return 'written'
  }, { clock: instant, attempts: 2 })
  const out = await retry(inner, { clock: instant, attempts: 3 })
  assert.equal(out, 'written')
  assert.equal(calls, 5)
})

void test('retry > nested: an inner failure that is never retriable stays final for the outer one', async () => {
  let calls = 0
  const inner = () => retry(async () => {
    calls++
    throw new TypeError('bug')
  }, { clock: instant, attempts: 3 })
  await assert.rejects(retry(inner, { clock: instant, attempts: 3 }), TypeError)
  assert.equal(calls, 1)
})
