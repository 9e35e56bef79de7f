/**
 * Three quirks of real Debezium output (docs/table-and-changelog-sources.md, "The change envelope"
 * and "Partial images"), each kind fed as Debezium JSON and as the Avro change envelope to an
 * attribute view and a current-state view in one partition task (debezium-quirks.ts), over NOT
 * NULL string, number, boolean, bytes and array columns:
 * - a key-only delete, whose before image holds nulls or fallbacks ('' 0 false, empty bytes and
 *   lists) outside the key: the delete deletes, and the group retracts the row it holds;
 * - a commit time of 0: source.ts_ms falls back to ts_ms, and a change still dated 0 is refused;
 * - the unavailable-value placeholder of an unchanged TOASTed column (text, bytes, one-element
 *   list): the column keeps its current value, or the change is `unavailable_value`;
 * - updates without a full before image (none under REPLICA IDENTITY DEFAULT, key-only under a
 *   minimal row image): the current-state view retracts the key's previous row and adds the new one.
 * Each case also runs against the brute-force reference (test/reference/changes-reference.ts).
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import type { SourceDef } from '../../../../features/types.ts'
import { createPartitionTask } from '../../../../operators/task/partition-task.ts'
import { runChangesReference } from '../../../reference/changes-reference.ts'
import { deadOf, feedTask, rowsDiffer } from './change-scenarios.ts'
import { b64, fallbacks, lastRows, ORDER, row, sourceWith, stepsOf, t, TOAST, viewsOf, type Case } from './debezium-quirks.ts'

const CASES: readonly Case[] = [
  // 1. Key-only deletes.
  {
    name: "a key-only delete whose NOT NULL columns hold fallbacks ('' 0 false, empty bytes and list) deletes; its group '' names no group",
    messages: [
      { op: 'c', after: row() },
      { op: 'd', before: fallbacks() },
    ],
    dead: ['1:invalid_key@totals'],
    attrs: { '1': 'MISSING' },
    totals: { g1: [1, 5, 2] },
  },
  {
    name: 'a key-only delete whose image holds the group (a replica identity on id, grp) retracts what the group holds, not the fallbacks',
    messages: [
      { op: 'c', after: row() },
      { op: 'c', after: row({ id: 2, amount: 3, qty: 1 }) },
      { op: 'd', before: fallbacks({ grp: 'g1' }) },
    ],
    dead: [],
    attrs: { '1': 'MISSING', '2': ['g1', 3, 1, 'long text'] },
    totals: { g1: [1, 3, 1] },
  },
  {
    name: 'a key-only delete with nulls and a placeholder outside the key deletes',
    messages: [
      { op: 'c', after: row() },
      { op: 'd', before: fallbacks({ grp: 'g1', note: TOAST, blob: b64(TOAST), tags: [TOAST] }) },
    ],
    dead: [],
    attrs: { '1': 'MISSING' },
    totals: { g1: [0, 0, 0] },
  },
  {
    name: "a key-only delete of a row the group's filter kept out cannot say so: unknown_retraction, not a silent drop",
    messages: [
      { op: 'c', after: row({ active: false }) },
      { op: 'd', before: fallbacks({ grp: 'g1' }) },
    ],
    dead: ['1:unknown_retraction@totals'],
    attrs: { '1': 'MISSING' },
    totals: {},
  },
  {
    name: 'a key-only delete of a key already deleted is unknown_retraction in both views',
    messages: [
      { op: 'c', after: row() },
      { op: 'd', before: row() },
      { op: 'd', before: fallbacks({ grp: 'g1' }) },
    ],
    dead: ['2:unknown_retraction@attrs', '2:unknown_retraction@totals'],
    attrs: { '1': 'MISSING' },
    totals: { g1: [0, 0, 0] },
  },
  {
    name: "a key-only delete older than the key's current version is superseded",
    messages: [
      { op: 'c', after: row(), ts: t(5) },
      { op: 'd', before: fallbacks({ grp: 'g1' }), ts: t(2) },
    ],
    dead: [],
    attrs: { '1': ['g1', 5, 2, 'long text'] },
    totals: { g1: [1, 5, 2] },
  },
  {
    name: 'a full before image that disagrees is still before_mismatch (a real value differs)',
    messages: [
      { op: 'c', after: row() },
      { op: 'd', before: row({ amount: 7 }) },
    ],
    dead: ['1:before_mismatch@attrs', '1:before_mismatch@totals'],
    attrs: { '1': ['g1', 5, 2, 'long text'] },
    totals: { g1: [1, 5, 2] },
  },
  {
    name: "a delete's before image is compared where it says something: a fallback-valued column is not, a real value is",
    messages: [
      { op: 'c', after: row() },
      { op: 'c', after: row({ id: 2 }) },
      { op: 'd', before: row({ qty: 0, active: false }) },
      { op: 'd', before: row({ id: 2, grp: 'g1', amount: 0, note: 'other text' }) },
    ],
    // The group reads a before image only where it is not key-only: there, its filter and contribution count.
    dead: ['2:before_mismatch@totals', '3:before_mismatch@attrs', '3:before_mismatch@totals'],
    attrs: { '1': 'MISSING', '2': ['g1', 5, 2, 'long text'] },
    totals: { g1: [2, 10, 4] },
  },
  {
    name: "an update's before image is compared on its fallback values too (only a delete's may be partial)",
    messages: [
      { op: 'c', after: row() },
      { op: 'u', before: row({ qty: 0 }), after: row({ qty: 3 }) },
    ],
    dead: ['1:before_mismatch@attrs', '1:before_mismatch@totals'],
    attrs: { '1': ['g1', 5, 2, 'long text'] },
    totals: { g1: [1, 5, 2] },
  },
  // 2. Commit time 0.
  {
    name: 'source.ts_ms 0 falls back to ts_ms',
    formats: ['json'],
    messages: [{ op: 'r', after: row(), source: 0, ts: 4_000 }],
    dead: [],
    attrs: { '1': ['g1', 5, 2, 'long text'] },
    totals: { g1: [1, 5, 2] },
  },
  {
    name: 'a commit time of 0 (source.ts_ms and ts_ms; the Avro ts_ms) is refused, never a 1970 row',
    messages: [
      { op: 'c', after: row(), source: 0, ts: 0 },
      { op: 'c', after: row({ id: 2 }), ts: -0 },
    ],
    dead: { json: ['0:schema_mismatch', '1:schema_mismatch'], avro: ['0:missing_event_time', '1:missing_event_time'] },
    attrs: {},
    totals: {},
  },
  {
    name: 'source.ts_ms 0 without ts_ms is refused',
    formats: ['json'],
    messages: [{ op: 'r', after: row(), source: 0, ts: null }],
    dead: ['0:schema_mismatch'],
    attrs: {},
    totals: {},
  },
  // 3. Unavailable values.
  {
    name: 'an update with placeholders in a string, a bytes and an array column keeps the current values',
    messages: [
      { op: 'c', after: row() },
      { op: 'u', before: row(), after: row({ amount: 6, note: TOAST, blob: b64(TOAST), tags: [TOAST] }) },
      // Full before images: a stored placeholder would be before_mismatch here.
      { op: 'u', before: row({ amount: 6 }), after: row({ amount: 8 }) },
    ],
    dead: [],
    attrs: { '1': ['g1', 8, 2, 'long text'] },
    totals: { g1: [1, 8, 2] },
  },
  {
    name: "without a before image an attribute view takes the key's current row; a current-state view, keeping no raw row, refuses it (unavailable_value)",
    messages: [
      { op: 'c', after: row() },
      { op: 'u', before: null, after: row({ amount: 6, note: TOAST, blob: b64(TOAST), tags: [TOAST] }) },
      { op: 'u', before: row({ amount: 6 }), after: row({ amount: 8 }) },
    ],
    dead: ['1:unavailable_value@totals', '2:before_mismatch@totals'],
    attrs: { '1': ['g1', 8, 2, 'long text'] },
    totals: { g1: [1, 5, 2] },
  },
  {
    name: "a placeholder in the group column keeps the row in its group (from the before image), the attribute from the key's row",
    messages: [
      { op: 'c', after: row() },
      { op: 'u', before: row(), after: row({ grp: TOAST, amount: 9 }) },
    ],
    dead: [],
    attrs: { '1': ['g1', 9, 2, 'long text'] },
    totals: { g1: [1, 9, 2] },
  },
  {
    name: 'a placeholder of a key with no current row and no before image is unavailable_value',
    messages: [{ op: 'u', before: null, after: row({ note: TOAST }) }],
    dead: ['0:unavailable_value@attrs', '0:unavailable_value@totals'],
    attrs: {},
    totals: {},
  },
  {
    name: 'a placeholder of a deleted key is unavailable_value; a create carrying one too',
    messages: [
      { op: 'c', after: row() },
      { op: 'd', before: row() },
      { op: 'u', before: null, after: row({ tags: [TOAST] }) },
      { op: 'c', after: row({ id: 2, blob: b64(TOAST) }) },
    ],
    dead: ['2:unavailable_value@attrs', '2:unavailable_value@totals', '3:unavailable_value@attrs', '3:unavailable_value@totals'],
    attrs: { '1': 'MISSING' },
    totals: { g1: [0, 0, 0] },
  },
  {
    name: 'a snapshot read of a live key keeps its current value for a placeholder; a current-state view, holding no row, refuses it',
    messages: [
      { op: 'c', after: row() },
      { op: 'r', after: row({ qty: 4, note: TOAST }) },
    ],
    dead: ['1:unavailable_value@totals'],
    attrs: { '1': ['g1', 5, 4, 'long text'] },
    totals: { g1: [1, 5, 2] },
  },
  {
    name: "a source's own placeholder is replaced; Debezium's default is then a real value",
    unavailableValue: '??toast??',
    messages: [
      { op: 'c', after: row() },
      { op: 'u', before: row(), after: row({ note: '??toast??', amount: 1 }) },
      { op: 'u', before: row({ amount: 1 }), after: row({ note: TOAST, amount: 2 }) },
    ],
    dead: [],
    attrs: { '1': ['g1', 2, 2, TOAST] },
    totals: { g1: [1, 2, 2] },
  },
  // 4. Updates without a full before image.
  {
    name: "an update without a before image replaces the key's row in its group",
    messages: [
      { op: 'c', after: row() },
      { op: 'u', before: null, after: row({ amount: 6 }) },
    ],
    dead: [],
    attrs: { '1': ['g1', 6, 2, 'long text'] },
    totals: { g1: [1, 6, 2] },
  },
  {
    name: 'an update without a before image whose new row the filter refuses takes the row out of its group',
    messages: [
      { op: 'c', after: row() },
      { op: 'u', before: null, after: row({ active: false, amount: 6 }) },
    ],
    dead: [],
    attrs: { '1': ['g1', 6, 2, 'long text'] },
    totals: { g1: [0, 0, 0] },
  },
  {
    // The attribute view compares an update's before image on its fallbacks (only a delete's may be partial).
    name: 'a key-only update image holding the group retracts what the group holds, then adds the new row',
    messages: [
      { op: 'c', after: row() },
      { op: 'u', before: fallbacks({ grp: 'g1' }), after: row({ amount: 7 }) },
    ],
    dead: ['1:before_mismatch@attrs'],
    attrs: { '1': ['g1', 5, 2, 'long text'] },
    totals: { g1: [1, 7, 2] },
  },
  {
    // MySQL's minimal row image: the attribute view reads it as a key-only delete's, only where it says something.
    name: "a key-only update image whose group is a '' fallback retracts from the new row's group; the attribute takes the new row",
    messages: [
      { op: 'c', after: row() },
      { op: 'u', before: fallbacks(), after: row({ amount: 3 }) },
    ],
    dead: [],
    attrs: { '1': ['g1', 3, 2, 'long text'] },
    totals: { g1: [1, 3, 2] },
  },
  {
    name: 'a key-only update image naming a group that does not hold the row is unknown_retraction; the new row is added',
    messages: [
      { op: 'c', after: row({ active: false }) },
      { op: 'u', before: fallbacks({ grp: 'g1' }), after: row() },
    ],
    dead: ['1:before_mismatch@attrs', '1:unknown_retraction@totals'],
    attrs: { '1': ['g1', 5, 2, 'long text'] },
    totals: { g1: [1, 5, 2] },
  },
]

void describe('operators > change views > quirks of real Debezium output', () => {
  for (const c of CASES) {
    for (const format of c.formats ?? (['json', 'avro'] as const)) {
      void test(`${format}: ${c.name}`, async () => {
        const source = sourceWith(c.unavailableValue)
        const views = viewsOf(source)
        const { steps, refused } = await stepsOf(c, format)
        const run = feedTask(createPartitionTask({ views, source }), steps)
        const expectedDead = Array.isArray(c.dead)
          ? c.dead
          : (c.dead as { json: readonly string[]; avro: readonly string[] })[format]
        const dead = [...refused, ...deadOf(run.dead)].sort()
        assert.deepEqual(dead, [...expectedDead].sort())
        assert.deepEqual(lastRows(run.rows[0]!), c.attrs, 'attribute rows')
        assert.deepEqual(lastRows(run.rows[1]!), c.totals, 'group rows')
        const expected = runChangesReference(
          source,
          views.map((view) => ({ view, primaryKey: ORDER, maxStringBytes: 4096 })),
          steps,
        )
        views.forEach((v, i) =>
          assert.equal(rowsDiffer(run.rows[i]!, expected.rows[i]!), undefined, `${v.name} against the reference`),
        )
        assert.deepEqual(deadOf(run.dead), deadOf(expected.dead), 'dead letters against the reference')
      })
    }
  }
})

void test("operators > change views > a table source's ts_ms 0 is its row's own event time, not a connector's unknown", () => {
  const changelog = sourceWith()
  const table: SourceDef = { ...changelog, changes: { ...changelog.changes!, kind: 'table' } }
  const event = {
    op: 'c',
    before: null,
    after: { id: 1, grp: 'g1', amount: 5, qty: 2, active: true, note: null, blob: Buffer.alloc(0), tags: [] },
    ts_ms: 0,
    snapshot: 's1',
  }
  for (const [source, dead] of [
    [table, []],
    [changelog, ['0:missing_event_time']],
  ] as const) {
    const run = feedTask(createPartitionTask({ views: viewsOf(source), source }), [{ offset: '0', eventTimeMs: 0, event }])
    assert.deepEqual(deadOf(run.dead), dead, source.changes?.kind)
    assert.equal(run.rows[0]!.length, dead.length === 0 ? 1 : 0, source.changes?.kind)
  }
})
