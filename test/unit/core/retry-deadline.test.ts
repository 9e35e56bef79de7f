/**
 * Retries that observe a deadline (core/retry.ts `until`, core/deadline.ts): the stop's, which
 * ends a final checkpoint's retries with attempts left (engine/stop-deadline.ts). No retry
 * starts after it (a first attempt does), no back-off sleeps past it, the error names what was given up and its last
 * failure, and a loop nested inside another ends both at once; a deadline never armed (a running
 * engine's) leaves the budget as it was.
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { DeadlinePassedError, RetriesExhaustedError, SinkWriteError } from '../../../core/errors.ts'
import { retry } from '../../../core/retry.ts'
import { StopDeadline } from '../../../engine/stop-deadline.ts'
import { freezableClock } from '../../support/freezable-clock.ts'

const unavailable = () => new SinkWriteError('SINK_UNAVAILABLE', 'down')
const always = (calls: { n: number }) => async () => {
  calls.n++
  throw unavailable()
}

void describe('retry > until a deadline', () => {
  void test('a deadline not armed leaves every attempt of the budget', async () => {
    const clock = freezableClock()
    clock.freeze()
    const calls = { n: 0 }
    const err = await retry(always(calls), { clock, attempts: 10, maxDelayMs: 2_000, until: new StopDeadline(clock, 1_000) }).catch((e: unknown) => e)
    assert.ok(err instanceof RetriesExhaustedError)
    assert.equal(calls.n, 10)
  })

  void test('armed: no attempt after it, no sleep past it, and the error names what was given up', async () => {
    const clock = freezableClock()
    clock.freeze()
    const deadline = new StopDeadline(clock, 1_000)
    deadline.arm()
    const started = clock.nowMs()
    const calls = { n: 0 }
    const err = await retry(always(calls), { clock, attempts: 10, minDelayMs: 100, maxDelayMs: 2_000, jitter: () => 1, until: deadline, what: 'the commit of t' }).catch((e: unknown) => e)
    assert.ok(err instanceof DeadlinePassedError)
    assert.equal(err.retriable, false)
    // Back-off 100, 200, 400, then 300 left of 800: the fifth attempt would start at the deadline.
    assert.equal(calls.n, 4)
    assert.equal(clock.nowMs() - started, 1_000)
    assert.equal(err.message, "the stop's deadline (1000 ms) passed: the commit of t was given up (the last of 4 attempts failed: down)")
  })

  void test('nested loops end together: the outer one asks nothing more once the inner one gave up', async () => {
    const clock = freezableClock()
    clock.freeze()
    const deadline = new StopDeadline(clock, 5_000)
    deadline.arm()
    const inner = { n: 0 }
    let outer = 0
    const err = await retry(
      async () => {
        outer++
        await retry(always(inner), { clock, attempts: 12, minDelayMs: 25, maxDelayMs: 2_000, until: deadline, what: 'the commit of t' })
      },
      { clock, attempts: 10, maxDelayMs: 2_000, until: deadline, what: 'committing the tables' },
    ).catch((e: unknown) => e)
    assert.ok(err instanceof DeadlinePassedError)
    assert.match(err.message, /the commit of t was given up/, 'the innermost step, where it failed')
    assert.ok(outer < 10 && inner.n < 12 * outer, `gave up with attempts left (outer ${outer}, inner ${inner.n})`)
    const asked = inner.n
    for (let i = 0; i < 50; i++) await clock.sleep(1_000)
    assert.equal(inner.n, asked, 'nothing asked after giving up')
  })

  void test('passed before the first attempt: that one is still made, and no retry', async () => {
    const clock = freezableClock()
    clock.freeze()
    const deadline = new StopDeadline(clock, 10)
    deadline.arm()
    await clock.sleep(10)
    const calls = { n: 0 }
    const err = await retry(always(calls), { clock, until: deadline }).catch((e: unknown) => e)
    assert.ok(err instanceof DeadlinePassedError)
    assert.equal(calls.n, 1)
    assert.match(err.message, /a step was given up \(the last of 1 attempts failed: down\)/)
    const ok = await retry(async () => 'done', { clock, until: deadline })
    assert.equal(ok, 'done', 'work that succeeds when asked is not given up')
  })
})
