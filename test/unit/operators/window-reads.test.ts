/**
 * The fused window reader (operators/task/window-reads.ts: one walk per hop group, every window's
 * numeric columns folded together) against the per-feature reader it replaced, over random plans
 * and event streams: every row's values must be the same bits (Object.is: -0, NaN, null), the
 * same rows and dead letters in the same order.
 */
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import type { EventRecord, FeatureRow, FeatureValue } from '../../../features/types.ts'
import { planView } from '../../../operators/task/plan.ts'
import type { TaskDeadLetter } from '../../../operators/task/output.ts'
import { ViewRunner } from '../../../operators/task/view-runner.ts'
import { generalGroupReaders } from '../../../operators/task/window-reads.ts'
import { testSource, testView, type FeatureSpec } from './defs.ts'

const KINDS = ['count', 'count_x', 'sum', 'avg', 'min', 'max', 'last_n', 'approx_distinct'] as const

/** Several windows of one hop (windows sharing tiles), several hops, now and then a lifetime feature. */
const featureArb: fc.Arbitrary<FeatureSpec> = fc
  .tuple(fc.constantFrom(...KINDS), fc.constantFrom(5, 10), fc.constantFrom(1, 2, 3, 6, 12), fc.integer({ min: 0, max: 9 }))
  .map(([kind, hopMs, tiles, life]): FeatureSpec => {
    const w = life === 0 ? { windowMs: null } : { windowMs: hopMs * tiles, hopMs }
    if (kind === 'count') return { op: 'count', ...w }
    if (kind === 'count_x') return { op: 'count', field: 'x', ...w }
    if (kind === 'last_n') return { op: 'last_n', field: 'x', n: 3, ...w }
    return { op: kind, field: 'x', ...w }
  })

/** Values whose sums depend on the order of addition, signed zeros, and values the kernels refuse. */
const valueArb = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom(0, -0, 1, -1, 0.1, 0.2, 0.3, 1e16, -1e16, 3.5, 2 ** 53, -7.25, 1e-300) },
  { weight: 2, arbitrary: fc.double({ noNaN: true, noDefaultInfinity: true }) },
  { weight: 1, arbitrary: fc.constantFrom(null, Number.NaN, Number.POSITIVE_INFINITY) },
)

/** An event (key, time, value) or a watermark step; times jump back to make events late and out of order. */
const eventArb = fc.record({ key: fc.constantFrom('a', 'b', 'c'), dt: fc.integer({ min: -40, max: 30 }), x: valueArb })
const stepArb = fc.oneof(
  { weight: 8, arbitrary: eventArb },
  { weight: 1, arbitrary: fc.record({ lag: fc.integer({ min: 0, max: 40 }) }) },
)

function sameBits(a: FeatureValue, b: FeatureValue): boolean {
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((v, i) => Object.is(v, b[i]))
  return Object.is(a, b)
}

function assertSameRows(fused: FeatureRow[], general: FeatureRow[]): void {
  assert.equal(fused.length, general.length, 'row count')
  fused.forEach((row, r) => {
    const other = general[r]!
    assert.equal(row.entityKey, other.entityKey, `row ${r} key`)
    assert.equal(row.asOfMs, other.asOfMs, `row ${r} as_of`)
    row.values.forEach((v, f) =>
      assert.ok(
        sameBits(v, other.values[f] as FeatureValue),
        `row ${r} feature ${f}: ${String(v)} vs ${String(other.values[f])}`,
      ),
    )
  })
}

void describe('operators > fused window reads', () => {
  void test('every row is bit for bit the per-feature reader’s, over random plans and out-of-order streams', () => {
    fc.assert(
      fc.property(
        fc.array(featureArb, { minLength: 1, maxLength: 10 }),
        eventArb,
        fc.array(stepArb, { maxLength: 120 }),
        (features, first, rest) => {
          const steps = [first, ...rest]
          const source = testSource({ allowedLatenessMs: 0 })
          const plan = planView(testView({ source, features }), source)
          const fused = new ViewRunner(plan, 0)
          const general = new ViewRunner(plan, 0, generalGroupReaders)
          const rows: [FeatureRow[], FeatureRow[]] = [[], []]
          const dead: [TaskDeadLetter[], TaskDeadLetter[]] = [[], []]
          let t = 1_000
          let watermark = 0
          steps.forEach((step, i) => {
            if ('lag' in step) {
              watermark = Math.max(watermark, t - step.lag)
              fused.fire(watermark, rows[0])
              general.fire(watermark, rows[1])
              return
            }
            t = Math.max(1, t + step.dt)
            // Late events are the task's to drop (partition-task.ts); the runners see the rest.
            if (t < watermark) return
            const event: EventRecord = { user: step.key, ts: t, x: step.x }
            fused.processEvent(String(i), t, event, rows[0], dead[0])
            general.processEvent(String(i), t, event, rows[1], dead[1])
          })
          fused.fire(Number.MAX_SAFE_INTEGER, rows[0])
          general.fire(Number.MAX_SAFE_INTEGER, rows[1])
          assertSameRows(rows[0], rows[1])
          assert.deepEqual(dead[0], dead[1])
          assert.ok(rows[0].length > 0 || dead[0].length > 0, 'the stream produced nothing to compare')
        },
      ),
      { numRuns: 400, seed: 3801 },
    )
  })
})
