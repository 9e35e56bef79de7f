/**
 * A rejected row's detail names the value it refused: "holds number, not epoch milliseconds" (for
 * a Parquet timestamp of ±infinity, a NaN, a fraction) named no row's problem. Every kind of bad
 * event time and bad column value, with the detail each must carry.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type { TableRow } from '../../../ports/table-snapshots.ts'
import { LogState } from '../../../ingest/log-state.ts'
import { planSnapshot } from '../../../ingest/plan-snapshot.ts'
import { rowColumns } from '../../../ingest/row-columns.ts'
import { accountRow } from './fixtures.ts'

const columns = rowColumns(accountRow)
const row = (t: unknown, extra: Partial<Record<string, unknown>> = {}): TableRow => ({
  account_id: 'a',
  updated_at: t,
  balance: 1,
  tier: null,
  visits: null,
  ...extra,
})

const CASES: readonly (readonly [string, TableRow, string, string])[] = [
  [
    'NaN event time',
    row(Number.NaN),
    'invalid_event_time',
    'event-time column updated_at holds number NaN, not epoch milliseconds',
  ],
  [
    '+infinity event time',
    row(Number.POSITIVE_INFINITY),
    'invalid_event_time',
    'event-time column updated_at holds number Infinity, not epoch milliseconds',
  ],
  ['a fraction of a ms', row(1.5), 'invalid_event_time', 'event-time column updated_at holds number 1.5, not epoch milliseconds'],
  [
    'an infinite timestamp as Parquet readers give it',
    row(9223372036854776),
    'invalid_event_time',
    'event-time column updated_at holds number 9223372036854776, not epoch milliseconds',
  ],
  [
    'a bigint event time',
    row(2n ** 62n),
    'invalid_event_time',
    `event-time column updated_at holds bigint ${2n ** 62n}, not epoch milliseconds`,
  ],
  [
    'a boolean event time',
    row(true),
    'invalid_event_time',
    'event-time column updated_at holds boolean true, not epoch milliseconds',
  ],
  [
    'text event time',
    row('soon'),
    'invalid_event_time',
    'event-time column updated_at holds text "soon", not epoch milliseconds',
  ],
  [
    'a long past 2^53',
    row(1, { visits: 2n ** 64n - 1n }),
    'schema_mismatch',
    `column visits holds bigint ${2n ** 64n - 1n}, not null or long`,
  ],
  ['a fraction in a long column', row(1, { visits: 2.5 }), 'schema_mismatch', 'column visits holds number 2.5, not null or long'],
  [
    'a boolean in a double column',
    row(1, { balance: false }),
    'schema_mismatch',
    'column balance holds boolean false, not double',
  ],
]

void describe('planSnapshot: rejection details name the value', () => {
  for (const [what, bad, reason, detail] of CASES) {
    void it(what, () => {
      const plan = planSnapshot(
        { columns, primaryKey: ['account_id'], rowTimeField: 'updated_at', snapshotId: 's', log: new LogState() },
        [bad],
      )
      assert.deepEqual(
        plan.rejected.map((r) => [r.row, r.reason, r.detail]),
        [[1, reason, detail]],
      )
    })
  }
})
