/**
 * What an attribute view makes of each kind of column value (docs/design.md §11,
 * docs/semantics.md "no emitted row ever carries NaN or ±Infinity"): the feature value, or the
 * dead letter of a value no feature can hold — and a refused change leaves the key's row as it was.
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import type { EventRecord } from '../../../../features/types.ts'
import { createPartitionTask } from '../../../../operators/task/partition-task.ts'
import { runChangesReference, type ChangeStep } from '../../../reference/changes-reference.ts'
import { attributeView, changeSource, deadOf, feedTask, referenceView, rowsDiffer } from './change-scenarios.ts'

const CASES: readonly { name: string; x: unknown; expected: number | null | { reason: string; detail: RegExp } }[] = [
  { name: 'a double', x: 2.5, expected: 2.5 },
  { name: 'negative zero', x: -0, expected: -0 },
  { name: 'the largest double', x: Number.MAX_VALUE, expected: Number.MAX_VALUE },
  { name: 'the smallest subnormal', x: Number.MIN_VALUE, expected: Number.MIN_VALUE },
  { name: 'null', x: null, expected: null },
  { name: 'a safe long (bigint)', x: 2n ** 53n - 1n, expected: 2 ** 53 - 1 },
  { name: 'a timestamp (Date)', x: new Date(1_700_000_000_000), expected: 1_700_000_000_000 },
  {
    name: 'NaN',
    x: Number.NaN,
    expected: { reason: 'out_of_range', detail: /^column x is NaN: feature values are finite numbers$/ },
  },
  { name: '+Infinity', x: Number.POSITIVE_INFINITY, expected: { reason: 'out_of_range', detail: /^column x is Infinity/ } },
  { name: '-Infinity', x: Number.NEGATIVE_INFINITY, expected: { reason: 'out_of_range', detail: /^column x is -Infinity/ } },
  { name: 'a long beyond 2^53', x: 2n ** 53n, expected: { reason: 'out_of_range', detail: /beyond ±2\^53/ } },
  { name: 'an invalid Date', x: new Date(Number.NaN), expected: { reason: 'schema_mismatch', detail: /invalid Date/ } },
  { name: 'a boolean', x: true, expected: { reason: 'schema_mismatch', detail: /holds a boolean/ } },
  { name: 'bytes', x: new Uint8Array([1]), expected: { reason: 'schema_mismatch', detail: /holds a object/ } },
  { name: 'a nested record', x: { a: 1 }, expected: { reason: 'schema_mismatch', detail: /holds a object/ } },
]

void describe('operators > change views > attribute values', () => {
  for (const c of CASES) {
    void test(`${c.name}: ${typeof c.expected === 'object' && c.expected !== null ? c.expected.reason : 'a value'}`, () => {
      const source = changeSource(0, 1_000)
      const views = [attributeView(source, 'plain')]
      const row = (x: unknown): EventRecord => ({ id: 1, grp: 'g1', x, s: 'a' })
      const step = (offset: number, t: number, event: EventRecord): ChangeStep => ({
        offset: String(offset),
        eventTimeMs: t,
        event: { ...event, ts_ms: t, snapshot: null },
      })
      const steps = [
        step(0, 10, { op: 'c', before: null, after: row(1) }),
        step(1, 11, { op: 'u', before: row(1), after: row(c.x) }),
      ]
      const run = feedTask(createPartitionTask({ views, source }), steps)
      if (typeof c.expected === 'object' && c.expected !== null) {
        assert.equal(run.rows[0]!.length, 1, 'the refused change emits no row')
        assert.deepEqual(deadOf(run.dead), [`1:${c.expected.reason}@item_attrs`])
        assert.match(run.dead[0]!.detail ?? '', c.expected.detail)
      } else {
        assert.deepEqual(run.dead, [])
        assert.ok(Object.is(run.rows[0]![1]!.values[1], c.expected), `value ${String(run.rows[0]![1]!.values[1])}`)
      }
      for (const r of run.rows[0]!)
        for (const v of r.values)
          assert.ok(typeof v !== 'number' || Number.isFinite(v), 'an emitted row carries a non-finite number')
      const expected = runChangesReference(source, views.map(referenceView), steps)
      assert.equal(rowsDiffer(run.rows[0]!, expected.rows[0]!), undefined)
      assert.deepEqual(deadOf(run.dead), deadOf(expected.dead))
    })
  }
})
