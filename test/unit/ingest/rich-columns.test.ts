/**
 * Table rows with columns of the richer Avro types (ingest/row-columns.ts): `bytes` and `fixed`
 * (a primitive name, not a schema on its own — rowColumns threw a JSON SyntaxError for it, and
 * `kfs ingest` of such a source crashed), a type named in one field and referenced by name in
 * another, and binary values as readers give them (Uint8Array, which avsc's bytes refuses: every
 * row was rejected `schema_mismatch`).
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type { AvroRecordSchema } from '../../../features/types.ts'
import { LogState } from '../../../ingest/log-state.ts'
import { planSnapshot } from '../../../ingest/plan-snapshot.ts'
import { rowColumns } from '../../../ingest/row-columns.ts'

const rowSchema: AvroRecordSchema = {
  type: 'record',
  name: 'Rich',
  namespace: 'kfs.test',
  fields: [
    { name: 'id', type: 'string' },
    { name: 't', type: 'long' },
    { name: 'blob', type: 'bytes' },
    { name: 'maybe_blob', type: ['null', 'bytes'], default: null },
    { name: 'digest', type: { type: 'fixed', name: 'Digest', size: 2 } },
    { name: 'status', type: { type: 'enum', name: 'Status', symbols: ['OPEN', 'CLOSED'] } },
    { name: 'previous_status', type: ['null', 'kfs.test.Status'], default: null },
  ],
}

const plan = (rows: Record<string, unknown>[]) =>
  planSnapshot(
    { columns: rowColumns(rowSchema), primaryKey: ['id'], rowTimeField: 't', snapshotId: 's', log: new LogState() },
    rows,
  )
const good = {
  t: 1000,
  blob: new Uint8Array([1]),
  maybe_blob: null,
  digest: new Uint8Array([1, 2]),
  status: 'OPEN',
  previous_status: null,
}

void describe('ingest: columns of the richer Avro types', () => {
  void it('builds the columns of every such field (all of kind other)', () => {
    assert.deepEqual(
      rowColumns(rowSchema).map((c) => [c.name, c.kind, c.nullable]),
      [
        ['id', 'string', false],
        ['t', 'long', false],
        ['blob', 'other', false],
        ['maybe_blob', 'other', true],
        ['digest', 'other', false],
        ['status', 'other', false],
        ['previous_status', 'other', true],
      ],
    )
  })

  void it('takes binary values as Uint8Array or Buffer, and refuses what is not of the type, naming the column', () => {
    const p = plan([
      { id: 'u8', ...good },
      { id: 'buf', ...good, blob: Buffer.from([2]), maybe_blob: new Uint8Array([3, 4]).subarray(1), digest: Buffer.from([3, 4]) },
      { id: 'named', ...good, previous_status: 'CLOSED' },
      { id: 'bad-fixed', ...good, digest: new Uint8Array(3) },
      { id: 'bad-enum', ...good, previous_status: 'GONE' },
      { id: 'text-blob', ...good, blob: 'AQ==' },
    ])
    assert.deepEqual(p.appends.map((a) => a.key).sort(), ['buf', 'named', 'u8'])
    assert.deepEqual(
      p.rejected.map((r) => [r.row, r.reason, r.detail.split(' holds')[0]]),
      [
        [4, 'schema_mismatch', 'column digest'],
        [5, 'schema_mismatch', 'column previous_status'],
        [6, 'schema_mismatch', 'column blob'],
      ],
    )
    // The subarray's own bytes, not its buffer's.
    const buf = p.appends.find((a) => a.key === 'buf')!.envelope.after!
    assert.deepEqual([...(buf.maybe_blob as Uint8Array)], [4])
  })
})
