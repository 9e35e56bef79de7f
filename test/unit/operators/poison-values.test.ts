/**
 * docs/semantics.md §1: whatever numbers arrive, no emitted row carries a non-finite number —
 * NaN/±Infinity are refused, summing inputs are bounded by 2^960 so no sum can overflow — and a
 * refused value never changes state.
 */
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import type { FeatureRow, FeatureValue } from '../../../features/types.ts'
import { createPartitionTask } from '../../../operators/task/partition-task.ts'
import { MAX_SUMMED_MAGNITUDE } from '../../../operators/aggregators/input-check.ts'
import { testSource, testView, type FeatureSpec } from './defs.ts'

const OPS: FeatureSpec[] = [
  { op: 'sum', field: 'x', windowMs: 20, hopMs: 5 },
  { op: 'avg', field: 'x', windowMs: 20, hopMs: 5 },
  { op: 'min', field: 'x', windowMs: 20, hopMs: 5 },
  { op: 'max', field: 'x', windowMs: 20, hopMs: 5 },
  { op: 'first', field: 'x', windowMs: 20, hopMs: 5 },
  { op: 'last', field: 'x', windowMs: 20, hopMs: 5 },
  { op: 'last_n', field: 'x', n: 3, windowMs: 20, hopMs: 5 },
  { op: 'approx_distinct', field: 'x', windowMs: 20, hopMs: 5 },
  { op: 'approx_percentile', field: 'x', quantile: 1, windowMs: 20, hopMs: 5 },
  { op: 'approx_percentile', field: 'x', quantile: 0, windowMs: null },
  { op: 'sum', field: 'x', windowMs: null },
  { op: 'avg', field: 'x', windowMs: null },
  { op: 'count', field: 'x', windowMs: null },
]

/** Extremes first: the bound itself, just past it, the largest doubles, then any double at all. */
const valueArb: fc.Arbitrary<unknown> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.constantFrom(
      MAX_SUMMED_MAGNITUDE,
      -MAX_SUMMED_MAGNITUDE,
      MAX_SUMMED_MAGNITUDE * (1 - 2 ** -52),
      Number.MAX_VALUE,
      -Number.MAX_VALUE,
    ),
  },
  {
    weight: 2,
    arbitrary: fc.constantFrom(
      MAX_SUMMED_MAGNITUDE * (1 + 2 ** -52),
      Number.NaN,
      Infinity,
      -Infinity,
      -0,
      Number.MIN_VALUE,
      2n ** 63n - 1n,
    ),
  },
  { weight: 3, arbitrary: fc.double() },
)

function numbersOf(values: readonly FeatureValue[]): number[] {
  return values
    .flatMap((v) => (Array.isArray(v) ? (v as readonly unknown[]) : [v]))
    .filter((v): v is number => typeof v === 'number')
}

void describe('operators > poison values', () => {
  void test('no emitted row ever carries a non-finite number, whatever the inputs', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(valueArb, fc.integer({ min: 0, max: 7 }), fc.constantFrom('a', 'b')), { minLength: 1, maxLength: 300 }),
        (steps) => {
          const source = testSource({ outOfOrdernessMs: 0, allowedLatenessMs: 1_000 })
          const view = testView({ source, features: OPS })
          const task = createPartitionTask({ views: [view], source })
          let t = 0
          let offset = 0
          const rows: FeatureRow[] = []
          let refused = 0
          for (const [x, dt, user] of steps) {
            t += dt
            const out = task.processEvent({ offset: String(offset++), eventTimeMs: t, event: { user, x } })
            rows.push(...(out.rows[0] ?? []))
            for (const d of out.deadLetters) {
              assert.equal(d.reason, 'out_of_range', d.detail)
              refused++
            }
          }
          rows.push(...(task.processWatermarkMarker(t + 1_000).rows[0] ?? []))
          for (const row of rows)
            for (const n of numbersOf(row.values))
              assert.ok(Number.isFinite(n), `${row.entityKey}@${row.asOfMs}: ${JSON.stringify(row.values)}`)
          // Every refused value is one the rule names; every other value was taken.
          const expectRefused = steps.filter(
            ([x]) => typeof x === 'bigint' || (typeof x === 'number' && !(Math.abs(x) <= MAX_SUMMED_MAGNITUDE)),
          ).length
          assert.equal(refused, expectRefused)
        },
      ),
      { numRuns: 300 },
    )
  })

  void test('4096 inputs of ±2^960 in one tile and in a lifetime sum stay finite and exact', () => {
    const source = testSource({ allowedLatenessMs: 1_000 })
    const view = testView({ source, features: [OPS[0]!, OPS[1]!, OPS[10]!, OPS[11]!] })
    const task = createPartitionTask({ views: [view], source })
    let last: FeatureRow | undefined
    for (let i = 0; i < 4096; i++) {
      const out = task.processEvent({ offset: String(i), eventTimeMs: 1, event: { user: 'a', x: MAX_SUMMED_MAGNITUDE } })
      assert.deepEqual(out.deadLetters, [])
      last = out.rows[0]?.at(-1) ?? last
    }
    // 4096 · 2^960 = 2^972, exact in a double: sums are exact, avg is 2^960.
    assert.deepEqual(last?.values, [2 ** 972, 2 ** 960, 2 ** 972, 2 ** 960])
  })

  void test('a value just past 2^960 is refused out_of_range, naming the field and the bound; state is untouched', () => {
    const source = testSource()
    const view = testView({ source, features: [OPS[0]!] })
    const task = createPartitionTask({ views: [view], source })
    task.processEvent({ offset: '0', eventTimeMs: 1, event: { user: 'a', x: 1 } })
    const bad = task.processEvent({ offset: '1', eventTimeMs: 2, event: { user: 'a', x: 1.7e308 } })
    assert.deepEqual(bad.rows, [[]])
    assert.equal(bad.deadLetters.length, 1)
    assert.equal(bad.deadLetters[0]!.reason, 'out_of_range')
    assert.match(bad.deadLetters[0]!.detail, /field x = 1\.7e\+308 is beyond ±2\^960/)
    const after = task.processEvent({ offset: '2', eventTimeMs: 3, event: { user: 'a', x: 2 } })
    assert.deepEqual(
      after.rows[0]?.map((r) => r.values),
      [[3]],
    )
  })
})
