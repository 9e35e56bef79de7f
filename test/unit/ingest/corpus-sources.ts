/**
 * The definitions module the bad-input corpus tests load with --features: the accounts table of
 * ./fixtures.ts read from a CSV file (`accounts_csv`) and from Parquet (`accounts`).
 */
import { changeEnvelopeSchema } from '../../../features/change-envelope.ts'
import type { AvroRecordSchema } from '../../../features/types.ts'
import { brand } from '../../../features/validate.ts'
import { account, accountsSource } from './fixtures.ts'

export { account }
export const accounts = brand(accountsSource())
export const accountsCsv = brand(
  accountsSource({
    name: 'accounts_csv',
    topic: 'accounts_csv',
    changes: { ...accountsSource().changes!, location: { format: 'csv', path: 'accounts.csv' } },
  }),
)

/** Documents with columns of the richer kinds: bytes and a list of text (Parquet binary and list<string>). */
export const docRow: AvroRecordSchema = {
  type: 'record',
  name: 'Doc',
  namespace: 'kfs.test',
  fields: [
    { name: 'account_id', type: 'string' },
    { name: 'updated_at', type: { type: 'long', logicalType: 'timestamp-millis' } },
    { name: 'blob', type: ['null', 'bytes'], default: null },
    { name: 'tags', type: ['null', { type: 'array', items: 'string' }], default: null },
  ],
}
export const docs = brand(
  accountsSource({
    name: 'docs',
    topic: 'docs',
    schema: changeEnvelopeSchema(docRow),
    changes: { ...accountsSource().changes!, rowSchema: docRow, location: { format: 'parquet', path: 'docs.parquet' } },
  }),
)

/** The accounts table as an Iceberg table on the object store (`warehouse/db/accounts`). */
export const accountsIceberg = brand(
  accountsSource({
    name: 'accounts_iceberg',
    topic: 'accounts_iceberg',
    changes: { ...accountsSource().changes!, location: { format: 'iceberg', table: 'warehouse/db/accounts' } },
  }),
)
