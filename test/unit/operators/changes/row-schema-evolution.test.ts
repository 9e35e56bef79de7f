/**
 * A change view's stored rows outlive the row schema they were decoded with (docs/design.md §11):
 * a task restored from a snapshot after the source's row schema evolved keeps the old rows, and the
 * new changes' before images carry the new schema's columns. A column the stored row lacks says
 * nothing about it: compared, an added column refused every later update and delete of each stored
 * key (`before_mismatch`), and the key's features stayed stale for good. A real disagreement on a
 * column both hold is still refused.
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import type { EventRecord } from '../../../../features/types.ts'
import { createPartitionTask, restorePartitionTask } from '../../../../operators/task/partition-task.ts'
import { runChangesReference, type ChangeStep } from '../../../reference/changes-reference.ts'
import { attributeView, changeSource, currentStateView, deadOf, feedTask, referenceView, rowsDiffer } from './change-scenarios.ts'

const v1 = (id: number, x: number): EventRecord => ({ id, grp: 'g1', x, s: 'a' })

interface Evolution {
  readonly name: string
  /** The row as the evolved schema decodes it. */
  readonly v2: (id: number, x: number) => EventRecord
}

const EVOLUTIONS: readonly Evolution[] = [
  { name: 'a column added with a default', v2: (id, x) => ({ ...v1(id, x), tier: 'FREE' }) },
  { name: 'a nullable column added, holding a value', v2: (id, x) => ({ ...v1(id, x), note: `n${x}` }) },
  { name: 'a record column added', v2: (id, x) => ({ ...v1(id, x), address: { city: 'Oslo', zip: 150 } }) },
  { name: 'a column removed', v2: (id, x) => ({ id, grp: 'g1', x }) },
  { name: 'a column added and another removed', v2: (id, x) => ({ id, grp: 'g1', x, tier: 'PRO' }) },
]

let offset = 0
const step = (t: number, event: EventRecord): ChangeStep => ({
  offset: String(offset++),
  eventTimeMs: t,
  event: { ...event, ts_ms: t, snapshot: null },
})

void describe('operators > change views > rows stored before the row schema evolved', () => {
  for (const e of EVOLUTIONS) {
    void test(`${e.name}: updates and deletes of stored keys apply after a restore; a real mismatch is still refused`, () => {
      const source = changeSource(0, 1_000)
      const views = [attributeView(source, 'plain'), currentStateView(source, 'plain')]
      const before = [
        step(10, { op: 'c', before: null, after: v1(1, 1) }),
        step(11, { op: 'c', before: null, after: v1(2, 2) }),
        step(12, { op: 'c', before: null, after: v1(3, 3) }),
      ]
      const after = [
        step(20, { op: 'u', before: e.v2(1, 1), after: e.v2(1, 5) }),
        step(21, { op: 'u', before: e.v2(1, 5), after: e.v2(1, 6) }),
        step(22, { op: 'd', before: e.v2(2, 2), after: null }),
        // Disagrees on x, a column both rows hold.
        step(23, { op: 'u', before: e.v2(3, 99), after: e.v2(3, 7) }),
      ]
      const first = createPartitionTask({ views, source })
      const run = feedTask(first, before)
      feedTask(restorePartitionTask(views, source, first.snapshot()), after, run)
      const mismatch = after[3] as { offset: string }
      assert.deepEqual(deadOf(run.dead), [
        `${mismatch.offset}:before_mismatch@item_attrs`,
        `${mismatch.offset}:before_mismatch@group_totals`,
      ])
      // A removed column `s` reads null in the evolved rows.
      const sValue = e.v2(1, 0).s === undefined ? null : 'a'
      assert.deepEqual(
        run.rows[0]!.slice(3).map((r) => [r.entityKey, r.asOfMs, r.values, r.deleted ?? false]),
        [
          ['1', 20, ['g1', 5, sValue], false],
          ['1', 21, ['g1', 6, sValue], false],
          ['2', 22, [null, null, null], true],
        ],
      )
      const expected = runChangesReference(source, views.map(referenceView), [...before, ...after])
      views.forEach((v, i) => assert.equal(rowsDiffer(run.rows[i]!, expected.rows[i]!), undefined, `view ${v.name}`))
      assert.deepEqual(deadOf(run.dead), deadOf(expected.dead))
    })
  }
})
