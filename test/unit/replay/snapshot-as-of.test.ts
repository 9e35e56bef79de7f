/**
 * The snapshot current at a time (replay/snapshot-as-of.ts), as Iceberg's as-of-timestamp picks it:
 * the last snapshot-log entry committed at or before the time. Against a model over random logs
 * (commit times that tie or go back, entries whose snapshot expired, a log that lost its start to
 * expiry): a kept snapshot is picked exactly when the model's pick is kept; otherwise the answer
 * says why — no snapshot at all, before the first, or expired — and never picks another snapshot.
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import fc from 'fast-check'
import type { SnapshotLog, SnapshotLogEntry } from '../../../ports/snapshot-log.ts'
import { snapshotAsOf } from '../../../replay/snapshot-as-of.ts'

const entry = (id: number, timestampMs: number, kept = true): SnapshotLogEntry => ({ snapshotId: String(id), timestampMs, kept })

void describe('snapshotAsOf', () => {
  const log: SnapshotLog = { entries: [entry(1, 100), entry(2, 200), entry(3, 300)], expiredBefore: false }
  const cases: [string, SnapshotLog, number, unknown][] = [
    ['exactly at a commit', log, 200, { found: true, snapshotId: '2', committedAtMs: 200 }],
    ['between two commits', log, 299, { found: true, snapshotId: '2', committedAtMs: 200 }],
    ['after the last commit (the future)', log, 1e15, { found: true, snapshotId: '3', committedAtMs: 300 }],
    ['before the first commit', log, 99, { found: false, why: 'before-first', oldest: entry(1, 100) }],
    [
      'before the first kept, older ones expired',
      { ...log, expiredBefore: true },
      99,
      { found: false, why: 'expired', oldest: entry(1, 100) },
    ],
    [
      'on an entry whose snapshot expired',
      { entries: [entry(1, 100), entry(2, 200, false), entry(3, 300)], expiredBefore: false },
      250,
      { found: false, why: 'expired', oldest: entry(1, 100) },
    ],
    ['an empty log', { entries: [], expiredBefore: false }, 0, { found: false, why: 'empty' }],
    [
      'two commits in one millisecond: the later in the log',
      { entries: [entry(1, 100), entry(2, 100)], expiredBefore: false },
      100,
      { found: true, snapshotId: '2', committedAtMs: 100 },
    ],
  ]
  for (const [what, l, time, expected] of cases) void test(what, () => assert.deepEqual(snapshotAsOf(l, time), expected))

  void test('against the model over random logs', () => {
    const logs = fc.record({
      entries: fc.array(fc.record({ timestampMs: fc.integer({ min: 0, max: 50 }), kept: fc.boolean() }), { maxLength: 8 }),
      expiredBefore: fc.boolean(),
    })
    fc.assert(
      fc.property(logs, fc.integer({ min: -5, max: 60 }), (raw, time) => {
        const l: SnapshotLog = {
          entries: raw.entries.map((e, i) => entry(i + 1, e.timestampMs, e.kept)),
          expiredBefore: raw.expiredBefore,
        }
        const model = l.entries.filter((e) => e.timestampMs <= time).at(-1)
        const got = snapshotAsOf(l, time)
        if (model?.kept === true)
          assert.deepEqual(got, { found: true, snapshotId: model.snapshotId, committedAtMs: model.timestampMs })
        else {
          assert.equal(got.found, false, 'nothing else is picked')
          if (got.found) return
          const oldest = l.entries.find((e) => e.kept)
          if (oldest === undefined) assert.equal(got.why, 'empty')
          else assert.equal(got.why, model !== undefined || l.expiredBefore ? 'expired' : 'before-first')
        }
      }),
    )
  })
})
