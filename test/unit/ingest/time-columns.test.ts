/**
 * A snapshot's time columns (a Parquet TIMESTAMP or DATE, an Iceberg timestamp or date) are read
 * as epoch milliseconds (docs/table-and-changelog-sources.md): they feed a declared column of
 * epoch milliseconds (timestamp-millis, local-timestamp-millis) as they are. A declared column of
 * another Avro time type — micro- or nanoseconds, days, a time of day — would hold those
 * milliseconds as its own unit: 2026-01-01 as a timestamp-micros was 1970-01-21, unsaid. Such a
 * snapshot is refused, naming the column and the type to declare, before anything is appended.
 */
import { DuckDBInstance } from '@duckdb/node-api'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { createParquetCodec } from '../../../adapters/offline/parquet/parquet-codec.ts'
import { createFileTableReader } from '../../../adapters/tables/file-table-reader.ts'
import { SchemaError } from '../../../core/errors.ts'
import type { AvroRecordSchema } from '../../../features/types.ts'
import { LogState } from '../../../ingest/log-state.ts'
import { checkSnapshotColumns, SnapshotPlanner } from '../../../ingest/plan-snapshot.ts'
import { declaredTableColumns, rowColumns } from '../../../ingest/row-columns.ts'

const dir = mkdtempSync(join(tmpdir(), 'kfs-time-columns-'))
const duck = await (await DuckDBInstance.create(':memory:')).connect()
after(() => {
  duck.closeSync()
  rmSync(dir, { recursive: true, force: true })
})
await duck.run(
  `COPY (SELECT 'a' AS id, 1000::BIGINT AS t, TIMESTAMPTZ '2026-01-01 00:00:00+00' AS ts, DATE '2026-01-02' AS d) TO '${join(dir, 'times.parquet')}' (FORMAT parquet)`,
)
const reader = (rowSchema: AvroRecordSchema) =>
  createFileTableReader({ parquet: createParquetCodec({ worker: false }), columns: declaredTableColumns(rowSchema), cwd: dir })

const DECLARED: readonly (readonly [string, unknown, 'read' | 'refused'])[] = [
  ['timestamp-millis', { type: 'long', logicalType: 'timestamp-millis' }, 'read'],
  ['local-timestamp-millis', { type: 'long', logicalType: 'local-timestamp-millis' }, 'read'],
  ['nullable timestamp-millis', ['null', { type: 'long', logicalType: 'timestamp-millis' }], 'read'],
  ['timestamp-micros', { type: 'long', logicalType: 'timestamp-micros' }, 'refused'],
  ['local-timestamp-micros', { type: 'long', logicalType: 'local-timestamp-micros' }, 'refused'],
  ['nullable timestamp-micros', ['null', { type: 'long', logicalType: 'timestamp-micros' }], 'refused'],
  ['timestamp-nanos', { type: 'long', logicalType: 'timestamp-nanos' }, 'refused'],
  ['date', { type: 'int', logicalType: 'date' }, 'refused'],
  ['time-millis', { type: 'int', logicalType: 'time-millis' }, 'refused'],
  ['time-micros', { type: 'long', logicalType: 'time-micros' }, 'refused'],
]

void describe('time columns of a snapshot into declared time types', () => {
  for (const source of ['ts', 'd'] as const)
    for (const [what, type, want] of DECLARED) {
      void it(`a Parquet ${source === 'ts' ? 'TIMESTAMP' : 'DATE'} into a declared ${what}: ${want}`, async () => {
        const rowSchema = {
          type: 'record',
          name: 'R',
          fields: [
            { name: 'id', type: 'string' },
            { name: 't', type: 'long' },
            { name: source, type },
          ],
        } as AvroRecordSchema
        const columns = rowColumns(rowSchema)
        const snapshot = await reader(rowSchema).open({ format: 'parquet', path: 'times.parquet' })
        if (want === 'refused') {
          assert.throws(
            () => checkSnapshotColumns(columns, snapshot.columns, snapshot.where),
            (err: unknown) =>
              err instanceof SchemaError &&
              new RegExp(
                `column ${source} is a timestamp \\(read as epoch milliseconds\\), declared ${what.replace('nullable ', '')}: declare it as \\{ type: 'long', logicalType: 'timestamp-millis' \\}`,
              ).test(err.message),
          )
          return
        }
        checkSnapshotColumns(columns, snapshot.columns, snapshot.where)
        const planner = new SnapshotPlanner({
          columns,
          primaryKey: ['id'],
          rowTimeField: 't',
          snapshotId: 's',
          log: new LogState(),
        })
        for await (const batch of snapshot.columnBatches!()) planner.addColumns(batch)
        const plan = planner.finish()
        assert.deepEqual(plan.rejected, [])
        assert.equal(plan.at(0).envelope.after![source], source === 'ts' ? Date.UTC(2026, 0, 1) : Date.UTC(2026, 0, 2))
      })
    }
})
