/**
 * What a long-running `kfs run` accumulates, measured in memory (docs/semantics.md §24, README
 * Operations): the cost of a table's data files (a file per checkpoint per partition: bytes, decode
 * time and heap per manifest entry, and a full merged manifest decoded and encoded, as a merge
 * does); a replay's cost per archive file against the same rows in one file; the embedded log's
 * in-memory index and open time per record (it keeps every record); and the re-key stage's row
 * index per row. One section per argument (default all):
 *
 *   node --expose-gc --import tsx bench/_support/soak-costs.ts [entries] [merge] [replay] [log] [rows]
 */
import { randomBytes, randomUUID } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { MemoryObjectStore } from '../../adapters/object-store/index.ts'
import { PartitionLog } from '../../adapters/event-log/embedded/partition-log.ts'
import { archiveColumns } from '../../adapters/offline/iceberg/archive-columns.ts'
import {
  createTable,
  dayPartitionSpec,
  writeDataFiles,
  type DataFile,
  type IcebergSchema,
  type IcebergTable,
} from '../../adapters/offline/iceberg/index.ts'
import { decodeManifest, encodeManifest, type ManifestEntry } from '../../adapters/offline/iceberg/manifests.ts'
import { IcebergOfflineSink } from '../../adapters/offline/iceberg/offline-sink.ts'
import { currentSchema, defaultSpec } from '../../adapters/offline/iceberg/table-metadata.ts'
import { RAW_ARCHIVE_PARTITION_SPEC, RAW_ARCHIVE_SCHEMA } from '../../adapters/offline/iceberg/table-schemas.ts'
import { RowGroupIndex } from '../../engine/rekey-row-index.ts'
import type { ArchiveRow } from '../../ports/offline.ts'

const T0 = 1_767_225_600_000
const FILES_A_WEEK_PER_PARTITION = 8_640 * 7
const sections = new Set(process.argv.slice(2))
const wanted = (name: string): boolean => sections.size === 0 || sections.has(name)
/** Heap and array buffers in use, after collecting (twice: array buffers are freed after a turn). */
async function heapNow(): Promise<number> {
  const gc = (globalThis as { gc?: () => void }).gc
  if (gc === undefined) throw new Error('run with node --expose-gc')
  gc()
  await new Promise((resolve) => setImmediate(resolve))
  gc()
  const m = process.memoryUsage()
  return m.heapUsed + m.arrayBuffers
}

/** A feature table's columns: keys, times, seq and six features. */
const FEATURE_SCHEMA: IcebergSchema = {
  type: 'struct',
  'schema-id': 0,
  fields: [
    { id: 1, name: 'entity_key', required: true, type: 'string' },
    { id: 2, name: 'as_of', required: true, type: 'timestamptz' },
    { id: 3, name: 'created_at', required: false, type: 'timestamptz' },
    { id: 4, name: 'seq', required: false, type: 'long' },
    { id: 5, name: 'user_id', required: false, type: 'long' },
    ...[6, 7, 8, 9, 10, 11].map((id) => ({ id, name: `f${id}`, required: false, type: 'double' as const })),
  ],
}

function archiveRows(from: number, n: number): ArchiveRow[] {
  return Array.from({ length: n }, (_, i) => ({
    partition: 0,
    offset: String(from + i),
    eventTimeMs: T0 + from + i,
    key: new TextEncoder().encode(`user-${(from + i) % 977}`),
    schemaId: 1,
    payload: new Uint8Array(120),
    markerWatermarkMs: null,
    timestampMs: T0 + from + i,
  }))
}

/** A checkpoint's data file of each kind, as the engine writes it (real statistics). */
async function sampleFile(kind: 'feature' | 'archive'): Promise<{ table: IcebergTable; file: DataFile }> {
  const store = new MemoryObjectStore()
  if (kind === 'feature') {
    const table = await createTable(store, 'wh/f', {
      schema: FEATURE_SCHEMA,
      partitionSpec: dayPartitionSpec(FEATURE_SCHEMA, 'as_of'),
    })
    const rows = Array.from({ length: 200 }, (_, i) => ({
      entity_key: `user-${i}`,
      as_of: T0 + i * 50,
      created_at: T0 + i * 50,
      seq: BigInt(i) << 21n,
      user_id: BigInt(i),
      f6: i * 1.5,
      f7: i,
      f8: null,
      f9: i / 3,
      f10: 2,
      f11: -i,
    }))
    return { table, file: (await writeDataFiles(table, rows))[0]! }
  }
  const table = await createTable(store, 'wh/a', { schema: RAW_ARCHIVE_SCHEMA, partitionSpec: RAW_ARCHIVE_PARTITION_SPEC })
  const rows = archiveRows(1_000_000, 200)
  return { table, file: (await writeDataFiles(table, { rowCount: rows.length, columns: await archiveColumns(rows) }))[0]! }
}

const randomBounds = (m: ReadonlyMap<number, Uint8Array> | undefined): Map<number, Uint8Array> | undefined =>
  m === undefined ? undefined : new Map([...m].map(([k, v]) => [k, new Uint8Array(randomBytes(v.length))]))

/** `n` entries like `file`'s, each with its own path, counts and bounds (as a table's checkpoints are). */
function entriesLike(file: DataFile, n: number): ManifestEntry[] {
  return Array.from({ length: n }, (_, i) => ({
    status: 0,
    snapshotId: BigInt(i + 1),
    sequenceNumber: BigInt(i + 1),
    fileSequenceNumber: BigInt(i + 1),
    dataFile: {
      ...file,
      filePath: file.filePath.replace(/[0-9a-f-]{36}/, randomUUID()),
      recordCount: 100 + (i % 977),
      lowerBounds: randomBounds(file.lowerBounds),
      upperBounds: randomBounds(file.upperBounds),
    },
  }))
}

/** Bytes, decode time and heap of a manifest entry, and what a week of checkpoint files makes of them. */
async function measureEntries(kind: 'feature' | 'archive'): Promise<void> {
  const { table, file } = await sampleFile(kind)
  const spec = defaultSpec(table.metadata)
  const n = 20_000
  const bytes = encodeManifest(currentSchema(table.metadata), spec, entriesLike(file, n))
  const before = await heapNow()
  const t = performance.now()
  const decoded = decodeManifest(bytes, spec)
  const decodeUs = ((performance.now() - t) * 1000) / n
  const heap = ((await heapNow()) - before) / decoded.length
  const perEntry = bytes.length / n
  console.log(
    `soak-costs entries kind=${kind} bytes_per_entry=${perEntry.toFixed(0)} decode_us_per_entry=${decodeUs.toFixed(0)} heap_bytes_per_entry=${heap.toFixed(0)}`,
  )
  for (const partitions of [4, 16, 32]) {
    const files = FILES_A_WEEK_PER_PARTITION * partitions
    const read = `a full read ${((files * decodeUs) / 1e6).toFixed(0)} s and ${((files * heap) / 1e9).toFixed(1)} GB`
    console.log(
      `  a week of ${partitions} partitions: ${files} files, manifests ${((files * perEntry) / 1e6).toFixed(0)} MB, ${read}`,
    )
  }
}

/** A manifest as large as the merge target (commit.manifest.target-size-bytes, 8 MiB) decoded and encoded, as each merge does. */
async function measureMerge(kind: 'feature' | 'archive'): Promise<void> {
  const { table, file } = await sampleFile(kind)
  const [schema, spec] = [currentSchema(table.metadata), defaultSpec(table.metadata)]
  const probe = encodeManifest(schema, spec, entriesLike(file, 2_000))
  const n = Math.floor((8 * 1024 * 1024 * 2_000) / probe.length)
  const bytes = encodeManifest(schema, spec, entriesLike(file, n))
  let t = performance.now()
  const entries = decodeManifest(bytes, spec)
  const decodeMs = performance.now() - t
  t = performance.now()
  encodeManifest(schema, spec, entries)
  console.log(
    `soak-costs merge kind=${kind} entries=${n} decode_ms=${decodeMs.toFixed(0)} encode_ms=${(performance.now() - t).toFixed(0)}`,
  )
}

/** One archive partition replayed from a file per checkpoint, and from the same rows in one file. */
async function measureReplay(): Promise<void> {
  const files = 1_000
  const rowsPerFile = 50
  for (const layout of ['per-checkpoint', 'compacted'] as const) {
    const sink = new IcebergOfflineSink(new MemoryObjectStore(), { parquetWorker: false })
    const id = sink.tableId({ kind: 'archive', topic: 'clicks' })
    const staged = []
    if (layout === 'compacted') staged.push(await sink.stageArchiveRows('clicks', archiveRows(0, files * rowsPerFile)))
    else
      for (let f = 0; f < files; f++)
        staged.push(await sink.stageArchiveRows('clicks', archiveRows(f * rowsPerFile, rowsPerFile)))
    await sink.commit(id, staged, { 'g/clicks/0': 1 }, {})
    const t = performance.now()
    let rows = 0
    for await (const batch of sink.readArchiveBatches('clicks', 0)) rows += batch.length
    console.log(`soak-costs replay layout=${layout} rows=${rows} files=${staged.length} ms=${(performance.now() - t).toFixed(0)}`)
  }
}

/** The embedded log's open time and in-memory index per record, for two million 150-byte records. */
async function measureLog(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'kfs-soak-'))
  try {
    const options = { segmentBytes: 64 * 1024 * 1024, fsync: false }
    const log = PartitionLog.open(join(dir, 'p0'), options)
    const batch = Array.from({ length: 1_000 }, (_, i) => ({
      key: new TextEncoder().encode(`user-${i}`),
      value: new Uint8Array(120),
      headers: {},
      timestampMs: T0,
    }))
    for (let n = 0; n < 2_000_000; n += batch.length) log.append(batch)
    log.close()
    const before = await heapNow()
    const t = performance.now()
    const reopened = PartitionLog.open(join(dir, 'p0'), options)
    const ns = ((performance.now() - t) * 1e6) / reopened.endOffset
    const index = ((await heapNow()) - before) / reopened.endOffset
    console.log(
      `soak-costs log records=${reopened.endOffset} open_ns_per_record=${ns.toFixed(0)} index_bytes_per_record=${index.toFixed(1)}`,
    )
    reopened.close()
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

/** The re-key stage's row index per row held. */
async function measureRows(): Promise<void> {
  const n = 500_000
  const before = await heapNow()
  const index = new RowGroupIndex()
  for (let i = 0; i < n; i++)
    index.apply({ pk: `order-${1_000_000 + i}`, kind: 'upsert', to: `customer-${i % 50_000}`, byIndex: true }, T0 + i)
  index.takeWrites()
  console.log(`soak-costs rows rows=${index.size} bytes_per_row=${(((await heapNow()) - before) / n).toFixed(0)}`)
}

for (const kind of ['feature', 'archive'] as const) if (wanted('entries')) await measureEntries(kind)
for (const kind of ['feature', 'archive'] as const) if (wanted('merge')) await measureMerge(kind)
if (wanted('replay')) await measureReplay()
if (wanted('log')) await measureLog()
if (wanted('rows')) await measureRows()
