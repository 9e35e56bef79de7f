/** Parquet snapshots of the accounts table (./fixtures.ts) for ingest tests. */
import { writeFile } from 'node:fs/promises'
import type { ParquetCodec, ParquetColumnSpec } from '../../../ports/parquet-codec.ts'

export const ACCOUNT_PARQUET_COLUMNS: readonly ParquetColumnSpec[] = [
  { name: 'account_id', type: 'string', required: false },
  { name: 'updated_at', type: 'timestamptz', required: false },
  { name: 'balance', type: 'double', required: false },
  { name: 'tier', type: 'string', required: false },
  { name: 'visits', type: 'long', required: false },
]

export async function writeAccountsParquet(
  codec: ParquetCodec,
  path: string,
  rows: readonly Record<string, unknown>[],
  columns: readonly ParquetColumnSpec[] = ACCOUNT_PARQUET_COLUMNS,
): Promise<void> {
  const bytes = await codec.encode(columns, columns.map((c) => rows.map((r) => r[c.name] ?? null)))
  await writeFile(path, bytes)
}
