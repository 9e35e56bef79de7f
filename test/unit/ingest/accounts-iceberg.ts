/**
 * The accounts table source's Iceberg table (corpus-sources.ts `accountsIceberg`), written by kfs's
 * own Iceberg writer, day-partitioned on `updated_at`: for the tests that ingest it or break it.
 */
import { join } from 'node:path'
import { LocalObjectStore } from '../../../adapters/object-store/index.ts'
import {
  appendFiles,
  createTable,
  dayPartitionSpec,
  metadataKey,
  writeDataFiles,
  type IcebergSchema,
} from '../../../adapters/offline/iceberg/index.ts'

export const ACCOUNTS_TABLE = 'warehouse/db/accounts'

export const accountsIcebergSchema: IcebergSchema = {
  type: 'struct',
  'schema-id': 0,
  fields: [
    { id: 1, name: 'account_id', required: true, type: 'string' },
    { id: 2, name: 'updated_at', required: true, type: 'timestamptz' },
    { id: 3, name: 'balance', required: true, type: 'double' },
    { id: 4, name: 'tier', required: false, type: 'string' },
    { id: 5, name: 'visits', required: false, type: 'long' },
  ],
}

/**
 * The accounts table in `dataDir`'s object store (`<dataDir>/objects`), one snapshot per batch of
 * rows: the store, the snapshot ids in order and the key of the last metadata file.
 */
export async function writeAccountsTable(
  dataDir: string,
  batches: readonly (readonly Record<string, unknown>[])[],
  schema: IcebergSchema = accountsIcebergSchema,
): Promise<{ store: LocalObjectStore; ids: string[]; key: string }> {
  const store = new LocalObjectStore(join(dataDir, 'objects'))
  let table = await createTable(store, ACCOUNTS_TABLE, { schema, partitionSpec: dayPartitionSpec(schema, 'updated_at') })
  const ids: string[] = []
  for (const rows of batches) {
    const res = await appendFiles(table, await writeDataFiles(table, rows, { parquetWorker: false }))
    table = res.table
    ids.push(String(res.snapshotId))
  }
  return { store, ids, key: metadataKey(ACCOUNTS_TABLE, table.version) }
}
