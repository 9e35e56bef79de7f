/**
 * The change envelope (docs/design.md §11): how a row change travels on a table or changelog
 * source's topic, and so in its archive. Debezium's envelope is the reference: `op` (c create,
 * r snapshot read, u update, d delete), the row's `before` and `after` images, and `ts_ms`, the
 * change's commit time — the source's event time. `snapshot` is the table snapshot a table
 * source's record was ingested from (null on changelog records).
 *
 * The envelope's Avro record is derived from the row's: `<Row>Change { op, before, after, ts_ms,
 * snapshot }`, so a change source is registered, decoded, archived and replayed exactly like an
 * event source with that schema.
 */
import type { AvroRecordSchema } from './types.ts'

export const CHANGE_TIME_FIELD = 'ts_ms'

/**
 * Why a changelog change with commit time 0 is refused (`missing_event_time`): connectors write 0
 * when they do not know the commit time (snapshot reads, some connectors), and read as a time it
 * would date the row 1970. Table sources are not judged so: their ts_ms is the row's own event time.
 */
export const UNKNOWN_COMMIT_TIME = `${CHANGE_TIME_FIELD} is 0: a CDC connector writes 0 when it does not know the commit time, so the change has none (not a 1970 commit)`

/** The Debezium operations: create, snapshot read, update, delete. */
export const CHANGE_OPS = ['c', 'r', 'u', 'd'] as const
export type ChangeOp = (typeof CHANGE_OPS)[number]

/** A change as it is published: the envelope's fields, decoded. */
export interface ChangeEnvelope {
  readonly op: string
  readonly before: Readonly<Record<string, unknown>> | null
  readonly after: Readonly<Record<string, unknown>> | null
  readonly ts_ms: number
  readonly snapshot: string | null
}

/** The envelope record schema carrying changes of rows of `rowSchema`. */
export function changeEnvelopeSchema(rowSchema: AvroRecordSchema): AvroRecordSchema {
  const row = structuredClone(rowSchema) as AvroRecordSchema
  return {
    type: 'record',
    name: `${row.name}Change`,
    ...(row.namespace !== undefined ? { namespace: row.namespace } : {}),
    fields: [
      { name: 'op', type: 'string' },
      { name: 'before', type: ['null', row], default: null },
      // The row type is defined once (in `before`) and referred to by its full name here.
      { name: 'after', type: ['null', row.namespace !== undefined ? `${row.namespace}.${row.name}` : row.name], default: null },
      { name: CHANGE_TIME_FIELD, type: { type: 'long', logicalType: 'timestamp-millis' } },
      { name: 'snapshot', type: ['null', 'string'], default: null },
    ],
  }
}
