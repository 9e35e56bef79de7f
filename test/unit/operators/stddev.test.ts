/**
 * stddev (operators/aggregators/stddev.ts): the square root of variance, from the very same
 * accumulator — exact on small inputs, stable far from zero, null where it is undefined — and its
 * definition surface (names, the shared moments column, the input bound in its dead letters).
 */
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { DefinitionError } from '../../../core/errors.ts'
import { featureView, type AggregationOptions } from '../../../features/index.ts'
import { computationOf } from '../../../operators/aggregators/catalog.ts'
import type { Aggregator } from '../../../operators/aggregators/types.ts'
import { createPartitionTask } from '../../../operators/task/partition-task.ts'
import { planView } from '../../../operators/task/plan.ts'
import { viewBase } from '../define/fixtures.ts'
import { testSource, testView } from './defs.ts'
import { exactVariance } from './exact-variance.ts'
import { fold } from './kernel-laws.ts'

function stddevOf(sample: boolean): { kernel: Aggregator; finisher: Aggregator } {
  const c = computationOf({ op: 'stddev', n: undefined, quantile: undefined, params: { sample } })
  assert.ok('column' in c)
  return { kernel: c.column, finisher: c.finisher }
}

const items = (xs: readonly number[]) => xs.map((v, i) => ({ v, t: 0, o: String(i) }))

void describe('operators > stddev', () => {
  void test('small exact cases; empty → null; the sample stddev of one value → null', () => {
    const pop = stddevOf(false)
    const samp = stddevOf(true)
    const xs = [2, 4, 4, 4, 5, 5, 7, 9]
    assert.equal(pop.finisher.finish(fold(pop.kernel, items(xs))), 2)
    assert.equal(samp.finisher.finish(fold(samp.kernel, items(xs))), Math.sqrt(32 / 7))
    assert.equal(pop.finisher.finish(pop.kernel.init()), null)
    assert.equal(samp.finisher.finish(samp.kernel.init()), null)
    assert.equal(pop.finisher.finish(fold(pop.kernel, items([-1.5]))), 0)
    assert.equal(samp.finisher.finish(fold(samp.kernel, items([-1.5]))), null)
  })

  void test('far from zero (1e9 + noise) it is within a few 2^−53 of the square root of the exact variance', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(0, 1e9, -1e12),
        fc.array(fc.integer({ min: -1_000_000, max: 1_000_000 }).map((i) => i * 1e-6), { minLength: 2, maxLength: 300 }),
        fc.boolean(),
        (offset, noise, sample) => {
          const xs = noise.map((d) => offset + d)
          const { kernel, finisher } = stddevOf(sample)
          const want = Math.sqrt(exactVariance(xs, sample) as number)
          const got = finisher.finish(fold(kernel, items(xs))) as number
          assert.ok(want === 0 ? got === 0 : Math.abs(got - want) / want <= 2 ** -53 * 256, `${got} vs ${want}`)
        },
      ),
      { numRuns: 200 },
    )
  })

  void test('a value beyond ±2^476 is refused out_of_range, naming stddev and the bound; state is untouched', () => {
    const source = testSource()
    const view = testView({ source, features: [{ op: 'stddev', field: 'x', windowMs: null, params: { sample: false } }] })
    const task = createPartitionTask({ views: [view], source })
    task.processEvent({ offset: '0', eventTimeMs: 1, event: { user: 'a', x: 1 } })
    const bad = task.processEvent({ offset: '1', eventTimeMs: 2, event: { user: 'a', x: 2 ** 477 } })
    assert.deepEqual(bad.rows, [[]])
    assert.equal(bad.deadLetters[0]?.reason, 'out_of_range')
    assert.match(bad.deadLetters[0]!.detail, /field x = .* is beyond ±2\^476 \(≈1\.95e143\), the largest magnitude stddev takes \(so that no sum of squares can overflow\)/)
    const after = task.processEvent({ offset: '2', eventTimeMs: 3, event: { user: 'a', x: 3 } })
    assert.deepEqual(after.rows[0]?.map((r) => r.values), [[1]])
  })
})

void describe('define > stddev', () => {
  const view = (aggregations: AggregationOptions[]) => featureView({ ...viewBase, aggregations })

  void test('names and types: population by default, _samp with sample: true', () => {
    const v = view([{ op: 'stddev', field: 'price', windows: ['1h'] }, { op: 'stddev', field: 'price', sample: true, windows: ['lifetime'] }])
    assert.deepEqual(v.features.map((f) => `${f.name}:${f.type}`), ['price_stddev_1h:double', 'price_stddev_samp:double'])
  })

  void test('stddev and variance of one field, population or sample, read one moments column', () => {
    const v = view([
      { op: 'stddev', field: 'price', windows: ['1h'] },
      { op: 'variance', field: 'price', sample: true, windows: ['1h'] },
      { op: 'stddev', field: 'quantity', sample: true, windows: ['1h'] },
    ])
    assert.deepEqual(planView(v, v.source).groups.map((g) => g.columns.map((c) => `${c.agg.name}|${c.field}`)), [['moments|price', 'moments|quantity']])
  })

  void test('refused: a non-numeric field, a sample that is not a boolean', () => {
    assert.throws(() => view([{ op: 'stddev', field: 'item_id', windows: ['1h'] }]), (e: unknown) => e instanceof DefinitionError && e.message.includes('stddev needs a numeric field'))
    assert.throws(
      () => view([{ op: 'stddev', field: 'price', sample: 1 as unknown as boolean, windows: ['1h'] }]),
      (e: unknown) => e instanceof DefinitionError && e.message.includes("stddev's sample must be true"),
    )
  })
})
