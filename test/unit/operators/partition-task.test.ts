import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import type { FeatureRow, FeatureValue } from '../../../features/types.ts'
import { runReference } from '../../reference/reference-model.ts'
import { scenarioArb } from './gen.ts'
import { runTask } from './run-task.ts'

function close(a: FeatureValue, b: FeatureValue): boolean {
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => close(x as FeatureValue, b[i] as FeatureValue))
  if (typeof a === 'number' && typeof b === 'number') return a === b || Math.abs(a - b) <= 1e-9 * Math.max(Math.abs(a), Math.abs(b))
  return a === b
}

function assertRowsMatch(actual: readonly FeatureRow[], expected: readonly FeatureRow[], what: string): void {
  const show = (r: FeatureRow): string => `${r.entityKey}@${r.asOfMs}:${JSON.stringify(r.values)}`
  assert.equal(actual.length, expected.length, `${what}: row count\nactual:   ${actual.map(show).join(' | ')}\nexpected: ${expected.map(show).join(' | ')}`)
  actual.forEach((row, i) => {
    const exp = expected[i] as FeatureRow
    const ok = row.entityKey === exp.entityKey && row.asOfMs === exp.asOfMs && row.values.length === exp.values.length && row.values.every((v, j) => close(v, exp.values[j] as FeatureValue))
    assert.ok(ok, `${what}: row ${i}: ${show(row)} vs expected ${show(exp)}`)
  })
}

void describe('operators > partition task', () => {
  void test('emits exactly the rows and dead letters of the brute-force reference', () => {
    fc.assert(
      fc.property(scenarioArb, ({ source, views, records }) => {
        const ref = runReference({ views, source, records })
        const got = runTask(views, source, records)
        views.forEach((view, i) => assertRowsMatch(got.rows[i]!, ref.rowsOf(view.name, 0), view.name))
        assert.deepEqual(
          got.dead.map((d) => `${d.offset}:${d.reason}:${d.view ?? ''}`),
          ref.deadLetters.map((d) => `${d.offset}:${d.reason}:${d.view ?? ''}`),
        )
      }),
      { numRuns: 400 },
    )
  })

  void test('snapshot at any point, restore and continue == uninterrupted run, bit for bit', () => {
    fc.assert(
      fc.property(scenarioArb, fc.nat(), ({ source, views, records }, cut) => {
        const splitAt = cut % (records.length + 1)
        const whole = runTask(views, source, records)
        const resumed = runTask(views, source, records, splitAt)
        // deepEqual uses Object.is on numbers: bit-for-bit (−0 ≠ 0).
        assert.deepEqual(resumed, whole)
      }),
      { numRuns: 200 },
    )
  })
})
