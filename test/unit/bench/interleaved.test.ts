import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { abba, combineRate, combineWrk, latenciesOf } from '../../../bench/_support/interleaved.ts'
import type { RateResult } from '../../../bench/_support/serving-loadgen.ts'

function rateRound(latencies: number[], elapsedS: number): RateResult {
  const kept = Buffer.from(new Float64Array(latencies).buffer).toString('base64')
  return {
    sent: latencies.length,
    ok: latencies.length,
    errors: 0,
    achievedRps: latencies.length / elapsedS,
    elapsedS,
    p50Ms: Number.NaN,
    p99Ms: Number.NaN,
    latencies: kept,
  }
}

void describe('A B B A comparisons (bench/_support/interleaved.ts)', () => {
  void test('runs the two sides in the order a, b, b, a', async () => {
    const order: string[] = []
    const r = await abba(
      () => (order.push('a'), order.length),
      async () => (order.push('b'), order.length),
    )
    assert.deepEqual(order, ['a', 'b', 'b', 'a'])
    assert.deepEqual(r, { a: [1, 4], b: [2, 3] })
  })

  void test('two wrk rounds: requests over the summed durations, the worse p99', () => {
    // 1,000 requests in 1 s and 3,000 in 1 s: 2,000/s, not the mean of the rates weighted otherwise.
    const c = combineWrk([
      { rps: 1000, p50Ms: 1, p99Ms: 9, non2xx: 0, requests: 1000 },
      { rps: 3000, p50Ms: 2, p99Ms: 4, non2xx: 2, requests: 3000 },
    ])
    assert.equal(c.rps, 2000)
    assert.equal(c.requests, 4000)
    assert.equal(c.p50Ms, 1.75)
    assert.equal(c.p99Ms, 9)
    assert.equal(c.non2xx, 2)
  })

  void test('fixed-rate rounds: one latency distribution and the rate over the summed time', () => {
    const slow = Array.from({ length: 100 }, (_, i) => 100 + i)
    const fast = Array.from({ length: 100 }, (_, i) => i / 10)
    const c = combineRate([rateRound(fast, 1), rateRound(slow, 3)])
    assert.equal(c.achievedRps, 50)
    assert.equal(c.elapsedS, 4)
    assert.equal(c.ok, 200)
    // Half the requests were slow: the merged median is the slow round's fastest, the p99 its 98th.
    assert.equal(c.p50Ms, 100)
    assert.equal(c.p99Ms, 198)
    assert.deepEqual([...latenciesOf(rateRound([1.5, 2.25], 1))], [1.5, 2.25])
  })

  void test('refuses a round that kept no latencies rather than merging nothing', () => {
    const r = { ...rateRound([1], 1), latencies: undefined } as unknown as RateResult
    assert.throws(() => combineRate([r]), /did not return its latencies/)
  })
})
