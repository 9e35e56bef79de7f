/**
 * A current-state view's filter judges the before image of a change too (docs/design.md §11). When
 * it refuses the before image of a row its group holds live, the image is not that row: such a
 * change is `before_mismatch`, like any before image that disagrees with the group; a filtered
 * before image of a row the group does not hold live is what it says and retracts nothing. A
 * delete's key-only before image (nothing outside the key and group columns but nulls, or a CDC
 * tool's fallbacks for NOT NULL columns: Debezium writes '' and 0) is not judged at all: the group
 * retracts the row it holds (operators/changes/partial-images.ts).
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import type { EventRecord, FeatureViewDef } from '../../../../features/types.ts'
import { createPartitionTask } from '../../../../operators/task/partition-task.ts'
import { runChangesReference, type ChangeStep } from '../../../reference/changes-reference.ts'
import { changeSource, deadOf, feedTask, GROUP, referenceView, rowsDiffer } from './change-scenarios.ts'
import { testView } from '../defs.ts'

const source = changeSource(0, 1_000)
const view: FeatureViewDef = {
  ...testView({
    name: 'open_per_grp',
    source,
    entity: GROUP,
    features: [
      { op: 'count', windowMs: null },
      { op: 'sum', field: 'x', windowMs: null },
    ],
  }),
  filter: (r: EventRecord) => r.s === 'open',
  changeMode: 'current_state',
}
const open = (grp: string, x = 5): EventRecord => ({ id: 1, grp, x, s: 'open' })
const shipped = (grp: string, x = 5): EventRecord => ({ id: 1, grp, x, s: 'shipped' })

const CASES: readonly {
  name: string
  steps: readonly EventRecord[]
  dead: readonly string[]
  last: Record<string, readonly unknown[]>
}[] = [
  {
    name: 'a delete whose before image holds the key, its group and nulls: key-only, the group retracts the row it holds',
    steps: [
      { op: 'c', before: null, after: open('g1') },
      { op: 'd', before: { id: 1, grp: 'g1', x: null, s: null }, after: null },
    ],
    dead: [],
    last: { g1: [0, 0] },
  },
  {
    name: "a delete whose before image holds a CDC tool's fallbacks ('' and 0): key-only, the group retracts the row it holds",
    steps: [
      { op: 'c', before: null, after: open('g1') },
      { op: 'd', before: { id: 1, grp: 'g1', x: 0, s: '' }, after: null },
    ],
    dead: [],
    last: { g1: [0, 0] },
  },
  {
    name: 'an update within the group whose before image the filter refuses: refused whole',
    steps: [
      { op: 'c', before: null, after: open('g1') },
      { op: 'u', before: shipped('g1'), after: open('g1', 9) },
    ],
    dead: ['1:before_mismatch'],
    last: { g1: [1, 5] },
  },
  {
    name: 'an update moving groups whose before image the filter refuses: refused in the old group, added to the new',
    steps: [
      { op: 'c', before: null, after: open('g1') },
      { op: 'u', before: shipped('g1'), after: open('g2', 9) },
    ],
    dead: ['1:before_mismatch'],
    last: { g1: [1, 5], g2: [1, 9] },
  },
  {
    name: 'a delete of a row that left the filter before (retracted already): nothing to retract, no dead letter',
    steps: [
      { op: 'c', before: null, after: open('g1') },
      { op: 'u', before: open('g1'), after: shipped('g1') },
      { op: 'd', before: shipped('g1'), after: null },
    ],
    dead: [],
    last: { g1: [0, 0] },
  },
  {
    name: 'a delete of a row never in the filter: nothing',
    steps: [
      { op: 'c', before: null, after: shipped('g1') },
      { op: 'd', before: shipped('g1'), after: null },
    ],
    dead: [],
    last: {},
  },
  {
    name: 'a delete of a key never seen, its before image filtered: nothing',
    steps: [{ op: 'd', before: shipped('g1'), after: null }],
    dead: [],
    last: {},
  },
  {
    name: 'a full before image still retracts',
    steps: [
      { op: 'c', before: null, after: open('g1') },
      { op: 'd', before: open('g1'), after: null },
    ],
    dead: [],
    last: { g1: [0, 0] },
  },
]

void describe('operators > change views > current state > before images the filter refuses', () => {
  for (const c of CASES) {
    void test(c.name, () => {
      const steps: ChangeStep[] = c.steps.map((event, i) => ({
        offset: String(i),
        eventTimeMs: 10 + i,
        event: { ...event, ts_ms: 10 + i, snapshot: null },
      }))
      const run = feedTask(createPartitionTask({ views: [view], source }), steps)
      assert.deepEqual(
        deadOf(run.dead),
        c.dead.map((d) => `${d}@open_per_grp`),
      )
      const last: Record<string, readonly unknown[]> = {}
      for (const r of run.rows[0]!) last[r.entityKey] = r.values
      assert.deepEqual(last, c.last)
      const expected = runChangesReference(source, [referenceView(view)], steps)
      assert.equal(rowsDiffer(run.rows[0]!, expected.rows[0]!), undefined)
      assert.deepEqual(deadOf(run.dead), deadOf(expected.dead))
    })
  }
})
