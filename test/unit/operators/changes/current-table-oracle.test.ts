/**
 * Change views (docs/design.md §11) against an oracle written from the docs alone, with no code of
 * operators/ or test/reference/: the source's *current table* — per primary key, the accepted
 * change with the greatest (commit time, offset); a delete of a key not live is
 * `unknown_retraction` and changes nothing — and its grouping. An attribute view's last row of each
 * key is that key's current row (a tombstone when deleted or refused by the filter); a
 * current-state view's last row of each group is count/sum/avg over the current rows the filter
 * passes that name the group.
 *
 * Random changelogs of creates, snapshot reads (of new and of live keys: no before image), updates
 * with full before images, group moves, deletes (of live and unknown keys), re-inserts at the
 * delete's commit time, filtered rows and null values. Commit times go back and forth across keys
 * but never back within one key: a change older than its row is the re-key stage's to supersede,
 * which a task fed directly has not (test/unit/engine/rekey-superseded-changes.test.ts).
 *
 * The current-state view reads the changes as the re-key stage forwards them: a change whose images
 * name two groups as a retract copy and an add copy; an upsert without a before image, of a row the
 * stage's index holds in another group, as a retract copy to that (held) group and an add copy.
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { createPartitionTask } from '../../../../operators/task/partition-task.ts'
import type { ChangeStep } from '../../../reference/changes-reference.ts'
import { prng } from '../../../support/scenario.ts'
import { attributeView, changeSource, currentStateView, feedTask } from './change-scenarios.ts'
import { expectedGroups, GROUPS, type CurrentTable, type Row } from './current-table.ts'
interface Changelog {
  /** Whole changes, in offset order (what an attribute view reads). */
  readonly whole: ChangeStep[]
  /** The same changes as the re-key stage forwards them to a current-state view. */
  readonly rekeyed: ChangeStep[]
  /** The current table at the end: per key, its clock and row (null once deleted). */
  readonly table: CurrentTable
  /** How many deletes named a key that was not live. */
  readonly unknownDeletes: number
}

const SEEDS = 400

function randomChangelog(seed: number): Changelog {
  const rnd = prng(seed)
  const int = (lo: number, hi: number): number => lo + Math.floor(rnd() * (hi - lo + 1))
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)] as T
  const table: CurrentTable = new Map()
  const index = new Map<number, string>()
  const whole: ChangeStep[] = []
  const rekeyed: ChangeStep[] = []
  let unknownDeletes = 0
  let now = 1_000
  for (let i = 0; i < 60; i++) {
    now += int(0, 3)
    const id = int(1, 5)
    const current = table.get(id)
    const live = current?.row ?? null
    // Back in time across keys, never behind the key's own clock (equal times included).
    const t = Math.max(now - (rnd() < 0.3 ? int(0, 20) : 0), current?.c ?? -Infinity)
    const row: Row = { id, grp: pick(GROUPS), x: rnd() < 0.15 ? null : int(-5, 5), s: pick(['a', 'hidden']) }
    let event: Record<string, unknown>
    if (rnd() < 0.2) event = { op: 'd', before: live ?? { id, grp: pick(GROUPS), x: 1, s: 'a' }, after: null }
    else if (live === null) event = { op: pick(['c', 'r']), before: null, after: row }
    else event = rnd() < 0.2 ? { op: 'r', before: null, after: row } : { op: 'u', before: live, after: row }
    event.ts_ms = t
    event.snapshot = null
    const offset = String(i)
    if (event.op !== 'd') table.set(id, { c: t, row })
    else if (live !== null) table.set(id, { c: t, row: null })
    else unknownDeletes++
    whole.push({ offset, eventTimeMs: t, event })
    const before = event.before as Row | null
    const after = event.after as Row | null
    const held = index.get(id)
    if (after === null) index.delete(id)
    else index.set(id, after.grp)
    if (after !== null && before === null && held !== undefined && held !== after.grp) {
      rekeyed.push(
        { offset, eventTimeMs: t, event, role: 'retract', heldGroup: held },
        { offset, eventTimeMs: t, event, role: 'add' },
      )
    } else if (after !== null && before !== null && before.grp !== after.grp) {
      rekeyed.push({ offset, eventTimeMs: t, event, role: 'retract' }, { offset, eventTimeMs: t, event, role: 'add' })
    } else rekeyed.push({ offset, eventTimeMs: t, event })
  }
  return { whole, rekeyed, table, unknownDeletes }
}

void describe('operators > change views > against the current table', () => {
  void test(`attribute and current-state views end as the current table and its groups (${SEEDS} random changelogs)`, () => {
    const source = changeSource(1_000_000, 1_000_000)
    for (let seed = 1; seed <= SEEDS; seed++) {
      const log = randomChangelog(seed)
      const groups = feedTask(createPartitionTask({ source, views: [currentStateView(source, 'filter')] }), log.rekeyed)
      const keys = feedTask(createPartitionTask({ source, views: [attributeView(source, 'filter')] }), log.whole)

      const lastOfGroup = new Map<string, unknown[]>(GROUPS.map((g) => [g, [0, 0, 0, null]]))
      for (const r of groups.rows[0]!) lastOfGroup.set(r.entityKey, [...r.values])
      assert.deepEqual(lastOfGroup, expectedGroups(log.table), `seed ${seed}: groups`)

      const lastOfKey = new Map<string, unknown>()
      for (const r of keys.rows[0]!) lastOfKey.set(r.entityKey, r.deleted === true ? null : [...r.values])
      for (const [id, { row }] of log.table) {
        const expected = row === null || row.s === 'hidden' ? null : [row.grp, row.x, row.s]
        assert.deepEqual(lastOfKey.get(String(id)), expected, `seed ${seed}: key ${id}`)
      }

      // Deletes of keys not live, once per view; nothing else is refused.
      for (const run of [groups, keys]) {
        assert.deepEqual(
          run.dead.map((d) => d.reason),
          Array.from({ length: log.unknownDeletes }, () => 'unknown_retraction'),
          `seed ${seed}: dead letters`,
        )
      }
    }
  })
})
