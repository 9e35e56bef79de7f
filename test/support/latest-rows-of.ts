/**
 * FeatureRowReader.readLatestFeatureRows over rows per entity in archive order (what readFeatureRows
 * answers), for stand-ins of the offline tables: each entity of the shard with its last row, and
 * `complete: false` past `maxEntities`, as the port has it (ports/feature-rows.ts).
 */
import type { FeatureRow } from '../../features/types.ts'
import { entityShardOf, type LatestFeatureRows, type LatestFeatureRowsOptions } from '../../ports/feature-rows.ts'

export function latestRowsOf(
  byEntity: ReadonlyMap<string, readonly FeatureRow[]>,
  options: LatestFeatureRowsOptions = {},
): LatestFeatureRows {
  const { index, of } = options.shard ?? { index: 0, of: 1 }
  const rows = new Map<string, FeatureRow>()
  if (options.snapshotId === null) return { complete: true, rows }
  let rowsRead = 0
  const rowsInTable = [...byEntity.values()].reduce((n, list) => n + list.length, 0)
  for (const [key, list] of byEntity) {
    rowsRead += list.length
    const latest = list.at(-1)
    if (latest === undefined || entityShardOf(key, of) !== index) continue
    if (rows.size >= (options.maxEntities ?? Infinity)) return { complete: false, rowsRead, rowsInTable }
    rows.set(key, latest)
  }
  return { complete: true, rows }
}
