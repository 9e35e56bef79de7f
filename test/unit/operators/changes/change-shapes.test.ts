/**
 * Every shape of change envelope (docs/design.md §11, docs/table-and-changelog-sources.md "Bad
 * input"): what `changeOf` reads it as, and the dead letter of each shape that does not fit its op —
 * then the same shapes through both change views in a partition task, so a refused shape changes
 * no state (the good change after it reads as if the bad one never came).
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { changeOf } from '../../../../operators/changes/change.ts'
import { createPartitionTask } from '../../../../operators/task/partition-task.ts'
import type { EventRecord } from '../../../../features/types.ts'
import { runChangesReference, type ChangeStep } from '../../../reference/changes-reference.ts'
import {
  attributeView,
  changeSource,
  currentStateView,
  deadOf,
  feedTask,
  ITEM,
  referenceView,
  rowsDiffer,
} from './change-scenarios.ts'

const row = (id: unknown, grp: string, x: number) => ({ id, grp, x, s: 'a' })
const A = row(1, 'g1', 1)
const B = row(1, 'g2', 2)

interface Shape {
  readonly name: string
  readonly envelope: EventRecord
  /** The change read, as [kind, key], or the dead letter [reason, detail pattern]. */
  readonly expected: readonly ['upsert' | 'delete', string] | readonly [string, RegExp]
}

const SHAPES: readonly Shape[] = [
  { name: 'a create', envelope: { op: 'c', before: null, after: A }, expected: ['upsert', '1'] },
  { name: 'a snapshot read', envelope: { op: 'r', before: null, after: A }, expected: ['upsert', '1'] },
  { name: 'an update with its old row', envelope: { op: 'u', before: A, after: B }, expected: ['upsert', '1'] },
  {
    name: 'an update without a before image (key-only replica identity)',
    envelope: { op: 'u', before: null, after: B },
    expected: ['upsert', '1'],
  },
  {
    name: 'an update with images missing (undefined) rather than null',
    envelope: { op: 'u', after: B },
    expected: ['upsert', '1'],
  },
  { name: 'a delete with its old row', envelope: { op: 'd', before: A, after: null }, expected: ['delete', '1'] },
  {
    name: 'a delete with the key only',
    envelope: { op: 'd', before: { id: 1, grp: null, x: null, s: null }, after: null },
    expected: ['delete', '1'],
  },
  {
    name: 'a create with a before image',
    envelope: { op: 'c', before: A, after: B },
    expected: ['unknown_op', /^op 'c' with a before image/],
  },
  {
    name: 'a snapshot read with a before image',
    envelope: { op: 'r', before: A, after: A },
    expected: ['unknown_op', /^op 'r' with a before image/],
  },
  {
    name: 'a create without an after image',
    envelope: { op: 'c', before: null, after: null },
    expected: ['unknown_op', /^op 'c' without an after image/],
  },
  {
    name: 'a snapshot read without an after image',
    envelope: { op: 'r', before: A },
    expected: ['unknown_op', /^op 'r' without an after image/],
  },
  {
    name: 'an update without an after image',
    envelope: { op: 'u', before: A, after: null },
    expected: ['unknown_op', /^op 'u' without an after image/],
  },
  {
    name: 'an update whose primary key changed',
    envelope: { op: 'u', before: A, after: row(2, 'g2', 2) },
    expected: ['unknown_op', /^op 'u' whose before image has another primary key/],
  },
  {
    name: 'a delete without a before image',
    envelope: { op: 'd', before: null, after: null },
    expected: ['unknown_op', /^op 'd' without a before image/],
  },
  {
    name: 'a delete with an after image',
    envelope: { op: 'd', before: A, after: A },
    expected: ['unknown_op', /^op 'd' with an after image/],
  },
  {
    name: 'a truncate',
    envelope: { op: 't', before: null, after: null },
    expected: ['unknown_op', /^op 't' is not one of c, r, u, d/],
  },
  {
    name: 'a logical message',
    envelope: { op: 'm', before: null, after: null },
    expected: ['unknown_op', /^op 'm' is not one of/],
  },
  { name: 'an upper-case op', envelope: { op: 'C', before: null, after: A }, expected: ['unknown_op', /^op 'C' is not one of/] },
  { name: 'an empty op', envelope: { op: '', before: null, after: A }, expected: ['unknown_op', /^op '' is not one of/] },
  { name: 'a numeric op', envelope: { op: 1, before: null, after: A }, expected: ['unknown_op', /^op number is not one of/] },
  { name: 'a missing op', envelope: { before: null, after: A }, expected: ['unknown_op', /^op undefined is not one of/] },
  {
    name: 'an image that is a list',
    envelope: { op: 'c', before: null, after: [A] },
    expected: ['unknown_op', /before\/after must be row records or null/],
  },
  {
    name: 'an image that is a string',
    envelope: { op: 'd', before: 'A', after: null },
    expected: ['unknown_op', /before\/after must be row records or null/],
  },
  {
    name: 'a create without its primary key',
    envelope: { op: 'c', before: null, after: { grp: 'g1', x: 1, s: null } },
    expected: ['missing_key', /^after: join key id is missing/],
  },
  {
    name: 'a delete whose key is not an integer',
    envelope: { op: 'd', before: row('one', 'g1', 1), after: null },
    expected: ['invalid_key', /^before: join key id is not an integer/],
  },
]

void describe('operators > change views > envelope shapes', () => {
  for (const shape of SHAPES) {
    void test(`${shape.name}: ${shape.expected[0]}`, () => {
      const out = changeOf({ ...shape.envelope, ts_ms: 10, snapshot: null }, ITEM)
      const [what, how] = shape.expected
      if (typeof how === 'string') {
        assert.ok(out.ok, JSON.stringify(out))
        assert.deepEqual([out.change.kind, out.change.key], [what, how])
        return
      }
      assert.equal(out.ok, false, `${shape.name} must be refused`)
      if (out.ok) return
      assert.equal(out.reason, what)
      assert.match(out.detail, how)
    })
  }

  void test('each refused shape, between a create and an update of its key, is one dead letter per view and changes no state', () => {
    const source = changeSource(0, 1_000)
    const views = [attributeView(source, 'plain'), currentStateView(source, 'plain')]
    for (const shape of SHAPES.filter((s) => typeof s.expected[1] !== 'string')) {
      const step = (offset: number, t: number, event: EventRecord): ChangeStep => ({
        offset: String(offset),
        eventTimeMs: t,
        event: { ...event, ts_ms: t, snapshot: null },
      })
      const steps = [
        step(0, 10, { op: 'c', before: null, after: A }),
        step(1, 11, shape.envelope),
        step(2, 12, { op: 'u', before: A, after: B }),
      ]
      const task = createPartitionTask({ views, source })
      const actual = feedTask(task, steps)
      assert.deepEqual(
        deadOf(actual.dead),
        [`1:${shape.expected[0]}@item_attrs`, `1:${shape.expected[0]}@group_totals`],
        shape.name,
      )
      const without = feedTask(createPartitionTask({ views, source }), [steps[0]!, steps[2]!])
      assert.deepEqual(actual.rows, without.rows, `${shape.name}: the refused change left a trace in the rows`)
      const expected = runChangesReference(source, views.map(referenceView), steps)
      views.forEach((v, i) =>
        assert.equal(rowsDiffer(actual.rows[i]!, expected.rows[i]!), undefined, `${shape.name}, view ${v.name}`),
      )
    }
  })
})
