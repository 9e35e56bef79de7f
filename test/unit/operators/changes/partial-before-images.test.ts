/**
 * A current-state view over changes whose before image is missing (an update under Postgres
 * REPLICA IDENTITY DEFAULT) or key-only (a minimal row image): nothing to compare, so the change
 * retracts what one group holds for the row and adds the after image (docs/design.md §11: an
 * upsert replaces the key's previous row). The group: the held group of a re-keyed copy (the
 * re-key stage's row index), else the group the key-only image names, else the after image's.
 * Each rule through a partition task; the processor's reading of a copy's key through a
 * PartitionProcessor; and, on random in-order changelogs, the final groups against the table's rows.
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { PartitionProcessor } from '../../../../engine/partition-processor.ts'
import type { EventRecord, FeatureRow, FeatureViewDef } from '../../../../features/types.ts'
import { createPartitionTask } from '../../../../operators/task/partition-task.ts'
import type { ChangeStep } from '../../../reference/changes-reference.ts'
import { prng } from '../../../support/scenario.ts'
import { testView } from '../defs.ts'
import { changeSource, deadOf, feedTask, GROUP, ITEM } from './change-scenarios.ts'
import { withHeldCopies } from './held-copies.ts'

const source = changeSource(0, 1_000)
const view: FeatureViewDef = {
  ...testView({
    name: 'totals',
    source,
    entity: GROUP,
    features: [
      { op: 'count', windowMs: null },
      { op: 'sum', field: 'x', windowMs: null },
    ],
  }),
  filter: (r: EventRecord) => r.s !== 'hidden',
  changeMode: 'current_state',
}
const row = (grp: string, x: unknown = 5, s = 'a'): EventRecord => ({ id: 1, grp, x, s })
const keyOnly = (grp: unknown = null): EventRecord => ({ id: 1, grp, x: null, s: null })

interface Change {
  readonly op: string
  readonly before?: EventRecord
  readonly after?: EventRecord
  /** Commit time; the step's index when absent. */
  readonly t?: number
  readonly role?: 'retract' | 'add'
  readonly held?: string
}

function stepsOf(changes: readonly Change[]): ChangeStep[] {
  return changes.map((c, i) => {
    const t = c.t ?? 1_000 + i
    const event = { op: c.op, before: c.before ?? null, after: c.after ?? null, ts_ms: t, snapshot: null }
    return {
      offset: String(i),
      eventTimeMs: t,
      event,
      ...(c.role ? { role: c.role } : {}),
      ...(c.held ? { heldGroup: c.held } : {}),
    }
  })
}

/** Each group's last row, the dead letters, and how many rows each step emitted. */
function run(changes: readonly Change[]): { groups: Record<string, unknown[]>; dead: string[]; rowsPerStep: number[] } {
  const task = createPartitionTask({ views: [view], source })
  const groups: Record<string, unknown[]> = {}
  const dead: string[] = []
  const rowsPerStep: number[] = []
  for (const step of stepsOf(changes)) {
    const out = feedTask(task, [step])
    for (const r of out.rows[0]!) groups[r.entityKey] = [...r.values]
    dead.push(...deadOf(out.dead))
    rowsPerStep.push(out.rows[0]!.length)
  }
  return { groups, dead, rowsPerStep }
}

const created: Change = { op: 'c', after: row('g1') }

void describe('operators > current-state view > changes without a full before image', () => {
  void test('a held group (the re-key stage routed the copy by its row index) retracts the row it holds', () => {
    const out = run([created, { op: 'u', after: row('g2', 7), role: 'retract', held: 'g1' }, { op: 'u', after: row('g2', 7) }])
    assert.deepEqual(out, { groups: { g1: [0, 0], g2: [1, 7] }, dead: [], rowsPerStep: [1, 1, 1] })
  })

  void test("a key-only image's own group columns name the group to retract from", () => {
    const out = run([created, { op: 'u', before: keyOnly('g1'), after: row('g2', 7) }])
    assert.deepEqual(out, { groups: { g1: [0, 0], g2: [1, 7] }, dead: [], rowsPerStep: [1, 2] })
  })

  void test("without either, the after image's group: the row is replaced there, in one step (one row)", () => {
    for (const before of [undefined, keyOnly(), keyOnly('')]) {
      const out = run([created, { op: 'u', ...(before ? { before } : {}), after: row('g1', 7) }])
      assert.deepEqual(out, { groups: { g1: [1, 7] }, dead: [], rowsPerStep: [1, 1] }, JSON.stringify(before))
    }
  })

  void test('a key-only delete naming no group, without a held group, is refused as before; with one it retracts there', () => {
    const refused = run([created, { op: 'd', before: keyOnly() }])
    assert.deepEqual(refused.dead, ['1:missing_key@totals'])
    assert.deepEqual(refused.groups, { g1: [1, 5] })
    const held = run([created, { op: 'd', before: keyOnly(), role: 'retract', held: 'g1' }])
    assert.deepEqual(held, { groups: { g1: [0, 0] }, dead: [], rowsPerStep: [1, 1] })
  })

  void test("a member newer than the change supersedes its retraction (and the step in the member's group)", () => {
    const out = run([
      { ...created, t: 2_000 },
      { op: 'u', after: row('g1', 7), t: 1_500 },
      { op: 'd', before: keyOnly(), role: 'retract', held: 'g1', t: 1_500 },
    ])
    assert.deepEqual(out, { groups: { g1: [1, 5] }, dead: [], rowsPerStep: [1, 0, 0] })
  })

  void test('a group that does not hold the row live: nothing, silently for a held group or the after image', () => {
    const held = run([created, { op: 'u', after: row('g2'), role: 'retract', held: 'g3' }])
    assert.deepEqual(held, { groups: { g1: [1, 5] }, dead: [], rowsPerStep: [1, 0] })
    const after = run([{ op: 'u', after: row('g1') }])
    assert.deepEqual(after, { groups: { g1: [1, 5] }, dead: [], rowsPerStep: [1] })
  })

  void test('a group a key-only image names that does not hold the row: unknown_retraction, and the new row is added', () => {
    const out = run([created, { op: 'u', before: keyOnly('g2'), after: row('g1', 7) }])
    assert.deepEqual(out, { groups: { g1: [1, 7] }, dead: ['1:unknown_retraction@totals'], rowsPerStep: [1, 1] })
  })

  void test('an after image the view refuses refuses the change in both copies; the held copy writes no letter', () => {
    const out = run([
      created,
      { op: 'u', after: row('g2', 'oops'), role: 'retract', held: 'g1' },
      { op: 'u', after: row('g2', 'oops') },
    ])
    assert.deepEqual(out, { groups: { g1: [1, 5] }, dead: ['2:schema_mismatch@totals'], rowsPerStep: [1, 0, 0] })
  })

  void test('an after image the filter refuses takes the row out of the group it was in', () => {
    const same = run([created, { op: 'u', after: row('g1', 7, 'hidden') }])
    assert.deepEqual(same, { groups: { g1: [0, 0] }, dead: [], rowsPerStep: [1, 1] })
    const moved = run([
      created,
      { op: 'r', after: row('g2', 7, 'hidden'), role: 'retract', held: 'g1' },
      { op: 'r', after: row('g2', 7, 'hidden') },
    ])
    assert.deepEqual(moved, { groups: { g1: [0, 0] }, dead: [], rowsPerStep: [1, 1, 0] })
  })

  void test('split by its images, a key-only update does what it does whole', () => {
    const change = { op: 'u', before: keyOnly('g1'), after: row('g2', 7) }
    const split = run([created, { ...change, role: 'add' }, { ...change, role: 'retract' }])
    assert.deepEqual(split.groups, { g1: [0, 0], g2: [1, 7] })
    assert.deepEqual(split.dead, [])
  })

  void test('a held group on a change with a full before image does nothing (the stage sends none: the image names its group)', () => {
    const out = run([created, { op: 'u', before: row('g1'), after: row('g2', 7), role: 'retract', held: 'g3' }])
    assert.deepEqual(out, { groups: { g1: [1, 5] }, dead: [], rowsPerStep: [1, 0] })
  })
})

void test('operators > current-state view > the processor reads a held group off the copy key, and the task retracts there', () => {
  const task = createPartitionTask({ views: [view], source })
  const processor = new PartitionProcessor({ topic: 'kfs.items.by-grp', partition: 0, source, task, nextOffset: '0' })
  const events = [
    { op: 'c', before: null, after: row('g1'), ts_ms: 1_000, snapshot: null },
    { op: 'u', before: null, after: row('g2', 7), ts_ms: 1_001, snapshot: null },
    { op: 'u', before: null, after: row('g2', 7), ts_ms: 1_001, snapshot: null },
  ]
  const keys = ['g1', 'g1', 'g2']
  const records = events.map((event, i) => ({
    topic: 'kfs.items.by-grp',
    partition: 0,
    offset: String(i),
    key: new TextEncoder().encode(keys[i]),
    value: new Uint8Array(),
    timestampMs: 2_000,
    headers: {},
  }))
  const out = processor.processRecords(
    records,
    events.map((event) => ({ ok: true as const, event, schemaId: 0 })),
    0,
  )
  const last: Record<string, unknown[]> = {}
  for (const r of out.rows as FeatureRow[]) last[r.entityKey] = [...r.values]
  assert.deepEqual(last, { g1: [0, 0], g2: [1, 7] })
  assert.deepEqual(out.deadLetters, [])
})

/**
 * In-order changelogs of one table, with full, missing and key-only before images, through the
 * stage's row index (held-copies.ts): at the end each group holds exactly the table's rows in it
 * that pass the filter — whatever group a row was in before an update that did not say; the only
 * letters are those of key-only images naming the group of a row the filter kept out of it.
 */
void test('operators > current-state view > without full before images the groups end as the table (random in-order changelogs)', () => {
  const lenient = changeSource(10, 1_000_000)
  const v = { ...view, source: lenient }
  for (let seed = 1; seed <= 120; seed++) {
    const rnd = prng(seed)
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)] as T
    const table = new Map<number, EventRecord>()
    const steps: ChangeStep[] = []
    const letters: string[] = []
    for (let i = 0; i < 60; i++) {
      const id = 1 + Math.floor(rnd() * 6)
      const cur = table.get(id)
      const next = { id, grp: pick(['g1', 'g2', 'g3']), x: Math.floor(rnd() * 9), s: pick(['a', 'hidden']) }
      const partial = (): EventRecord | null =>
        pick([null, { id, grp: null, x: null, s: null }, { id, grp: cur!.grp, x: 0, s: '' }, { id, grp: '', x: 0, s: '' }])
      let event: EventRecord
      if (cur === undefined) event = { op: 'c', before: null, after: next }
      else if (rnd() < 0.2) {
        // Deletes keep a before image naming the group (a key-only one naming none goes by the row index).
        event = {
          op: 'd',
          before: pick([cur, { id, grp: cur.grp, x: null, s: null }, { id, grp: null, x: null, s: null }]),
          after: null,
        }
      } else event = { op: 'u', before: rnd() < 0.3 ? cur : partial(), after: next }
      const before = event.before as EventRecord | null
      const named = before !== null && before !== cur && typeof before.grp === 'string' && before.grp !== ''
      if (named && cur?.s === 'hidden') letters.push(`${i}:unknown_retraction@totals`)
      if (event.op === 'd') table.delete(id)
      else table.set(id, next)
      steps.push({ offset: String(i), eventTimeMs: 1_000 + i, event: { ...event, ts_ms: 1_000 + i, snapshot: null } })
    }
    const out = feedTask(createPartitionTask({ views: [v], source: lenient }), withHeldCopies(steps, lenient, GROUP, ITEM))
    const last: Record<string, unknown[]> = {}
    for (const r of out.rows[0]!) last[r.entityKey] = [...r.values]
    const truth: Record<string, unknown[]> = {}
    for (const g of Object.keys(last)) {
      const rows = [...table.values()].filter((r) => r.grp === g && r.s !== 'hidden')
      truth[g] = [rows.length, rows.reduce((a, r) => a + (r.x as number), 0)]
    }
    assert.deepEqual(last, truth, `seed ${seed}`)
    assert.deepEqual(deadOf(out.dead), letters, `seed ${seed}`)
  }
})
