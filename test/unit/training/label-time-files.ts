/**
 * Label files whose `ts` column holds given numbers, for the label-time audits: a CSV of given
 * cells, or a Parquet file written by DuckDB with the column cast to a given SQL type. Rows are
 * `u<i>`, `x`, the time; each file a new name in `dir`.
 */
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { DuckDBConnection } from '@duckdb/node-api'

export function labelTimeFiles(dir: string, duck: DuckDBConnection) {
  let files = 0
  async function csvFile(cells: readonly string[]): Promise<string> {
    const path = join(dir, `labels-${files++}.csv`)
    await writeFile(path, ['user_id,item_id,ts', ...cells.map((c, i) => `u${i},x,${c}`)].join('\n'))
    return path
  }
  async function parquetFile(times: readonly number[], cast: string): Promise<string> {
    const path = join(dir, `labels-${files++}.parquet`)
    const rows = times.map((t, i) => `('u${i}', 'x', ${t})`).join(', ')
    await duck.run(
      `COPY (SELECT user_id, item_id, CAST(t AS ${cast}) AS ts FROM (VALUES ${rows}) v(user_id, item_id, t)) TO '${path}' (FORMAT parquet)`,
    )
    return path
  }
  return { csvFile, parquetFile }
}
