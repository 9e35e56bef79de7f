/**
 * variance (operators/aggregators/variance.ts): exact on small inputs, numerically stable far from
 * zero (measured against exact rational arithmetic), null where it is undefined, bounded inputs so
 * nothing overflows, and its definition surface (names, parameter, shared column).
 */
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { DefinitionError } from '../../../core/errors.ts'
import { featureView, type AggregationOptions } from '../../../features/index.ts'
import type { FeatureRow, FeatureValue } from '../../../features/types.ts'
import { MAX_MOMENT_MAGNITUDE, momentsKernel, varianceOf, type Moments } from '../../../operators/aggregators/variance.ts'
import { createPartitionTask } from '../../../operators/task/partition-task.ts'
import { planView } from '../../../operators/task/plan.ts'
import { viewBase } from '../define/fixtures.ts'
import { exactVariance } from './exact-variance.ts'
import { fold } from './kernel-laws.ts'
import { testSource, testView } from './defs.ts'

const items = (xs: readonly number[]) => xs.map((v, i) => ({ v, t: 0, o: String(i) }))

/** Folds `xs` into tiles cut where `cuts` says, then merges the tiles in order (as a window read does). */
function foldInTiles(xs: readonly number[], cuts: readonly boolean[]): Moments {
  let window = momentsKernel.init()
  let tile = momentsKernel.init()
  xs.forEach((x, i) => {
    tile = momentsKernel.add(tile, x, 0, String(i))
    if (cuts[i % cuts.length] === true) {
      window = momentsKernel.merge(window, tile)
      tile = momentsKernel.init()
    }
  })
  return momentsKernel.merge(window, tile)
}

const relativeError = (got: number, want: number): number => (want === 0 ? Math.abs(got) : Math.abs(got - want) / Math.abs(want))

void describe('operators > variance', () => {
  void test('small exact cases; empty → null; the sample variance of one value → null', () => {
    const xs = [2, 4, 4, 4, 5, 5, 7, 9]
    assert.equal(varianceOf(fold(momentsKernel, items(xs)), false), 4)
    assert.equal(varianceOf(fold(momentsKernel, items(xs)), true), 32 / 7)
    assert.equal(varianceOf(momentsKernel.init(), false), null)
    assert.equal(varianceOf(momentsKernel.init(), true), null)
    assert.equal(varianceOf(fold(momentsKernel, items([3.5])), false), 0)
    assert.equal(varianceOf(fold(momentsKernel, items([3.5])), true), null)
    assert.equal(varianceOf(fold(momentsKernel, items([7, 7, 7, 7])), true), 0)
  })

  void test('values far from zero (1e9, 1e12, −3e15 + noise) keep their variance within a few 2^−53, in tiles merged in any cut', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(0, 1e6, 1e9, 1e12, -3e15),
        // Noise in steps of 1e−6 (not dyadic: every value is rounded), up to ±1.
        fc.array(fc.integer({ min: -1_000_000, max: 1_000_000 }).map((i) => i * 1e-6), { minLength: 2, maxLength: 400 }),
        fc.array(fc.boolean(), { minLength: 1, maxLength: 17 }),
        fc.boolean(),
        (offset, noise, cuts, sample) => {
          const xs = noise.map((d) => offset + d)
          const want = exactVariance(xs, sample) as number
          const got = varianceOf(foldInTiles(xs, cuts), sample) as number
          assert.ok(relativeError(got, want) <= 2 ** -53 * 256, `offset ${offset}, n ${xs.length}: ${got} vs exact ${want}`)
        },
      ),
      { numRuns: 300 },
    )
  })

  void test('the textbook one-pass formula fails the same data (the test above is not an easy one)', () => {
    const xs = Array.from({ length: 1000 }, (_, i) => 1e9 + Math.sin(i))
    const s1 = xs.reduce((a, b) => a + b, 0)
    const s2 = xs.reduce((a, b) => a + b * b, 0)
    const naive = (s2 - (s1 * s1) / xs.length) / xs.length
    const want = exactVariance(xs, false) as number
    assert.ok(relativeError(naive, want) > 1e-3, `naive ${naive} vs exact ${want}`)
    assert.ok(relativeError(varianceOf(foldInTiles(xs, [false, false, true]), false) as number, want) <= 2 ** -53 * 256)
  })

  void test(`inputs up to ±2^476 never overflow: 4096 alternating ±2^476 have variance exactly 2^952`, () => {
    const xs = Array.from({ length: 4096 }, (_, i) => (i % 2 === 0 ? MAX_MOMENT_MAGNITUDE : -MAX_MOMENT_MAGNITUDE))
    assert.equal(varianceOf(foldInTiles(xs, [false, true]), false), 2 ** 952)
    assert.equal(varianceOf(fold(momentsKernel, items(xs)), false), 2 ** 952)
  })
})

void describe('operators > variance in the partition task', () => {
  const source = testSource({ allowedLatenessMs: 1_000 })
  const view = testView({
    source,
    features: [
      { op: 'variance', field: 'x', windowMs: 20, hopMs: 5, params: { sample: false } },
      { op: 'variance', field: 'x', windowMs: null, params: { sample: true } },
    ],
  })

  void test('whatever numbers arrive, no row carries a non-finite number; exactly the values beyond ±2^476 are refused', () => {
    const valueArb = fc.oneof(
      fc.constantFrom(MAX_MOMENT_MAGNITUDE, -MAX_MOMENT_MAGNITUDE, MAX_MOMENT_MAGNITUDE * (1 + 2 ** -52), 2 ** 960, Number.MAX_VALUE, Number.NaN, Infinity, -0),
      fc.double(),
    )
    fc.assert(
      fc.property(fc.array(fc.tuple(valueArb, fc.integer({ min: 0, max: 7 })), { minLength: 1, maxLength: 200 }), (steps) => {
        const task = createPartitionTask({ views: [view], source })
        const rows: FeatureRow[] = []
        let refused = 0
        let t = 0
        steps.forEach(([x, dt], i) => {
          t += dt
          const out = task.processEvent({ offset: String(i), eventTimeMs: t, event: { user: 'a', x } })
          rows.push(...(out.rows[0] ?? []))
          for (const d of out.deadLetters) {
            assert.equal(d.reason, 'out_of_range')
            assert.match(d.detail, /beyond ±2\^476 \(≈1\.95e143\), the largest magnitude variance takes|variance takes finite numbers only/)
            refused++
          }
        })
        rows.push(...(task.processWatermarkMarker(t + 1_000).rows[0] ?? []))
        for (const row of rows) for (const v of row.values as FeatureValue[]) assert.ok(v === null || Number.isFinite(v), JSON.stringify(row.values))
        assert.equal(refused, steps.filter(([x]) => !(Math.abs(x) <= MAX_MOMENT_MAGNITUDE)).length)
      }),
      { numRuns: 200 },
    )
  })
})

void describe('define > variance', () => {
  const view = (aggregations: AggregationOptions[]) => featureView({ ...viewBase, aggregations })

  void test('population by default, sample with sample: true; names and types', () => {
    const v = view([
      { op: 'variance', field: 'price', windows: ['1h', 'lifetime'] },
      { op: 'variance', field: 'quantity', sample: true, windows: ['1d'] },
    ])
    assert.deepEqual(
      v.features.map((f) => [f.name, f.type, f.aggregation.params]),
      [
        ['price_variance_1h', 'double', { sample: false }],
        ['price_variance', 'double', { sample: false }],
        ['quantity_variance_samp_1d', 'double', { sample: true }],
      ],
    )
  })

  void test('sample is finish-only: the population and sample variance of a field share one column', () => {
    const v = view([{ op: 'variance', field: 'price', windows: ['1h'] }, { op: 'variance', field: 'price', sample: true, windows: ['1h'] }])
    const plan = planView(v, v.source)
    assert.deepEqual(plan.groups.map((g) => g.columns.map((c) => `${c.agg.name}|${c.field}`)), [['moments|price']])
  })

  void test('refused: a non-numeric field, a sample that is not a boolean, sample on another op', () => {
    const refused = (aggregations: AggregationOptions[], ...mentions: string[]): void => {
      assert.throws(() => view(aggregations), (e: unknown) => e instanceof DefinitionError && mentions.every((m) => e.message.includes(m)), mentions.join(' · '))
    }
    refused([{ op: 'variance', field: 'item_id', windows: ['1h'] }], "aggregation variance on field 'item_id'", 'variance needs a numeric field')
    refused([{ op: 'variance', field: 'price', sample: 'yes' as unknown as boolean, windows: ['1h'] }], "variance's sample must be true (divide by n − 1) or false", "sample: true")
    refused([{ op: 'sum', field: 'price', sample: true, windows: ['1h'] }], 'sample applies only to variance', 'remove it')
  })
})
