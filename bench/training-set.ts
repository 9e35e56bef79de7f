/**
 * Training-set build: 1,000,000 labels against 10,000,000 feature rows of one view (1M users,
 * 30 days), kfs `createTrainingSet` (labels Parquet in, Parquet out, tie-break by archive order,
 * TTL, snapshot pinning, registry record) vs DuckDB's plain ASOF JOIN over the same Parquet files
 * writing the same kind of output (`COPY … TO parquet`), in the same run, alternating, best of
 * KFS_BENCH_ROUNDS (default 5: on a shared 2-core machine a single round swings by ±40 %, and with
 * three a side can miss every quiet spell: single rounds of either side have swung 2–3× within one run).
 *
 * KFS_BENCH_SCALE (e.g. 0.05) scales labels, rows and users down for a quick run (_support/scale.ts).
 */
import { DuckDBInstance } from '@duckdb/node-api'
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { systemClock } from '../core/clock.ts'
import * as examples from '../examples/features.ts'
import { featureView } from '../features/index.ts'
import type { OfflineFeatureRow } from '../ports/offline.ts'
import { collectDefinitions, createRegistry } from '../registry/index.ts'
import { dataFilesOf, loadTable } from '../adapters/offline/iceberg/index.ts'
import { featureTablePath, IcebergOfflineSink } from '../adapters/offline/iceberg/offline-sink.ts'
import { LocalObjectStore } from '../adapters/object-store/index.ts'
import { encodeParquetColumns } from '../adapters/offline/parquet/index.ts'
import { createTrainingSet } from '../training/index.ts'
import { trainingAdapters } from '../main/offline-adapters.ts'
import { scaled } from './_support/scale.ts'

const LABELS = scaled(1_000_000, 10)
const ROWS = scaled(10_000_000, 100)
const USERS = scaled(1_000_000, 1)
const DAY_MS = 86_400_000
const DAYS = 30
const START_MS = Date.UTC(2024, 0, 1)
const BATCH = Math.min(ROWS, 1_000_000)
const ROUNDS = Math.max(1, Math.round(Number(process.env.KFS_BENCH_ROUNDS ?? '5')))

const view = featureView({
  name: 'bench_users',
  version: 1,
  entity: examples.user,
  source: examples.purchases,
  aggregations: [
    { op: 'count', windows: ['1h'] },
    { op: 'sum', field: 'amount', windows: ['1h'] },
  ],
  ttl: '30d',
  freshnessSla: '1m',
  owner: 'bench@example.com',
  description: 'training-set benchmark view',
})

let seed = 42
function rand(): number {
  seed = (seed + 0x6d2b79f5) >>> 0
  let t = seed
  t = Math.imul(t ^ (t >>> 15), t | 1)
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296
}

const dir = await mkdtemp(join(tmpdir(), 'kfs-bench-ts-'))
try {
  const store = new LocalObjectStore(join(dir, 'store'))
  const registry = createRegistry({ store, clock: systemClock })
  await registry.apply(collectDefinitions({ view }))
  await registry.setBackfillStatus(view.name, view.version, { state: 'complete' })

  // Feature rows: batch b covers a contiguous slice of the 30 days (so each commit writes a few
  // day files, as a live engine's would), written by the engine's own sink.
  const genStart = performance.now()
  const sink = new IcebergOfflineSink(store, { targetFileBytes: 64 * 1024 * 1024 })
  let offset = 0
  const batches = Math.ceil(ROWS / BATCH)
  for (let b = 0; b < batches; b++) {
    const n = Math.min(BATCH, ROWS - b * BATCH)
    const from = START_MS + (b / batches) * DAYS * DAY_MS
    const span = (DAYS * DAY_MS) / batches
    const rows: OfflineFeatureRow[] = new Array(n)
    for (let i = 0; i < n; i++) {
      const asOfMs = Math.floor(from + rand() * span)
      rows[i] = {
        entityKey: `u${Math.floor(rand() * USERS)}`,
        asOfMs,
        createdAtMs: asOfMs + 1000,
        values: [1 + Math.floor(rand() * 20), Math.round(rand() * 100_000) / 100],
        origin: { partition: 0, offset: String(offset++), seq: 0, marker: false },
      }
    }
    const staged = await sink.stageFeatureRows(view, rows)
    await sink.commit(featureTablePath(view), [staged], {}, {})
  }
  const table = await loadTable(store, featureTablePath(view))
  const files = (await dataFilesOf(table)).map((f) => f.filePath.slice('file://'.length))
  const genSeconds = (performance.now() - genStart) / 1000

  // Labels: user, label time spread over the same 30 days (+ a day), a binary label.
  const users: string[] = new Array(LABELS)
  const ts: number[] = new Array(LABELS)
  const label: number[] = new Array(LABELS)
  for (let i = 0; i < LABELS; i++) {
    users[i] = `u${Math.floor(rand() * USERS)}`
    ts[i] = Math.floor(START_MS + rand() * (DAYS + 1) * DAY_MS)
    label[i] = rand() < 0.1 ? 1 : 0
  }
  const labelsPath = join(dir, 'labels.parquet')
  const labelFile = await encodeParquetColumns(
    [
      { name: 'user_id', type: 'string', fieldId: 1, required: true },
      { name: 'ts', type: 'timestamptz', fieldId: 2, required: true },
      { name: 'label', type: 'long', fieldId: 3, required: true },
    ],
    [users, ts, label],
  )
  await writeFile(labelsPath, labelFile.bytes)
  process.stderr.write(`generated ${ROWS} feature rows in ${files.length} files and ${LABELS} labels in ${genSeconds.toFixed(1)} s\n`)

  async function runKfs(round: number): Promise<number> {
    const started = performance.now()
    await createTrainingSet({ store, registry, ...trainingAdapters(sink), labels: { path: labelsPath }, features: ['bench_users:count_1h', 'bench_users:amount_sum_1h'], output: join(dir, `kfs-${round}.parquet`), tempDir: dir })
    return (performance.now() - started) / 1000
  }

  async function runDuckDb(round: number): Promise<number> {
    const started = performance.now()
    const instance = await DuckDBInstance.create(':memory:', { temp_directory: join(dir, 'duck-spill') })
    const connection = await instance.connect()
    const list = files.map((f) => `'${f}'`).join(', ')
    await connection.run(`
COPY (
  SELECT l.*, f.count_1h AS bench_users__count_1h, f.amount_sum_1h AS bench_users__amount_sum_1h
  FROM read_parquet('${labelsPath}') l
  ASOF LEFT JOIN read_parquet([${list}], hive_partitioning = false) f ON l.user_id = f.entity_key AND l.ts >= f.as_of
) TO '${join(dir, `duck-${round}.parquet`)}' (FORMAT parquet, COMPRESSION zstd)`)
    connection.closeSync()
    instance.closeSync()
    return (performance.now() - started) / 1000
  }

  const ours: number[] = []
  const duck: number[] = []
  for (let round = 0; round < ROUNDS; round++) {
    duck.push(await runDuckDb(round))
    ours.push(await runKfs(round))
    process.stderr.write(`round ${round}: kfs ${ours[round]!.toFixed(2)} s, duckdb ${duck[round]!.toFixed(2)} s\n`)
  }
  const kfsSeconds = Math.min(...ours)
  const duckSeconds = Math.min(...duck)
  const outBytes = (await stat(join(dir, 'kfs-0.parquet'))).size
  console.log(
    `BENCH training-set seconds=${kfsSeconds.toFixed(2)} duckdb_seconds=${duckSeconds.toFixed(2)} ratio=${(kfsSeconds / duckSeconds).toFixed(3)} labels=${LABELS} feature_rows=${ROWS} files=${files.length} out_bytes=${outBytes}`,
  )
} finally {
  await rm(dir, { recursive: true, force: true })
}
