/**
 * top_k (operators/aggregators/top-k.ts): exact top k with deterministic ties while a window
 * holds at most 1024 distinct values, the Misra–Gries bound beyond, at most 1024 entries per
 * accumulator always, and its definition surface (two outputs, names, types, k, row limits,
 * registry description).
 */
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { DefinitionError } from '../../../core/errors.ts'
import { featureView, type AggregationOptions } from '../../../features/index.ts'
import { computationOf } from '../../../operators/aggregators/catalog.ts'
import { TOP_K_CAPACITY, topKKernel, type TopKAcc } from '../../../operators/aggregators/top-k.ts'
import type { AggInput, Aggregator } from '../../../operators/aggregators/types.ts'
import { planView } from '../../../operators/task/plan.ts'
import { featureOpText, viewLogic } from '../../../registry/describe.ts'
import { viewHash } from '../../../registry/hash.ts'
import { viewBase } from '../define/fixtures.ts'

function topK(k: number): { kernel: Aggregator<TopKAcc>; values: Aggregator<TopKAcc>; counts: Aggregator<TopKAcc> } {
  const main = computationOf({ op: 'top_k', n: undefined, quantile: undefined, params: { k } })
  const counts = computationOf({ op: 'top_k', n: undefined, quantile: undefined, params: { k }, output: 'counts' })
  assert.ok('column' in main && 'column' in counts)
  return { kernel: main.column as Aggregator<TopKAcc>, values: main.finisher as Aggregator<TopKAcc>, counts: counts.finisher as Aggregator<TopKAcc> }
}

/** Folds values into tiles cut where `cuts` says, merging the tiles in order (a window read). */
function foldInTiles(kernel: Aggregator<TopKAcc>, xs: readonly AggInput[], cuts: readonly boolean[], check?: (acc: TopKAcc) => void): TopKAcc {
  let window = kernel.init()
  let tile = kernel.init()
  xs.forEach((x, i) => {
    tile = kernel.add(tile, x, 0, String(i))
    check?.(tile)
    if (cuts[i % cuts.length] === true) {
      window = kernel.merge(window, tile)
      check?.(window)
      tile = kernel.init()
    }
  })
  window = kernel.merge(window, tile)
  check?.(window)
  return window
}

/** Brute force: counts of every value, count descending, numbers first, numbers ascending, strings by UTF-8 bytes. */
function bruteForce(xs: readonly AggInput[], k: number): { values: AggInput[]; counts: number[] } {
  const counts = new Map<AggInput, number>()
  for (const x of xs) counts.set(x, (counts.get(x) ?? 0) + 1)
  const order = (a: AggInput, b: AggInput): number =>
    typeof a === 'number' ? (typeof b === 'number' ? a - b : -1) : typeof b === 'number' ? 1 : Buffer.compare(Buffer.from(a), Buffer.from(b))
  const top = [...counts].sort((a, b) => b[1] - a[1] || order(a[0], b[0])).slice(0, k)
  return { values: top.map((e) => e[0]), counts: top.map((e) => e[1]) }
}

void describe('operators > top_k', () => {
  void test('ties: count descending, then numbers before strings, numbers ascending, strings by code point; −0 is 0', () => {
    const { kernel, values, counts } = topK(4)
    const xs: AggInput[] = ['b', 'a', 'b', 'a', 'c', 10, 2, 10, 2, -0, 0]
    const acc = foldInTiles(kernel, xs, [false])
    assert.deepEqual(values.finish(acc), [0, 2, 10, 'a'])
    assert.deepEqual(counts.finish(acc), [2, 2, 2, 2])
    assert.ok(Object.is((values.finish(acc) as number[])[0], 0), '−0 is reported as 0')
    // U+E000 < U+1F600 by code point (and UTF-8 bytes), though not by UTF-16 code units.
    const strings = topK(2)
    const s = foldInTiles(strings.kernel, ['\u{1F600}', '\uE000', '\u{1F600}', '\uE000', 'z'], [true])
    assert.deepEqual(strings.values.finish(s), ['\uE000', '\u{1F600}'])
    assert.deepEqual(topK(3).values.finish(topK(3).kernel.init()), [])
  })

  void test('with at most 1024 distinct values it is exact, whatever the tiles: the brute-force top k', () => {
    const value = fc.oneof(fc.integer({ min: -30, max: 30 }), fc.constantFrom('p', 'q', 'r', 'é', '\u{1F600}', '\uE000', '0'))
    fc.assert(
      fc.property(fc.array(value, { maxLength: 300 }), fc.array(fc.boolean(), { minLength: 1, maxLength: 9 }), fc.integer({ min: 1, max: 12 }), (xs, cuts, k) => {
        const { kernel, values, counts } = topK(k)
        const acc = foldInTiles(kernel, xs, cuts)
        const want = bruteForce(xs, k)
        assert.deepEqual(values.finish(acc), want.values)
        assert.deepEqual(counts.finish(acc), want.counts)
      }),
      { numRuns: 300 },
    )
  })

  void test(`beyond ${TOP_K_CAPACITY} distinct values: ≤ ${TOP_K_CAPACITY} entries always; heavy hitters kept, counts at most N/${TOP_K_CAPACITY + 1} low`, () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 31 }), fc.array(fc.boolean(), { minLength: 1, maxLength: 7 }), (seed, cuts) => {
        // Five heavy values (600 to 1000 times) among 3000 distinct singletons, shuffled by the seed.
        const xs: AggInput[] = []
        for (let h = 0; h < 5; h++) for (let i = 0; i < 600 + 100 * h; i++) xs.push(`heavy${h}`)
        for (let i = 0; i < 3000; i++) xs.push(i)
        let state = seed
        for (let i = xs.length - 1; i > 0; i--) {
          state = (state * 1103515245 + 12345) % 2 ** 31
          const j = state % (i + 1)
          ;[xs[i], xs[j]] = [xs[j]!, xs[i]!]
        }
        const { kernel, values, counts } = topK(5)
        const acc = foldInTiles(kernel, xs, cuts, (a) => assert.ok(a.length / 2 <= TOP_K_CAPACITY, `${a.length / 2} entries`))
        const slack = xs.length / (TOP_K_CAPACITY + 1)
        assert.deepEqual([...(values.finish(acc) as string[])].sort(), ['heavy0', 'heavy1', 'heavy2', 'heavy3', 'heavy4'])
        ;(values.finish(acc) as string[]).forEach((v, i) => {
          const truth = 600 + 100 * Number(v.slice(5))
          const reported = (counts.finish(acc) as number[])[i]!
          assert.ok(reported <= truth && reported >= truth - slack, `${v}: ${reported} vs ${truth}`)
        })
      }),
      { numRuns: 20 },
    )
  })

  void test('a kernel for k = 0 or a fraction is a bug, refused', () => {
    assert.throws(() => topKKernel(0), /positive whole k/)
    assert.throws(() => topKKernel(1.5), /positive whole k/)
  })
})

void describe('define > top_k', () => {
  const view = (aggregations: AggregationOptions[], limits?: { maxStringBytes?: number }) => featureView({ ...viewBase, aggregations, ...(limits ? { limits } : {}) })

  void test('two features per window: the values (a list of the field type) and _counts (long[])', () => {
    const v = view([
      { op: 'top_k', field: 'item_id', k: 3, windows: ['1d', 'lifetime'] },
      { op: 'top_k', field: 'quantity', k: 2, windows: ['1h'], name: 'fav_quantities' },
    ])
    assert.deepEqual(v.features.map((f) => `${f.name}:${f.type}`), [
      'item_id_top_3_1d:string[]',
      'item_id_top_3_counts_1d:long[]',
      'item_id_top_3:string[]',
      'item_id_top_3_counts:long[]',
      'fav_quantities:long[]',
      'fav_quantities_counts:long[]',
    ])
    assert.deepEqual(v.features.slice(0, 2).map((f) => [f.aggregation.params, f.aggregation.output]), [
      [{ k: 3 }, undefined],
      [{ k: 3 }, 'counts'],
    ])
  })

  void test('both outputs read one column; another k is another column', () => {
    const v = view([
      { op: 'top_k', field: 'item_id', k: 3, windows: ['1h'] },
      { op: 'top_k', field: 'item_id', k: 5, windows: ['1h'] },
    ])
    assert.deepEqual(planView(v, v.source).groups.map((g) => g.columns.map((c) => `${c.agg.name}|${c.field}`)), [['top_k|item_id', 'top_k|item_id']])
    assert.deepEqual(planView(v, v.source).groups[0]!.specs[0]!.features.map((f) => f.column), [0, 0, 1, 1])
  })

  void test('k is checked (1 to 100) and refused on another op', () => {
    const refused = (aggregations: AggregationOptions[], ...mentions: string[]): void => {
      assert.throws(() => view(aggregations), (e: unknown) => e instanceof DefinitionError && mentions.every((m) => e.message.includes(m)), mentions.join(' · '))
    }
    refused([{ op: 'top_k', field: 'item_id', windows: ['1h'] }], "top_k needs k, a whole number from 1 to 100, e.g. { op: 'top_k', field: 'item_id', k: 5 }")
    refused([{ op: 'top_k', field: 'item_id', k: 101, windows: ['1h'] }], 'top_k needs k')
    refused([{ op: 'top_k', field: 'item_id', k: 2.5, windows: ['1h'] }], 'top_k needs k')
    refused([{ op: 'last', field: 'item_id', k: 3, windows: ['1h'] }], 'k applies only to top_k; remove it')
    refused([{ op: 'top_k', field: 'bot', k: 3, windows: ['1h'] }], "field 'bot' is boolean")
    refused([{ op: 'top_k', field: 'item_id', k: 1, windows: ['1h'] }, { op: 'last_n', field: 'item_id', n: 1, windows: ['1h'], name: 'item_id_top_1_counts_1h' }], "'item_id_top_1_counts_1h' is produced twice")
  })

  void test('the worst row counts k strings: too many is refused with the fix', () => {
    assert.throws(
      () => view([{ op: 'top_k', field: 'item_id', k: 100, windows: ['1d'] }]),
      (e: unknown) => e instanceof DefinitionError && /item_id_top_100_1d \(top 100 strings\).*lower top_k's k or limits\.maxStringBytes/.test(e.message),
    )
    view([{ op: 'top_k', field: 'item_id', k: 100, windows: ['1d'] }], { maxStringBytes: 1024 })
  })

  void test('the registry describes k under params and the counts output; k is part of the hash', () => {
    const v = view([{ op: 'top_k', field: 'item_id', k: 3, windows: ['1d'] }])
    const [values, counts] = viewLogic(v).features
    assert.deepEqual(values, { name: 'item_id_top_3_1d', type: 'string[]', op: 'top_k', field: 'item_id', windowMs: 86_400_000, hopMs: 300_000, n: null, quantile: null, params: { k: 3 } })
    assert.equal(counts?.output, 'counts')
    assert.equal(featureOpText(counts!), 'top_k(item_id, k=3).counts')
    assert.notEqual(viewHash(v), viewHash(view([{ op: 'top_k', field: 'item_id', k: 4, windows: ['1d'] }])))
  })
})
