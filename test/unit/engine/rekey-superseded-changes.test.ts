/**
 * A current-state view over a changelog whose commit times go back within a row (docs/design.md
 * §11: changes apply per key in commit-time order), through the real re-key stage's routing
 * (engine/rekey-records.ts, its row index restored from what it wrote midway, as a new owner reads
 * its state topic) into a partition task reading each copy's part as the processor does. Oracle,
 * written from the docs alone: the source's current table — per row, the change with the greatest
 * (commit time, offset); a delete of a row not live changes nothing (`unknown_retraction`), nor
 * does a change whose before image names another group than the live row's (`before_mismatch`,
 * as an attribute view refuses it) — grouped.
 *
 * Every way an older change could reach a group is drawn: moving the row to a group it left or
 * never was in, re-creating a deleted row elsewhere, landing in a group that holds no version of
 * the row because the filter kept it out, or arriving after a row's newer versions in the group
 * it names. Each must leave the groups as the current table's rows, once each; the attribute view
 * of the same changes (read whole, as it reads the source) must agree.
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { planRekeys } from '../../../engine/plan-sources.ts'
import { rekeyRecord, resolveByIndex } from '../../../engine/rekey-records.ts'
import { RowGroupIndex } from '../../../engine/rekey-row-index.ts'
import { changeCopyOf } from '../../../engine/partition-processor.ts'
import type { LogRecord } from '../../../ports/event-log.ts'
import { createPartitionTask, type PartitionTask, type TaskEvent } from '../../../operators/task/partition-task.ts'
import type { FeatureRow } from '../../../features/types.ts'
import type { TaskDeadLetter } from '../../../operators/task/output.ts'
import { prng } from '../../support/scenario.ts'
import { attributeView, changeSource, currentStateView, GROUP } from '../operators/changes/change-scenarios.ts'
import { expectedGroups, GROUPS, type CurrentTable, type Row } from '../operators/changes/current-table.ts'

const SEEDS = 300
const source = changeSource(1_000_000_000, 1_000_000_000)
const groupsView = currentStateView(source, 'filter')
const plan = planRekeys([groupsView])[0]!
const TEXT = new TextEncoder()

interface Changelog {
  readonly changes: { readonly t: number; readonly event: Record<string, unknown> }[]
  readonly table: CurrentTable
  /** Deletes of a row not live, not superseded: `unknown_retraction` in each view. */
  readonly unknownDeletes: number
  /** Updates and deletes whose before image names another group than the live row's: `before_mismatch` in each view. */
  readonly mismatches: number
  /** What the superseded changes would have done: where each would have landed. */
  readonly superseded: Set<string>
}

/** Where a change older than its row would land, judged by the row's current version. */
function landing(live: Row | null, event: Record<string, unknown>): string {
  const after = event.after as Row | null
  if (after === null) return live === null ? 'a delete of a deleted row' : 'a delete of the live row'
  if (live === null) return 'a deleted row re-created'
  if (live.s === 'hidden') return 'a group where the filter keeps the row out'
  return live.grp === after.grp ? "the row's own group" : 'another group than the row'
}

function randomChangelog(seed: number): Changelog {
  const rnd = prng(seed)
  const int = (lo: number, hi: number): number => lo + Math.floor(rnd() * (hi - lo + 1))
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)] as T
  const table: CurrentTable = new Map()
  const changes: Changelog['changes'] = []
  let unknownDeletes = 0
  let mismatches = 0
  const superseded = new Set<string>()
  let now = 1_000
  for (let i = 0; i < 60; i++) {
    now += int(0, 3)
    const id = int(1, 5)
    const current = table.get(id)
    const live = current?.row ?? null
    // A third go back, some behind their row's version (older changes delivered late), some to it.
    const r = rnd()
    const t = r < 0.3 ? now - int(0, 25) : r < 0.4 && current !== undefined ? current.c : now
    const row: Row = { id, grp: pick(GROUPS), x: rnd() < 0.15 ? null : int(-5, 5), s: pick(['a', 'a', 'hidden']) }
    // Some before images of a live row name another group than the row is in: they disagree with it.
    const wrong = live !== null && rnd() < 0.15
    const full =
      live === null
        ? { id, grp: pick(GROUPS), x: 1, s: 'a' }
        : wrong
          ? { ...live, grp: pick(GROUPS.filter((g) => g !== live.grp)) }
          : live
    // A third of the deletes key-only (Postgres REPLICA IDENTITY DEFAULT): the stage's index names the group.
    const keyOnly = rnd() < 0.3
    const op = rnd() < 0.2 ? 'd' : live === null ? pick(['c', 'r']) : rnd() < 0.2 ? 'r' : 'u'
    const event: Record<string, unknown> =
      op === 'd'
        ? { op, before: keyOnly ? { id, grp: null, x: null, s: null } : full, after: null }
        : { op, before: op === 'u' ? full : null, after: row }
    event.ts_ms = t
    event.snapshot = null
    changes.push({ t, event })
    if (current !== undefined && t < current.c) {
      superseded.add(landing(live, event))
      continue
    }
    if (wrong && (op === 'u' || (op === 'd' && !keyOnly))) {
      mismatches++
      continue
    }
    if (op !== 'd') table.set(id, { c: t, row })
    else if (live !== null) table.set(id, { c: t, row: null })
    else unknownDeletes++
  }
  return { changes, table, unknownDeletes, mismatches, superseded }
}

/**
 * The changes as the stage forwards them, each copy with the part the processor reads off its key,
 * and the reasons of those it refuses; the index is reloaded from its own writes midway.
 */
function throughStage(changes: Changelog['changes']): { steps: TaskEvent[]; refused: string[] } {
  const refused: string[] = []
  let index = new RowGroupIndex()
  const written: LogRecord[] = []
  const steps: TaskEvent[] = []
  changes.forEach(({ t, event }, i) => {
    if (i === Math.floor(changes.length / 2)) {
      // A new owner: the index is what the state topic holds.
      index = new RowGroupIndex()
      index.load(written)
    }
    const pk = String((event.after ?? event.before) as Row['id'])
    const record: LogRecord = {
      topic: source.topic,
      partition: 0,
      offset: String(i),
      key: TEXT.encode(pk),
      value: new Uint8Array(0),
      timestampMs: -1,
      headers: {},
    }
    const outcome = resolveByIndex(plan, rekeyRecord(plan, record, { ok: true, event, schemaId: 0 }), index)
    for (const w of index.takeWrites())
      written.push({
        ...record,
        topic: 'row-groups',
        key: TEXT.encode(w.key as string),
        value: w.value,
        headers: w.headers ?? {},
      })
    if (outcome.deadLetter !== undefined) {
      refused.push(outcome.deadLetter.reason)
      return
    }
    assert.ok(outcome.forwards.length > 0, `change ${i} forwarded nowhere: the views would not judge its time`)
    for (const copy of outcome.forwards) {
      const part = changeCopyOf(GROUP, event, copy.key as string)
      steps.push({ offset: String(i), eventTimeMs: t, event, ...part })
    }
  })
  return { steps, refused }
}

/** The task's rows and dead letters over `events`. */
function feed(task: PartitionTask, events: readonly TaskEvent[]): { rows: FeatureRow[]; dead: TaskDeadLetter[] } {
  const out = { rows: [] as FeatureRow[], dead: [] as TaskDeadLetter[] }
  for (const event of events) {
    const { rows, deadLetters } = task.processEvent(event)
    out.rows.push(...rows[0]!)
    out.dead.push(...deadLetters)
  }
  return out
}

void describe('re-key stage > changes older than their row', () => {
  void test(`superseded wherever they would land: the groups end as the current table's rows, once each (${SEEDS} random changelogs)`, () => {
    const reached = new Set<string>()
    for (let seed = 1; seed <= SEEDS; seed++) {
      const log = randomChangelog(seed)
      for (const kind of log.superseded) reached.add(kind)
      const stage = throughStage(log.changes)
      const groups = feed(createPartitionTask({ source, views: [groupsView] }), stage.steps)
      const last = new Map<string, unknown[]>(GROUPS.map((g) => [g, [0, 0, 0, null]]))
      for (const r of groups.rows) last.set(r.entityKey, [...r.values])
      assert.deepEqual(last, expectedGroups(log.table), `seed ${seed}: groups`)

      const whole = log.changes.map(({ t, event }, i) => ({ offset: String(i), eventTimeMs: t, event }))
      const keys = feed(createPartitionTask({ source, views: [attributeView(source, 'filter')] }), whole)
      const lastOfKey = new Map<string, unknown>()
      for (const r of keys.rows) lastOfKey.set(r.entityKey, r.deleted === true ? null : [...r.values])
      for (const [id, { row }] of log.table) {
        const expected = row === null || row.s === 'hidden' ? null : [row.grp, row.x, row.s]
        assert.deepEqual(lastOfKey.get(String(id)), expected, `seed ${seed}: key ${id}`)
      }

      const unknown = [
        ...Array.from({ length: log.mismatches }, () => 'before_mismatch'),
        ...Array.from({ length: log.unknownDeletes }, () => 'unknown_retraction'),
      ].sort()
      assert.deepEqual(
        [...stage.refused, ...groups.dead.map((d) => d.reason)].sort(),
        unknown,
        `seed ${seed}: dead letters of the current-state view (a key-only delete of a row not live, the stage's)`,
      )
      assert.deepEqual(keys.dead.map((d) => d.reason).sort(), unknown, `seed ${seed}: dead letters of the attribute view`)
    }
    const every = [
      'a delete of a deleted row',
      'a delete of the live row',
      'a deleted row re-created',
      'a group where the filter keeps the row out',
      "the row's own group",
      'another group than the row',
    ]
    assert.deepEqual([...reached].sort(), every.sort(), 'every way an older change could land was drawn')
  })
})
