import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { AGGREGATIONS, computationOf } from '../../../operators/aggregators/catalog.ts'
import { paramMembers, type Params } from '../../../operators/aggregators/contract.ts'
import type { Aggregator } from '../../../operators/aggregators/types.ts'
import { HLL_PRECISION, approxDistinctKernel } from '../../../operators/aggregators/approx-distinct.ts'
import { PERCENTILE_RELATIVE_ACCURACY, approxPercentileKernel } from '../../../operators/aggregators/approx-percentile.ts'
import { firstKernel } from '../../../operators/aggregators/first.ts'
import { lastKernel } from '../../../operators/aggregators/last.ts'
import { lastNKernel } from '../../../operators/aggregators/last-n.ts'
import { fold, kernelLaws, roundTrip, type Item } from './kernel-laws.ts'

/**
 * Every op of the catalog, with parameters to test it at and whether its field may hold strings.
 * An op missing here fails the first test: a new aggregation brings its law case along.
 */
const CASES: readonly { op: string; params: Params; strings: boolean; relative?: number }[] = [
  { op: 'count', params: {}, strings: true },
  { op: 'sum', params: {}, strings: false },
  { op: 'avg', params: {}, strings: false },
  { op: 'min', params: {}, strings: false },
  { op: 'max', params: {}, strings: false },
  { op: 'first', params: {}, strings: true },
  { op: 'last', params: {}, strings: true },
  { op: 'last_n', params: { n: 3 }, strings: true },
  { op: 'approx_distinct', params: {}, strings: true },
  { op: 'approx_percentile', params: { quantile: 0.5 }, strings: false },
  { op: 'approx_percentile', params: { quantile: 0.99 }, strings: false },
  { op: 'variance', params: { sample: false }, strings: false, relative: 1e-12 },
  { op: 'variance', params: { sample: true }, strings: false, relative: 1e-12 },
  { op: 'stddev', params: { sample: false }, strings: false, relative: 1e-12 },
  { op: 'stddev', params: { sample: true }, strings: false, relative: 1e-12 },
  { op: 'top_k', params: { k: 1 }, strings: true },
  { op: 'top_k', params: { k: 3 }, strings: true },
]

/** The computation of every output of an op at these parameters. */
function computations(op: string, params: Params) {
  const contract = AGGREGATIONS.find((c) => c.op === op)!
  return contract.outputs.map((o, i) => computationOf({ op, ...paramMembers(params), ...(i === 0 ? {} : { output: o.name }) }))
}

void describe('operators > aggregators > laws', () => {
  void test('every op of the catalog has a law case here', () => {
    assert.deepEqual([...new Set(CASES.map((c) => c.op))].sort(), AGGREGATIONS.map((c) => c.op).sort())
  })

  for (const { op, params, strings, relative } of CASES) {
    const name = `${op}${Object.keys(params).length === 0 ? '' : `(${Object.entries(params).map(([k, v]) => `${k}=${String(v)}`).join(', ')})`}`
    // A kernel is tested once per op case (avg's sum and count kernels, top_k's values and counts finishers).
    const seen = new Set<Aggregator>()
    for (const c of computations(op, params)) {
      for (const [kernel, finisher] of 'pair' in c ? c.pair.map((k) => [k, k] as const) : [[c.column, c.finisher] as const]) {
        if (seen.has(finisher)) continue
        seen.add(finisher)
        kernelLaws(`${name} ${kernel.name}${finisher === kernel ? '' : ' (finisher)'}`, kernel, finisher, strings, relative)
      }
    }
  }

  void test('empty windows: count, sum, approx_distinct → 0; last_n, top_k → []; the rest (variance, stddev too) → null', () => {
    for (const { op, params } of CASES) {
      const c = computations(op, params)[0]!
      const empty = 'pair' in c ? c.combine(c.pair[0].init() as number, c.pair[1].init() as number) : c.finisher.finish(c.column.init())
      const expected = op === 'count' || op === 'sum' || op === 'approx_distinct' ? 0 : op === 'last_n' || op === 'top_k' ? [] : null
      assert.deepEqual(empty, expected, op)
    }
  })

  void test('first/last/last_n order by event time, ties by numeric offset (not string order)', () => {
    const items: Item[] = [
      { v: 'late-offset', t: 5, o: '10' },
      { v: 'early-offset', t: 5, o: '9' },
      { v: 'older', t: 4, o: '11' },
    ]
    assert.equal(firstKernel.finish(fold(firstKernel, items)), 'older')
    assert.equal(lastKernel.finish(fold(lastKernel, items)), 'late-offset')
    const l2 = lastNKernel(2)
    assert.deepEqual(l2.finish(fold(l2, items)), ['late-offset', 'early-offset'])
  })
})

void describe('operators > aggregators > sketch accuracy', () => {
  const hll = approxDistinctKernel
  const sigma = 1.04 / Math.sqrt(2 ** HLL_PRECISION)

  void test(`approx_distinct is within 4σ (σ = ${(sigma * 100).toFixed(2)} %) on large inputs, and merge is exact`, () => {
    const errors: number[] = []
    for (const [n, prefix] of [
      [500, 'a'],
      [5_000, 'b'],
      [50_000, 'c'],
      [200_000, 'd'],
      [200_000, 'e'],
    ] as const) {
      let whole = hll.init()
      let left = hll.init()
      let right = hll.init()
      for (let i = 0; i < n; i++) {
        // Every value twice: duplicates must not count.
        const v = i % 3 === 0 ? i : `${prefix}-${i}`
        whole = hll.add(hll.add(whole, v, 0, '0'), v, 0, '0')
        if (i % 2 === 0) left = hll.add(left, v, 0, '0')
        else right = hll.add(right, v, 0, '0')
      }
      const est = hll.finish(whole) as number
      errors.push(Math.abs(est - n) / n)
      assert.ok(Math.abs(est - n) / n <= 4 * sigma, `n=${n}: estimate ${est}`)
      assert.equal(hll.finish(hll.merge(left, right)), est)
    }
    const mean = errors.reduce((a, b) => a + b, 0) / errors.length
    assert.ok(mean <= 2 * sigma, `mean relative error ${mean}`)
  })

  void test('approx_distinct is exact-ish for tiny sets (linear counting)', () => {
    let acc = hll.init()
    for (let i = 0; i < 20; i++) acc = hll.add(acc, `v${i}`, 0, '0')
    assert.ok(Math.abs((hll.finish(acc) as number) - 20) <= 1)
  })

  void test(`approx_percentile is within α = ${PERCENTILE_RELATIVE_ACCURACY} relative of x[⌊q(n−1)⌋], and merge equals one sketch bucket for bucket`, () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.double({ min: -6, max: 9, noNaN: true }), fc.boolean(), fc.integer({ min: 0, max: 30 })), { minLength: 1, maxLength: 3000 }),
        fc.constantFrom(0, 0.01, 0.25, 0.5, 0.9, 0.99, 1),
        fc.nat(),
        (raw, q, cut) => {
          const values = raw.map(([e, neg, z]) => (z === 0 ? 0 : (neg ? -1 : 1) * 10 ** e))
          const agg = approxPercentileKernel(q)
          const acc = fold(agg, values.map((v) => ({ v, t: 0, o: '0' })))
          const sorted = values.slice().sort((a, b) => a - b)
          const exact = sorted[Math.floor(q * (sorted.length - 1))] as number
          const est = agg.finish(acc) as number
          assert.ok(Math.abs(est - exact) <= PERCENTILE_RELATIVE_ACCURACY * Math.abs(exact) * (1 + 1e-9), `q=${q}: ${est} vs ${exact}`)
          const k = cut % (values.length + 1)
          const parts = agg.merge(fold(agg, values.slice(k).map((v) => ({ v, t: 0, o: '0' }))), fold(agg, values.slice(0, k).map((v) => ({ v, t: 0, o: '0' }))))
          assert.deepEqual(roundTrip(agg, parts).bytes, roundTrip(agg, acc).bytes)
        },
      ),
      { numRuns: 150 },
    )
  })

  void test('approx_percentile folding of extreme ranges does not depend on order', () => {
    fc.assert(
      fc.property(fc.array(fc.double({ min: -300, max: 300, noNaN: true }), { minLength: 1, maxLength: 200 }), fc.nat(), (exps, seed) => {
        const agg = approxPercentileKernel(0.5)
        const values = exps.map((e) => 10 ** e).filter((v) => Number.isFinite(v))
        const shuffled = values.map((v, i) => ({ v, r: (i * 7919 + seed) % 1009 })).sort((a, b) => a.r - b.r).map((x) => x.v)
        const a = fold(agg, values.map((v) => ({ v, t: 0, o: '0' })))
        const b = fold(agg, shuffled.map((v) => ({ v, t: 0, o: '0' })))
        assert.deepEqual(roundTrip(agg, a).bytes, roundTrip(agg, b).bytes)
      }),
      { numRuns: 100 },
    )
  })
})
