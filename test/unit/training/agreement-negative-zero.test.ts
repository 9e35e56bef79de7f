/**
 * A stored double -0 (a `last` or `min` of -0.0 keeps it; the offline table holds it bit for bit)
 * was -0 in a training set's Parquet and 0 in serving's JSON (`JSON.stringify(-0)` is `0`), so
 * the model trained on a value serving never answered. Serving now writes -0 as `-0.0`
 * (core/feature-json.ts) on every path, and both answer -0; a long has no -0 in either (int64).
 * Checked through both paths (test/unit/training/serving-agreement.ts), with serving reading the
 * stored text and, through the hot-key cache, decoded values; label files in CSV and Parquet.
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { stamped, trainAndServe, userProbe, type Outcome } from './serving-agreement.ts'

const T = 1_700_000_000_000

/** x_last (double) and n_last (long) as stored, and what both sides must answer for them. */
const CASES: readonly { what: string; x: number; n: number; want: readonly [number, number] }[] = [
  { what: 'negative zero', x: -0, n: -0, want: [-0, 0] },
  { what: 'zero', x: 0, n: 0, want: [0, 0] },
  { what: 'the smallest subnormal', x: 5e-324, n: 1, want: [5e-324, 1] },
  { what: 'the smallest negative subnormal', x: -5e-324, n: -1, want: [-5e-324, -1] },
  { what: 'the largest subnormal, negative', x: -2.225073858507201e-308, n: 2, want: [-2.225073858507201e-308, 2] },
  { what: 'a tiny negative exponent form', x: -1e-7, n: 3, want: [-1e-7, 3] },
]

function assertBoth(training: Outcome[] | Outcome, serving: readonly Outcome[]): void {
  assert.ok(Array.isArray(training), `training set failed: ${JSON.stringify(training)}`)
  CASES.forEach((c, i) => {
    for (const [side, outcome] of [
      ['training', training[i]!],
      ['serving', serving[i]!],
    ] as const) {
      assert.ok(outcome.ok, `${c.what}: ${side} failed: ${JSON.stringify(outcome)}`)
      c.want.forEach((w, j) =>
        assert.ok(
          Object.is(outcome.values[j], w),
          `${c.what}: ${side} value ${j} is ${String(outcome.values[j])}, want ${Object.is(w, -0) ? '-0' : String(w)}`,
        ),
      )
    }
  })
}

void describe('training–serving agreement > negative zero and tiny doubles', () => {
  for (const labelFormat of ['csv', 'parquet'] as const) {
    for (const servingCache of [false, true]) {
      void test(`${labelFormat} labels, serving ${servingCache ? 'through the hot-key cache' : 'from the stored text'}: both answer -0 for a double -0`, async () => {
        const { training, serving } = await trainAndServe({
          rows: new Map([[userProbe, CASES.map((c, i) => stamped(`u${i}`, T - 10, [c.x, c.n, 's']))]]),
          labels: CASES.map((_, i) => ({ keys: { user_id: `u${i}` }, tMs: T })),
          features: ['user_probe@1:x_last', 'user_probe@1:n_last'],
          labelFormat,
          servingCache,
        })
        assertBoth(training, serving)
      })
    }
  }
})
