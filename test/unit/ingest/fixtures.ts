/**
 * A hand-built table source for ingest tests (the DSL's `tableSource` builder is written
 * elsewhere): accounts keyed by account_id, event time `updated_at`. Also the definitions module
 * the CLI tests load with --features (it exports the entity and this source).
 */
import { changeEnvelopeSchema } from '../../../features/change-envelope.ts'
import { entity } from '../../../features/index.ts'
import type { AvroRecordSchema, SourceDef } from '../../../features/types.ts'
import { brand } from '../../../features/validate.ts'

export const accountRow: AvroRecordSchema = {
  type: 'record',
  name: 'Account',
  namespace: 'kfs.test',
  fields: [
    { name: 'account_id', type: 'string' },
    { name: 'updated_at', type: { type: 'long', logicalType: 'timestamp-millis' } },
    { name: 'balance', type: 'double' },
    { name: 'tier', type: ['null', 'string'], default: null },
    { name: 'visits', type: ['null', 'long'], default: null },
  ],
}

export const account = entity({ name: 'account', joinKeys: ['account_id'], description: 'A customer account' })

export function accountsSource(overrides: Partial<SourceDef> = {}): SourceDef {
  return {
    kind: 'source',
    name: 'accounts',
    topic: 'accounts',
    schema: changeEnvelopeSchema(accountRow),
    eventTimeField: 'ts_ms',
    keyedBy: 'account',
    partitions: 3,
    outOfOrdernessMs: 0,
    allowedLatenessMs: 0,
    idleTimeoutMs: 60_000,
    maxFutureSkewMs: 3_600_000,
    description: 'Account balances, a table ingested from snapshots',
    changes: { kind: 'table', rowSchema: accountRow, primaryKey: ['account_id'], rowTimeField: 'updated_at', location: { format: 'parquet', path: 'accounts.parquet' }, format: 'avro' },
    ...overrides,
  }
}

export const accounts = brand(accountsSource())
