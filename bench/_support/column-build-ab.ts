/**
 * Same-process A/B of the offline rows' column build alone (docs/performance.md, Session 37:
 * replay and e2e outside the operators): a 60,000-row offline row buffer of four numeric features
 * → the feature table's columns (`rowColumnsToTable`) → Arrow columns (`buildColumn`), five times a
 * round, each version's modules loaded from its extracted tree, the version going first
 * alternating. Prints each round's thread CPU and the medians.
 *
 *   KFS_AB_BASE=/tmp/ab-base KFS_AB_NEW=/tmp/ab-new [KFS_AB_ROUNDS=10] \
 *     flock /tmp/kfs-bench.lock node --import tsx bench/_support/column-build-ab.ts
 */
import { abSummary, moduleLoader } from './ab-trees.ts'
const ROUNDS = Number(process.env.KFS_AB_ROUNDS ?? 10)
async function version(tree: string | undefined) {
  const load = moduleLoader(tree)
  const { OfflineRowBuffer } = await load('engine/offline-row-buffer.ts')
  const { rowColumnsToTable, featureTableSchema } = await load('adapters/offline/iceberg/table-schemas.ts')
  const { parquetColumnsOf } = await load('adapters/offline/iceberg/iceberg-schema.ts')
  const { buildColumn } = await load('adapters/offline/parquet/arrow-columns.ts')
  const ex = await load('examples/features.ts')
  const agg = ex.userClicks.features[0].aggregation
  const features = [
    { name: 'n', type: 'long', aggregation: agg },
    { name: 'sum', type: 'double', aggregation: agg },
    { name: 'avg', type: 'double', aggregation: agg },
    { name: 'cnt', type: 'long', aggregation: agg },
  ]
  const view = { ...ex.userClicks, name: 'ab', version: 1, features }
  const columns = parquetColumnsOf(featureTableSchema(view))
  const buf = new OfflineRowBuffer(features.map((f) => f.type))
  for (let i = 0; i < 60_000; i++)
    buf.push(
      { entityKey: `user-${i % 5000}`, asOfMs: 1_700_000_000_000 + i * 37, values: [i, i * 1.5, i / 7, i % 100] },
      1_800_000_000_000 + i,
      String(1000 + i),
      0,
    )
  return () => {
    const cpu0 = process.cpuUsage()
    for (let k = 0; k < 5; k++) {
      const t = rowColumnsToTable(view, buf, (o: string, r: number) => Number(o) * 8 + r)
      for (const c of columns) buildColumn(c, t.columns[c.name] ?? new Array(t.rowCount).fill(null))
    }
    const u = process.cpuUsage(cpu0)
    return (u.user + u.system) / 1000
  }
}
const base = await version(process.env.KFS_AB_BASE)
const neu = await version(process.env.KFS_AB_NEW)
for (let i = 0; i < 3; i++) {
  base()
  neu()
}
const b: number[] = [],
  n: number[] = []
for (let r = 0; r < ROUNDS; r++) {
  if (r % 2 === 0) {
    b.push(base())
    n.push(neu())
  } else {
    n.push(neu())
    b.push(base())
  }
  console.log(`round ${r + 1} base_cpu_ms=${b.at(-1)!.toFixed(1)} new_cpu_ms=${n.at(-1)!.toFixed(1)}`)
}
console.log(abSummary(b, n))
