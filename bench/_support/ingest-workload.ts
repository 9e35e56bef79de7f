/**
 * The table the ingest benchmark ingests (bench/ingest.ts, and the same-process A/B in
 * ./ingest-ab.ts): N accounts, one row each — a primary key, an event time within one day, a
 * double, a nullable string and a nullable long — generated from a fixed seed, so every run and
 * every tree reads the same file.
 */
import { writeFile } from 'node:fs/promises'
import { changeEnvelopeSchema } from '../../features/change-envelope.ts'
import type { AvroRecordSchema, SourceDef } from '../../features/types.ts'
import type { ParquetCodec, ParquetColumnSpec } from '../../ports/parquet-codec.ts'

export const accountRowSchema: AvroRecordSchema = {
  type: 'record',
  name: 'Account',
  fields: [
    { name: 'account_id', type: 'string' },
    { name: 'updated_at', type: { type: 'long', logicalType: 'timestamp-millis' } },
    { name: 'balance', type: 'double' },
    { name: 'tier', type: ['null', 'string'], default: null },
    { name: 'visits', type: ['null', 'long'], default: null },
  ],
}

/** The table source of accounts.parquet (relative to the reader's working directory). */
export const accountSource: SourceDef = {
  kind: 'source',
  name: 'accounts',
  topic: 'accounts',
  schema: changeEnvelopeSchema(accountRowSchema),
  eventTimeField: 'ts_ms',
  keyedBy: 'account',
  partitions: 4,
  outOfOrdernessMs: 0,
  allowedLatenessMs: 0,
  idleTimeoutMs: 60_000,
  maxFutureSkewMs: 3_600_000,
  description: 'bench table',
  changes: {
    kind: 'table',
    rowSchema: accountRowSchema,
    primaryKey: ['account_id'],
    rowTimeField: 'updated_at',
    location: { format: 'parquet', path: 'accounts.parquet' },
    format: 'avro',
  },
}

const accountColumns: ParquetColumnSpec[] = [
  { name: 'account_id', type: 'string', required: true },
  { name: 'updated_at', type: 'timestamptz', required: true },
  { name: 'balance', type: 'double', required: true },
  { name: 'tier', type: 'string', required: false },
  { name: 'visits', type: 'long', required: false },
]

/** Writes the snapshot of `rows` accounts to `file` (Parquet). */
export async function writeAccountSnapshot(codec: ParquetCodec, rows: number, file: string): Promise<void> {
  const start = Date.UTC(2026, 10, 1)
  let seed = 7
  const next = (): number => (seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31
  const values: unknown[][] = [[], [], [], [], []]
  for (let i = 0; i < rows; i++) {
    values[0]!.push(`acct-${i.toString(36).padStart(5, '0')}`)
    values[1]!.push(start + Math.floor(next() * 86_400_000))
    values[2]!.push(Math.round(next() * 1e6) / 100)
    values[3]!.push(next() < 0.3 ? null : next() < 0.5 ? 'gold' : 'silver')
    values[4]!.push(next() < 0.1 ? null : Math.floor(next() * 1000))
  }
  await writeFile(file, await codec.encode(accountColumns, values))
}
