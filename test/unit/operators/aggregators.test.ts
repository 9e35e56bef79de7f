import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { aggregatorFor } from '../../../operators/aggregators/registry.ts'
import type { AggInput, Aggregator } from '../../../operators/aggregators/types.ts'
import { ByteReader, ByteWriter } from '../../../operators/codec/bytes.ts'
import { HLL_PRECISION } from '../../../operators/aggregators/approx-distinct.ts'
import { PERCENTILE_RELATIVE_ACCURACY } from '../../../operators/aggregators/approx-percentile.ts'
import type { AggregationDef } from '../../../features/types.ts'

type Item = { v: AggInput; t: number; o: string }

const CASES: { def: Pick<AggregationDef, 'op' | 'n' | 'quantile'>; strings: boolean }[] = [
  { def: { op: 'count', n: undefined, quantile: undefined }, strings: true },
  { def: { op: 'sum', n: undefined, quantile: undefined }, strings: false },
  { def: { op: 'avg', n: undefined, quantile: undefined }, strings: false },
  { def: { op: 'min', n: undefined, quantile: undefined }, strings: false },
  { def: { op: 'max', n: undefined, quantile: undefined }, strings: false },
  { def: { op: 'first', n: undefined, quantile: undefined }, strings: true },
  { def: { op: 'last', n: undefined, quantile: undefined }, strings: true },
  { def: { op: 'last_n', n: 3, quantile: undefined }, strings: true },
  { def: { op: 'approx_distinct', n: undefined, quantile: undefined }, strings: true },
  { def: { op: 'approx_percentile', n: undefined, quantile: 0.5 }, strings: false },
  { def: { op: 'approx_percentile', n: undefined, quantile: 0.99 }, strings: false },
]

function itemsArb(strings: boolean): fc.Arbitrary<Item[]> {
  const value: fc.Arbitrary<AggInput> = strings
    ? fc.oneof(fc.integer({ min: -50, max: 50 }).map((x) => x / 4), fc.constantFrom('a', 'b', 'c', 'dd'))
    : fc.integer({ min: -50, max: 50 }).map((x) => x / 4)
  // Items arrive in offset order (as in a partition); times may repeat to exercise tie-breaks.
  return fc.array(fc.record({ v: value, t: fc.integer({ min: 0, max: 20 }) }), { maxLength: 40 }).map((xs) => xs.map((x, i) => ({ ...x, o: String(98 + i) })))
}

function fold(agg: Aggregator, items: readonly Item[]): unknown {
  let acc = agg.init()
  for (const it of items) acc = agg.add(acc, it.v, it.t, it.o)
  return acc
}

function roundTrip(agg: Aggregator, acc: unknown): { bytes: Uint8Array; again: unknown } {
  const w = new ByteWriter(16)
  agg.encode(acc, w)
  const bytes = w.finish()
  const r = new ByteReader(bytes)
  const again = agg.decode(r)
  assert.ok(r.done, 'decode consumed every byte')
  return { bytes, again }
}

void describe('operators > aggregators > laws', () => {
  for (const { def, strings } of CASES) {
    const name = `${def.op}${def.n ? `(${def.n})` : ''}${def.quantile !== undefined ? `(${def.quantile})` : ''}`
    const agg = aggregatorFor(def)
    void test(`${name}: merging the folds of two parts == folding the whole; init is the identity`, () => {
      fc.assert(
        fc.property(itemsArb(strings), fc.nat(), (items, cut) => {
          const k = cut % (items.length + 1)
          const whole = agg.finish(fold(agg, items))
          const merged = agg.finish(agg.merge(fold(agg, items.slice(0, k)), fold(agg, items.slice(k))))
          assert.deepEqual(merged, whole)
          assert.deepEqual(agg.finish(agg.merge(agg.init(), fold(agg, items))), whole)
          assert.deepEqual(agg.finish(agg.merge(fold(agg, items), agg.init())), whole)
        }),
      )
    })
    void test(`${name}: merge is associative`, () => {
      fc.assert(
        fc.property(itemsArb(strings), itemsArb(strings), itemsArb(strings), (a, b, c) => {
          const left = agg.merge(agg.merge(fold(agg, a), fold(agg, b)), fold(agg, c))
          const right = agg.merge(fold(agg, a), agg.merge(fold(agg, b), fold(agg, c)))
          assert.deepEqual(agg.finish(left), agg.finish(right))
        }),
      )
    })
    void test(`${name}: encode then decode gives back the accumulator`, () => {
      fc.assert(
        fc.property(itemsArb(strings), (items) => {
          const acc = fold(agg, items)
          const { bytes, again } = roundTrip(agg, acc)
          assert.deepEqual(agg.finish(again), agg.finish(acc))
          assert.deepEqual(roundTrip(agg, again).bytes, bytes)
          if (items.length === 0) assert.ok(agg.isEmpty(again))
          else if (def.op !== 'sum') assert.ok(!agg.isEmpty(again))
        }),
      )
    })
    if (agg.foldTiles !== undefined) {
      const foldTiles = agg.foldTiles
      void test(`${name}: the foldTiles fast path equals the generic merge fold bit for bit`, () => {
        fc.assert(
          fc.property(fc.array(itemsArb(strings), { maxLength: 6 }), fc.nat(), (parts, lo) => {
            const tiles = parts.map((p) => [p.length, fold(agg, p)])
            const from = tiles.length === 0 ? 0 : lo % tiles.length
            let acc = agg.init()
            for (let i = from; i < tiles.length; i++) acc = agg.merge(acc, tiles[i]![1])
            assert.deepEqual(foldTiles(tiles, from, 1), agg.finish(acc))
          }),
        )
      })
    }
    if (agg.retract !== undefined) {
      const retract = agg.retract
      void test(`${name}: retract undoes add`, () => {
        fc.assert(
          fc.property(itemsArb(strings), itemsArb(strings), (keep, drop) => {
            let acc = fold(agg, [...keep, ...drop])
            for (const it of drop) acc = retract(acc, it.v)
            assert.deepEqual(agg.finish(acc), agg.finish(fold(agg, keep)))
          }),
        )
      })
    }
  }

  void test('empty windows: count, sum, approx_distinct → 0; last_n → []; the rest → null', () => {
    for (const { def } of CASES) {
      const agg = aggregatorFor(def)
      const expected = def.op === 'count' || def.op === 'sum' || def.op === 'approx_distinct' ? 0 : def.op === 'last_n' ? [] : null
      assert.deepEqual(agg.finish(agg.init()), expected, def.op)
    }
  })

  void test('first/last/last_n order by event time, ties by numeric offset (not string order)', () => {
    const items: Item[] = [
      { v: 'late-offset', t: 5, o: '10' },
      { v: 'early-offset', t: 5, o: '9' },
      { v: 'older', t: 4, o: '11' },
    ]
    assert.equal(aggregatorFor({ op: 'first', n: undefined, quantile: undefined }).finish(fold(aggregatorFor({ op: 'first', n: undefined, quantile: undefined }), items)), 'older')
    const last = aggregatorFor({ op: 'last', n: undefined, quantile: undefined })
    assert.equal(last.finish(fold(last, items)), 'late-offset')
    const l2 = aggregatorFor({ op: 'last_n', n: 2, quantile: undefined })
    assert.deepEqual(l2.finish(fold(l2, items)), ['late-offset', 'early-offset'])
  })
})

void describe('operators > aggregators > sketch accuracy', () => {
  const hll = aggregatorFor({ op: 'approx_distinct', n: undefined, quantile: undefined })
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
          const agg = aggregatorFor({ op: 'approx_percentile', n: undefined, quantile: q })
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
        const agg = aggregatorFor({ op: 'approx_percentile', n: undefined, quantile: 0.5 })
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
