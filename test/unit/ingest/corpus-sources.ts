/**
 * The definitions module the bad-input corpus tests load with --features: the accounts table of
 * ./fixtures.ts read from a CSV file (`accounts_csv`) and from Parquet (`accounts`).
 */
import { changeEnvelopeSchema } from '../../../features/change-envelope.ts'
import { entity } from '../../../features/index.ts'
import type { AvroRecordSchema } from '../../../features/types.ts'
import { brand } from '../../../features/validate.ts'
import { account, accountRow, accountsSource } from './fixtures.ts'

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

/** Accounts numbered: an entity whose keys are integers (keyType 'int'), as the engine keys its views. */
export const accountNumber = entity({
  name: 'account_number',
  joinKeys: ['account_id'],
  keyType: 'int',
  description: 'An account by its number',
})

/** The accounts CSV keyed by the int entity: its text keys must be integers as the engine writes them. */
export const accountsIntCsv = brand(
  accountsSource({
    name: 'accounts_int_csv',
    topic: 'accounts_int_csv',
    keyedBy: 'account_number',
    changes: { ...accountsSource().changes!, location: { format: 'csv', path: 'accounts.csv' } },
  }),
)

const numberedRow: AvroRecordSchema = {
  ...accountRow,
  name: 'NumberedAccount',
  fields: (accountRow.fields as { name: string }[]).map((f) =>
    f.name === 'account_id' ? { name: 'account_id', type: 'long' } : f,
  ),
}

/** Accounts whose key column is a long, keyed by the string entity `account` (whose keys the engine takes as text only). */
export const accountsLongKey = brand(
  accountsSource({
    name: 'accounts_long_key',
    topic: 'accounts_long_key',
    schema: changeEnvelopeSchema(numberedRow),
    changes: { ...accountsSource().changes!, rowSchema: numberedRow, location: { format: 'csv', path: 'accounts.csv' } },
  }),
)

/** The same, keyed by the int entity: long keys are its keys. */
export const accountsLongIntKey = brand(
  accountsSource({
    name: 'accounts_long_int_key',
    topic: 'accounts_long_int_key',
    keyedBy: 'account_number',
    schema: changeEnvelopeSchema(numberedRow),
    changes: { ...accountsSource().changes!, rowSchema: numberedRow, location: { format: 'csv', path: 'accounts.csv' } },
  }),
)
