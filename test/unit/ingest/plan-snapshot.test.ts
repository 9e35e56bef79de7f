import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { compareKeyBytes } from '../../../operators/task/key-order.ts'
import type { TableRow } from '../../../ports/table-snapshots.ts'
import { LogState, rowFingerprint } from '../../../ingest/log-state.ts'
import { checkSnapshotColumns, planSnapshot, type PlannedAppend } from '../../../ingest/plan-snapshot.ts'
import { rowColumns } from '../../../ingest/row-columns.ts'
import { prng } from '../training/fixtures.ts'
import { accountRow } from './fixtures.ts'

const columns = rowColumns(accountRow)
const input = (log: LogState, snapshotId: string) => ({ columns, primaryKey: ['account_id'], rowTimeField: 'updated_at', snapshotId, log })

/** Feeds planned appends back into the log's state, as reading them from the log would. */
function append(log: LogState, appends: readonly PlannedAppend[]): void {
  for (const a of appends) log.record(a.key, a.envelope.ts_ms, a.envelope.after, rowFingerprint(columns, a.envelope.after!))
}

const row = (id: string | null, t: unknown, balance: unknown, extra: Partial<Record<string, unknown>> = {}): TableRow => ({
  account_id: id,
  updated_at: t,
  balance,
  tier: null,
  visits: null,
  ...extra,
})

void describe('planSnapshot', () => {
  void it('rejects rows with a reason, in row order', () => {
    const plan = planSnapshot(input(new LogState(), 's1'), [
      row(null, 1, 1),
      row('a', null, 1),
      row('b', 'yesterday', 1),
      row('c', 1, '12x'),
      row('d', 1, 1),
      row('d', 1, 2),
      row('e', 1, 1, { visits: 1.5 }),
      row('', 1, 1),
    ])
    assert.deepEqual(
      plan.rejected.map((r) => [r.row, r.reason]),
      [
        [1, 'missing_key'],
        [2, 'missing_event_time'],
        [3, 'invalid_event_time'],
        [4, 'schema_mismatch'],
        [6, 'duplicate'],
        [7, 'schema_mismatch'],
        [8, 'missing_key'],
      ],
    )
    assert.deepEqual(plan.appends.map((a) => a.key), ['d'])
    assert.equal(plan.rowsRead, 8)
  })

  void it('orders appends by event time then key bytes, and chains before images', () => {
    const log = new LogState()
    const first = planSnapshot(input(log, 's1'), [row('b', 5, 1), row('\u{1F600}', 5, 1), row('\uE000', 5, 1), row('a', 9, 1)])
    assert.deepEqual(first.appends.map((a) => a.key), ['b', '\uE000', '\u{1F600}', 'a'])
    assert.ok(first.appends.every((a) => a.envelope.op === 'c' && a.envelope.before === null && a.envelope.snapshot === 's1'))
    append(log, first.appends)
    const second = planSnapshot(input(log, 's2'), [row('a', 9, 1), row('a', 12, 2), row('b', 5, 1)])
    assert.equal(second.unchanged, 2)
    assert.deepEqual(second.appends.map((a) => [a.envelope.op, a.envelope.before?.balance, a.envelope.after?.balance, a.envelope.ts_ms]), [['u', 1, 2, 12]])
  })

  void it('throws on a schema change and reports extra columns', () => {
    const cols = [
      { name: 'account_id', kind: 'string' as const },
      { name: 'updated_at', kind: 'long' as const },
      { name: 'balance', kind: 'double' as const },
      { name: 'tier', kind: 'string' as const },
      { name: 'visits', kind: 'long' as const },
      { name: 'note', kind: 'string' as const },
    ]
    assert.deepEqual(checkSnapshotColumns(columns, cols, 'x'), ['note'])
    assert.throws(() => checkSnapshotColumns(columns, cols.slice(1), 'x'), /column account_id \(string\) is missing/)
    assert.throws(() => checkSnapshotColumns(columns, cols.map((c) => (c.name === 'balance' ? { ...c, kind: 'string' as const } : c)), 'x'), /balance is string, declared double/)
  })

  void it('matches a brute-force reference over random snapshot sequences', () => {
    for (let seed = 1; seed <= 60; seed++) {
      const rnd = prng(seed)
      const ids = ['a', 'b', 'c', 'ab', '\u{1F600}', '\uE000', 'z']
      const log = new LogState()
      const appended: { key: string; t: number; row: string; before: string | null; op: string }[] = []
      const validSeen = new Set<string>()
      const history: TableRow[][] = []
      let current = new Map<string, TableRow>()
      for (let step = 0; step < 12; step++) {
        let snapshot: TableRow[]
        if (history.length > 0 && rnd.next() < 0.2) snapshot = history[rnd.int(0, history.length - 1)]!
        else {
          const next = new Map(current)
          for (const id of ids) {
            const p = rnd.next()
            const prior = next.get(id)
            if (prior === undefined && p < 0.4) next.set(id, row(id, rnd.int(0, 20), rnd.int(0, 3)))
            else if (prior !== undefined && p < 0.25) next.set(id, { ...prior, balance: rnd.int(0, 3) }) // content change at the same time
            else if (prior !== undefined && p < 0.5) next.set(id, { ...prior, updated_at: rnd.int(0, 30), visits: rnd.pick([null, 1, 2]) })
          }
          current = next
          snapshot = [...next.values()]
          if (rnd.next() < 0.3 && snapshot.length > 0) snapshot.push({ ...rnd.pick(snapshot), balance: 99 }) // duplicate, other content
          if (rnd.next() < 0.3 && snapshot.length > 0) snapshot.push(rnd.pick(snapshot)) // repeated row
          if (rnd.next() < 0.3) snapshot.push(row(rnd.pick([null, 'q']), rnd.pick([null, 'x', 3]), rnd.pick([1, 'y'])))
          for (let i = snapshot.length - 1; i > 0; i--) {
            const j = rnd.int(0, i)
            ;[snapshot[i], snapshot[j]] = [snapshot[j]!, snapshot[i]!]
          }
          history.push(snapshot)
        }
        // Reference: the first valid row per (key, t) of this snapshot joins the set of rows seen.
        const firsts = new Map<string, TableRow>()
        for (const r of snapshot) {
          const valid = typeof r.account_id === 'string' && typeof r.updated_at === 'number' && typeof r.balance === 'number'
          const at = `${String(r.account_id)}|${String(r.updated_at)}`
          if (valid && !firsts.has(at)) firsts.set(at, r)
        }
        for (const r of firsts.values()) validSeen.add(JSON.stringify([r.account_id, r.updated_at, r]))

        const plan = planSnapshot(input(log, `s${step}`), snapshot)
        const repeat = planSnapshot(input(log, `s${step}`), snapshot)
        assert.deepEqual(plan, repeat, 'planning is deterministic')
        for (let i = 1; i < plan.appends.length; i++) {
          const a = plan.appends[i - 1]!
          const b = plan.appends[i]!
          assert.ok(a.envelope.ts_ms < b.envelope.ts_ms || (a.envelope.ts_ms === b.envelope.ts_ms && compareKeyBytes(a.key, b.key) < 0), `seed ${seed}: order`)
        }
        for (const a of plan.appends) {
          // Reference before image: the latest appended row of the key by (t, append order).
          let latest: (typeof appended)[number] | undefined
          for (const x of appended) if (x.key === a.key && (latest === undefined || x.t >= latest.t)) latest = x
          assert.equal(a.envelope.op, latest === undefined ? 'c' : 'u', `seed ${seed}: op`)
          assert.equal(a.envelope.before === null ? null : JSON.stringify(a.envelope.before), latest?.row ?? null, `seed ${seed}: before`)
          const entry = { key: a.key, t: a.envelope.ts_ms, row: JSON.stringify(a.envelope.after), before: null, op: a.envelope.op }
          appended.push(entry)
          log.record(a.key, a.envelope.ts_ms, a.envelope.after, rowFingerprint(columns, a.envelope.after!))
        }
        assert.equal(plan.rowsRead, snapshot.length)
        assert.equal(plan.unchanged + plan.appends.length + plan.rejected.length, snapshot.length, `seed ${seed}: every row accounted for`)
        const multiset = appended.map((x) => JSON.stringify([x.key, x.t, JSON.parse(x.row)])).sort()
        assert.deepEqual(multiset, [...validSeen].sort(), `seed ${seed} step ${step}: appended = distinct valid rows seen, each once`)
        assert.equal(planSnapshot(input(log, `s${step}`), snapshot).appends.length, 0, 're-ingest appends nothing')
      }
    }
  })
})
