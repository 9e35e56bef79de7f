/**
 * Feature files for the joiner's tie tests (joiner-ties, joiner-packed-key): rows with a key, an
 * as_of, an archive seq (null allowed) and an id that says which row a join picked, written as
 * the feature table's columns, dealt round-robin over `files` Parquet files.
 */
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { encodeParquetColumns } from '../../../adapters/offline/parquet/index.ts'

export interface TieRow {
  readonly key: string
  readonly asOfMs: number
  readonly seq: bigint | null
  readonly id: number
}

export async function writeTieFeatureFiles(dir: string, rows: readonly TieRow[], files: number): Promise<string[]> {
  const paths: string[] = []
  for (let f = 0; f < files; f++) {
    const part = rows.filter((_, i) => i % files === f)
    const file = await encodeParquetColumns(
      [
        { name: 'entity_key', type: 'string', fieldId: 1, required: true },
        { name: 'as_of', type: 'timestamptz', fieldId: 2, required: true },
        { name: 'created_at', type: 'timestamptz', fieldId: 3, required: true },
        { name: 'seq', type: 'long', fieldId: 4, required: false },
        { name: 'row_id', type: 'long', fieldId: 5, required: false },
      ],
      [
        part.map((r) => r.key),
        part.map((r) => r.asOfMs),
        part.map((r) => r.asOfMs),
        part.map((r) => r.seq),
        part.map((r) => r.id),
      ],
    )
    paths.push(join(dir, `features-${f}.parquet`))
    await writeFile(paths[f]!, file.bytes)
  }
  return paths
}
