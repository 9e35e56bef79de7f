/**
 * Numbers in every numeric column kind a table source declares (ingest/row-columns.ts): each value
 * of a palette of edge numbers — signed zeros, NaN, infinities, the ends of an int, a float, a
 * safe integer and a long, a fraction, the smallest subnormal — in an `int`, `long`,
 * `timestamp-millis`, `float` and `double` column. A value the planner accepts must be one the
 * log holds as it is, up to the column's own rounding (a float's 32 bits): its Avro round trip
 * fingerprints the same, and a finite value stays finite. Any other value's row is rejected
 * `schema_mismatch`, never written as another number (a float beyond its range became Infinity).
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type { Type } from 'avsc'
import type { AvroRecordSchema } from '../../../features/types.ts'
import { LogState } from '../../../ingest/log-state.ts'
import { planSnapshot } from '../../../ingest/plan-snapshot.ts'
import { rowColumns } from '../../../ingest/row-columns.ts'
import { createWideType } from '../../../schemas/avro-type.ts'

const KINDS: Readonly<Record<string, unknown>> = {
  int: 'int',
  long: 'long',
  timestamp: { type: 'long', logicalType: 'timestamp-millis' },
  float: 'float',
  double: 'double',
}
const FLT_MAX = 3.4028234663852886e38
const PALETTE: readonly unknown[] = [
  0,
  -0,
  1.5,
  Number.NaN,
  Infinity,
  -Infinity,
  2 ** 31 - 1,
  2 ** 31,
  -(2 ** 31),
  -(2 ** 31) - 1,
  Number.MAX_SAFE_INTEGER,
  2n ** 53n + 1n,
  2n ** 63n - 1n,
  2n ** 63n,
  -(2n ** 63n),
  FLT_MAX,
  -FLT_MAX,
  3.4028235e38,
  3.4028236e38,
  1e39,
  -1e39,
  1e-50,
  5e-324,
  Number.MAX_VALUE,
]

void describe('numbers in numeric columns', () => {
  for (const [kind, type] of Object.entries(KINDS)) {
    void it(`a ${kind} column: a value accepted is held as it is (up to the column's rounding), any other rejected schema_mismatch`, () => {
      const rowSchema: AvroRecordSchema = {
        type: 'record',
        name: 'N',
        fields: [
          { name: 'id', type: 'string' },
          { name: 't', type: 'long' },
          { name: 'n', type },
        ],
      }
      const columns = rowColumns(rowSchema)
      const avro: Type = createWideType(rowSchema)
      const rows = PALETTE.map((n, i) => ({ id: `k${i}`, t: 1000, n }))
      const plan = planSnapshot({ columns, primaryKey: ['id'], rowTimeField: 't', snapshotId: 's', log: new LogState() }, rows)
      const appended = new Map(plan.appends.map((a) => [a.key, a.envelope.after!]))
      const problems: string[] = []
      PALETTE.forEach((n, i) => {
        const after = appended.get(`k${i}`)
        const rejected = plan.rejected.find((r) => r.row === i + 1)
        if (after === undefined) {
          if (rejected?.reason !== 'schema_mismatch') problems.push(`${String(n)}: neither appended nor rejected schema_mismatch`)
          return
        }
        const held = (avro.fromBuffer(avro.toBuffer(after)) as Record<string, unknown>)['n']
        const column = columns[2]!
        if (column.canonical(held) !== column.canonical(n)) problems.push(`${String(n)}: held as ${String(held)}`)
        if (typeof n === 'number' && Number.isFinite(n) !== Number.isFinite(Number(held)))
          problems.push(`${String(n)}: held as ${String(held)}`)
      })
      assert.deepEqual(problems, [])
      assert.equal(plan.appends.length + plan.rejected.length, PALETTE.length)
    })
  }
})
