/**
 * A change one of whose images a current-state view refuses (a value out of range or of another
 * type, a bad group key, a map that throws) is refused whole: its dead letter is all it leaves
 * behind, so the view's rows equal those of a run without it. Before, the retraction of the old
 * row was applied while the new row was refused, and the row vanished from its group. Every kind
 * of bad image, old or new, in the same group or moving to another, delivered whole or split by
 * the re-key stage into a retract and an add copy (each copy judges the other's image too, so
 * exactly one of them writes the letter); the brute-force reference agrees.
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
    name: 'per_grp',
    source,
    entity: GROUP,
    features: [
      { op: 'count', windowMs: null },
      { op: 'sum', field: 'x', windowMs: null },
    ],
  }),
  map: (r: EventRecord) => {
    if (r.s === 'boom') throw new Error('map refuses boom')
    return r
  },
  changeMode: 'current_state',
}

const good = (grp: string, x: number): EventRecord => ({ id: 1, grp, x, s: 'open' })

/** What makes an image bad, and the letter it gets. */
const BAD: readonly { name: string; edit: (r: EventRecord) => EventRecord; reason: string; splits: boolean }[] = [
  { name: 'x NaN', edit: (r) => ({ ...r, x: NaN }), reason: 'out_of_range', splits: true },
  { name: 'x Infinity', edit: (r) => ({ ...r, x: Infinity }), reason: 'out_of_range', splits: true },
  { name: 'x 1e300', edit: (r) => ({ ...r, x: 1e300 }), reason: 'out_of_range', splits: true },
  { name: 'x a long beyond 2^53', edit: (r) => ({ ...r, x: 2n ** 60n }), reason: 'out_of_range', splits: true },
  { name: 'x a string', edit: (r) => ({ ...r, x: '7' }), reason: 'schema_mismatch', splits: true },
  { name: 'a map that throws', edit: (r) => ({ ...r, s: 'boom' }), reason: 'map_failed', splits: true },
  // The re-key stage sends a change one image of which names no group as one copy, to the other's group.
  { name: 'group key empty', edit: (r) => ({ ...r, grp: '' }), reason: 'invalid_key', splits: false },
  { name: 'group key null', edit: (r) => ({ ...r, grp: null }), reason: 'missing_key', splits: false },
]

/** The bad update (offset 1) between a good create and a good update, for each image and group move. */
const SHAPES: readonly { name: string; bad: (edit: (r: EventRecord) => EventRecord) => EventRecord }[] = [
  { name: 'the new image, same group', bad: (edit) => ({ op: 'u', before: good('g1', 5), after: edit(good('g1', 9)) }) },
  {
    name: 'the new image, moving to another group',
    bad: (edit) => ({ op: 'u', before: good('g1', 5), after: edit(good('g2', 9)) }),
  },
  { name: 'the old image, same group', bad: (edit) => ({ op: 'u', before: edit(good('g1', 5)), after: good('g1', 9) }) },
  {
    name: 'the old image, moving to another group',
    bad: (edit) => ({ op: 'u', before: edit(good('g1', 5)), after: good('g2', 9) }),
  },
]

function stepsOf(bad: EventRecord, split: boolean): ChangeStep[] {
  const at = (offset: number, event: EventRecord, role?: 'retract' | 'add'): ChangeStep => ({
    offset: String(offset),
    eventTimeMs: 10 + offset,
    event: { ...event, ts_ms: 10 + offset, snapshot: null },
    ...(role ? { role } : {}),
  })
  const middle = split ? [at(1, bad, 'retract'), at(1, bad, 'add')] : [at(1, bad)]
  return [
    at(0, { op: 'c', before: null, after: good('g1', 5) }),
    ...middle,
    at(2, { op: 'u', before: good('g1', 5), after: good('g1', 7) }),
  ]
}

void describe('operators > change views > current state > a change with a refused image is refused whole', () => {
  for (const bad of BAD) {
    for (const shape of SHAPES) {
      for (const split of bad.splits && shape.name.includes('moving') ? [false, true] : [false]) {
        void test(`${bad.name} in ${shape.name}${split ? ', split into retract and add copies' : ''}`, () => {
          const steps = stepsOf(shape.bad(bad.edit), split)
          const run = feedTask(createPartitionTask({ views: [view], source }), steps)
          assert.deepEqual(deadOf(run.dead), [`1:${bad.reason}@per_grp`])
          const clean = feedTask(
            createPartitionTask({ views: [view], source }),
            steps.filter((s) => 'offset' in s && s.offset !== '1'),
          )
          assert.deepEqual(run.rows, clean.rows)
          assert.deepEqual(
            run.rows[0]!.map((r) => [r.entityKey, r.values]),
            [
              ['g1', [1, 5]],
              ['g1', [1, 7]],
            ],
          )
          const expected = runChangesReference(source, [referenceView(view)], steps)
          assert.equal(rowsDiffer(run.rows[0]!, expected.rows[0]!), undefined)
          assert.deepEqual(deadOf(run.dead), deadOf(expected.dead))
        })
      }
    }
  }
})
