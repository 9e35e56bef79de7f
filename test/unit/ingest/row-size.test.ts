/**
 * Rows too large for a change record are rejected `oversize` (ingest/row-size.ts), whatever column
 * makes them so — text, bytes, a list — and rows just within are planned; every reader of the log
 * refuses a record over 1 MiB, so a larger row would be dead-lettered by every view and appended
 * again by every re-ingest.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type { AvroRecordSchema } from '../../../features/types.ts'
import { LogState } from '../../../ingest/log-state.ts'
import { planSnapshot } from '../../../ingest/plan-snapshot.ts'
import { rowColumns } from '../../../ingest/row-columns.ts'
import { MAX_ROW_IMAGE_BYTES } from '../../../ingest/row-size.ts'

const rowSchema: AvroRecordSchema = {
  type: 'record',
  name: 'Doc',
  fields: [
    { name: 'id', type: 'string' },
    { name: 't', type: 'long' },
    { name: 'body', type: ['null', 'string'], default: null },
    { name: 'blob', type: ['null', 'bytes'], default: null },
    { name: 'tags', type: ['null', { type: 'array', items: 'string' }], default: null },
  ],
}
const plan = (rows: Record<string, unknown>[]) =>
  planSnapshot(
    { columns: rowColumns(rowSchema), primaryKey: ['id'], rowTimeField: 't', snapshotId: 's', log: new LogState() },
    rows,
  )
const row = (id: string, extra: Record<string, unknown>) => ({ id, t: 1000, body: null, blob: null, tags: null, ...extra })
const over = MAX_ROW_IMAGE_BYTES + 1

void describe('ingest: rows too large for a change record', () => {
  const cases: readonly (readonly [string, Record<string, unknown>, Record<string, unknown>])[] = [
    ['ASCII text', { body: 'x'.repeat(over) }, { body: 'x'.repeat(MAX_ROW_IMAGE_BYTES - 100) }],
    [
      'text of 3-byte characters (UTF-8 bytes count, not characters)',
      { body: '€'.repeat(Math.ceil(over / 3)) },
      { body: '€'.repeat(Math.floor((MAX_ROW_IMAGE_BYTES - 100) / 3)) },
    ],
    ['bytes', { blob: new Uint8Array(over) }, { blob: new Uint8Array(MAX_ROW_IMAGE_BYTES - 100) }],
    [
      'a list of text',
      { tags: Array.from({ length: 1000 }, () => 'y'.repeat(over / 1000 + 1)) },
      { tags: Array.from({ length: 1000 }, () => 'y'.repeat(500)) },
    ],
    [
      'several columns together',
      { body: 'x'.repeat(over / 2), blob: new Uint8Array(over / 2) },
      { body: 'x'.repeat(1000), blob: new Uint8Array(1000) },
    ],
  ]
  for (const [what, big, within] of cases) {
    void it(`${what}: over the limit rejected oversize, naming its size; within it planned`, () => {
      const p = plan([row('big', big), row('ok', within)])
      assert.deepEqual(
        p.rejected.map((r) => [r.row, r.reason]),
        [[1, 'oversize']],
      )
      assert.match(
        p.rejected[0]!.detail,
        new RegExp(`^the row's values take \\d+ bytes, over the ${MAX_ROW_IMAGE_BYTES} a change record can carry`),
      )
      assert.deepEqual(
        p.appends.map((a) => a.key),
        ['ok'],
      )
    })
  }

  void it('a row of the wrong type is schema_mismatch, not sized', () => {
    const p = plan([row('bad', { tags: 'x'.repeat(over) })])
    assert.deepEqual(
      p.rejected.map((r) => r.reason),
      ['schema_mismatch'],
    )
  })
})
