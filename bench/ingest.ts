/**
 * `npm run bench -- ingest [--rows N]` (default 1,000,000 × KFS_BENCH_SCALE): `kfs ingest` throughput of a table
 * snapshot on the embedded defaults (local event log with its default fsync, local schema
 * registry) against a bare Parquet scan of the same file (the ParquetCodec decoding every column
 * to JS values, nothing else), both in this run.
 *
 * The snapshot is generated first: N accounts (one row each, a primary key, an event time within
 * a day, a double, a nullable string and long). Ingest = read the file, read the (empty) log,
 * plan, encode and append N change envelopes. A second ingest of the same file (the log read
 * whole, nothing appended) is reported as reingest_rows_per_s.
 *
 * KFS_BENCH_PROFILE=<dir> (or KFS_BENCH_ALLOC_PROFILE): a profile of the first ingest only
 * (./_support/profile.ts). For an A/B of two versions in one process, ./_support/ingest-ab.ts.
 *
 * BENCH ingest rows=… ingest_rows_per_s=… scan_rows_per_s=… ratio=… reingest_rows_per_s=… rss_mb=…
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { EmbeddedEventLog } from '../adapters/event-log/embedded/index.ts'
import { createParquetCodec } from '../adapters/offline/parquet/parquet-codec.ts'
import { EmbeddedSchemaRegistry } from '../adapters/schema-registry/embedded/embedded-schema-registry.ts'
import { createFileTableReader } from '../adapters/tables/file-table-reader.ts'
import { ingestSnapshot } from '../ingest/ingest-snapshot.ts'
import { declaredTableColumns } from '../ingest/row-columns.ts'
import { createDecoder } from '../schemas/decoder.ts'
import { createEncoder } from '../schemas/encoder.ts'
import { accountRowSchema as rowSchema, accountSource as source, writeAccountSnapshot } from './_support/ingest-workload.ts'
import { startProfile } from './_support/profile.ts'
import { benchLine, progress } from './_support/report.ts'
import { scaled } from './_support/scale.ts'

function rowsArg(): number {
  const i = process.argv.findIndex((a) => a === '--rows' || a.startsWith('--rows='))
  if (i < 0) return scaled(1_000_000, 10)
  const raw = process.argv[i]!.includes('=') ? process.argv[i]!.split('=')[1] : process.argv[i + 1]
  const n = Number(raw)
  if (!Number.isSafeInteger(n) || n < 1) throw new Error(`--rows ${raw}: expected a whole number ≥ 1`)
  return n
}

const ROWS = rowsArg()
const dir = mkdtempSync(join(tmpdir(), 'kfs-bench-ingest-'))
try {
  const codec = createParquetCodec()
  const file = join(dir, 'accounts.parquet')
  await writeAccountSnapshot(codec, ROWS, file)
  progress(`snapshot: ${ROWS} rows written to ${file}`)

  // Warm parquet-wasm (its first call in a process is slower), then the bare scan.
  const bytes = await readFile(file)
  for await (const _ of codec.readBatches(bytes)) break
  let t = performance.now()
  let scanned = 0
  for await (const batch of codec.readBatches(bytes)) scanned += batch.numRows
  const scanMs = performance.now() - t
  const scanRate = (scanned / scanMs) * 1000
  progress(`baseline: Parquet scan, ${scanned} rows in ${scanMs.toFixed(0)} ms (${scanRate.toFixed(0)}/s)`)

  const log = new EmbeddedEventLog({ dir: join(dir, 'log') })
  const registry = new EmbeddedSchemaRegistry({ dir: join(dir, 'schemas') })
  const deps = {
    log,
    reader: createFileTableReader({ parquet: codec, columns: declaredTableColumns(rowSchema), cwd: dir }),
    encoder: await createEncoder({ registry, subject: `${source.topic}-value`, schema: source.schema }),
    decoder: createDecoder({ registry, readerSchema: source.schema }),
  }
  const stopProfile = await startProfile('ingest')
  t = performance.now()
  // When the snapshot was read (and fed to the planner): the rest is plan, encode and append.
  let readDone = t
  const first = await ingestSnapshot(deps, { source, onProgress: (p) => p.phase === 'read' && (readDone = performance.now()) })
  const ingestMs = performance.now() - t
  await stopProfile()
  progress(`ingest phases: read and judge ${(readDone - t).toFixed(0)} ms, order, encode and append ${(t + ingestMs - readDone).toFixed(0)} ms`)
  if (first.appended !== ROWS) throw new Error(`ingest appended ${first.appended} of ${ROWS} rows`)
  const ingestRate = (ROWS / ingestMs) * 1000
  progress(`ingest: ${first.appended} appended in ${ingestMs.toFixed(0)} ms (${ingestRate.toFixed(0)}/s)`)

  t = performance.now()
  const again = await ingestSnapshot(deps, { source })
  const reMs = performance.now() - t
  if (again.appended !== 0 || again.unchanged !== ROWS) throw new Error(`re-ingest appended ${again.appended}, unchanged ${again.unchanged}`)
  const reRate = (ROWS / reMs) * 1000
  progress(`re-ingest: log read whole (${again.logRecords} records), nothing appended, ${reMs.toFixed(0)} ms (${reRate.toFixed(0)}/s)`)
  await log.close()
  benchLine('ingest', {
    rows: ROWS,
    ingest_rows_per_s: ingestRate,
    scan_rows_per_s: scanRate,
    ratio: ingestRate / scanRate,
    reingest_rows_per_s: reRate,
    // Peak resident set of the whole run (maxRSS is in KiB).
    rss_mb: Math.round(process.resourceUsage().maxRSS / 1024),
  })
} finally {
  rmSync(dir, { recursive: true, force: true })
}
