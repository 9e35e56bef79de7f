/**
 * `kfs skew-report`: training–serving skew, measured. Every record of the served-feature log
 * (what `kfs serve` answered, serving/served-log/) is joined with the offline rows of its view for
 * its entity at its served-at time, and each served value is compared with the joined one
 * (training/skew-stats.ts has the arithmetic).
 *
 * Steps
 * 1. Read the served log from its topic's raw archive (the archive table `kfs run` fills like any
 *    source's), pinned at the archive's current snapshot; markers are skipped. Reading the archive,
 *    not the topic, makes a report repeatable and needs no broker — but it covers what the engine
 *    has archived so far: run `kfs run` (e.g. `--until-caught-up`) first.
 * 2. Decode each record (the registry's schema ids); an undecodable or malformed record, a view
 *    or a feature the registry does not know, is counted as skipped, never compared.
 * 3. Per view version: plan the feature refs with the training-set planner, pin the view's table,
 *    and let the training-set joiner fetch each record's row in *as-served* mode — among the rows
 *    with created_at ≤ served-at, the one the online store's conditional write keeps (greatest
 *    (as_of, created_at, seq)), its values only if as_of > served-at − ttl. This is the same join
 *    `kfs training-set --as-served` runs (ports/point-in-time-joiner.ts); no second join exists.
 * 4. Compare per (view, feature): exact-match %, mean and p99 of |served − offline|.
 *
 * Zero skew is expected by construction; what can make it non-zero is listed in the README
 * (rows that reached Redis after their created_at stamp while a request read, the hot-key cache,
 * a view served before its backfill completed, or a tampered log).
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { FeatureRowReader } from '../ports/feature-rows.ts'
import type { ArchiveReader } from '../ports/offline.ts'
import type { ParquetCodec } from '../ports/parquet-codec.ts'
import type { LabelSource, PointInTimeJoiner } from '../ports/point-in-time-joiner.ts'
import type { Registry } from '../registry/index.ts'
import type { Decoder } from '../schemas/decoder.ts'
import { featureMessageJson } from '../core/feature-json.ts'
import { fromServedEvent, viewRef, type ServedRecord } from '../serving/served-log/served-record.ts'
import { planTrainingSet } from './plan.ts'
import { FeatureSkewCounter, type FeatureSkew } from './skew-stats.ts'

export interface SkewReportOptions {
  /** The served log's archive, and the views' feature tables. */
  readonly offline: ArchiveReader & FeatureRowReader
  readonly registry: Registry
  /** Decoder of the served-log topic (reader schema: schemas/avro/served-features.avsc). */
  readonly decoder: Decoder
  readonly topic: string
  /** Only records served at or after / before these instants (epoch ms). */
  readonly fromMs?: number
  readonly untilMs?: number
  /** Only these view names. */
  readonly views?: readonly string[]
  readonly tempDir?: string
  /** Writes the served records as the joiner's label file. */
  readonly parquet: ParquetCodec
  /** The join engine (the training sets' own); `tempDir` is the report's, removed after it. */
  readonly createJoiner: (tempDir: string) => Promise<PointInTimeJoiner>
}

export interface SkewReport {
  readonly topic: string
  /** Archive snapshot read (null: the topic has no archive yet). */
  readonly archiveSnapshotId: string | null
  /** Served records compared (after filters). */
  readonly records: number
  readonly skipped: {
    readonly undecodable: number
    readonly malformed: number
    readonly unknownView: number
    readonly unknownFeature: number
    /** Lookups of views with offline: false: no offline rows to compare with (planTrainingSet refuses them). */
    readonly noOfflineStore: number
    /** Copies of a lookup already read: the log delivers at least once (docs/semantics.md §21). */
    readonly duplicates: number
  }
  /** Per (view, feature), sorted by view then feature. */
  readonly features: readonly FeatureSkew[]
  /** Offline table snapshot read per view. */
  readonly snapshots: Readonly<Record<string, string | null>>
}

export async function createSkewReport(options: SkewReportOptions): Promise<SkewReport> {
  const skipped = { undecodable: 0, malformed: 0, unknownView: 0, unknownFeature: 0, noOfflineStore: 0, duplicates: 0 }
  const { records, snapshotId } = await readServedLog(options, skipped)
  const byView = new Map<string, ServedRecord[]>()
  for (const r of records) {
    const ref = viewRef(r.viewName, r.viewVersion)
    const list = byView.get(ref)
    if (list) list.push(r)
    else byView.set(ref, [r])
  }
  const temp = await mkdtemp(join(options.tempDir ?? tmpdir(), 'kfs-skew-'))
  const counters: FeatureSkewCounter[] = []
  const snapshots: Record<string, string | null> = {}
  let compared = 0
  try {
    const joiner = await options.createJoiner(temp)
    try {
      for (const [ref, served] of [...byView].sort(([a], [b]) => (a < b ? -1 : 1))) {
        const stored = await options.registry.getView(served[0]!.viewName, served[0]!.viewVersion)
        if (stored === undefined) {
          skipped.unknownView += served.length
          continue
        }
        if (!stored.metadata.offline) {
          skipped.noOfflineStore += served.length
          continue
        }
        const known = new Set(stored.logic.features.map((f) => f.name))
        const names = [...new Set(served.flatMap((r) => r.features))].filter((f) => known.has(f)).sort()
        skipped.unknownFeature += served.reduce((n, r) => n + r.features.filter((f) => !known.has(f)).length, 0)
        if (names.length === 0) continue
        const plan = await planTrainingSet(options.registry, { refs: names.map((f) => `${ref}:${f}`) })
        const view = plan.views[0]!
        const pinned = await options.offline.pinFeatureFiles(view, { snapshotId: undefined, tempDir: temp })
        snapshots[ref] = pinned.snapshotId
        const labels = await writeServedLabels(options.parquet, served, join(temp, `labels-${counters.length}.parquet`))
        const fetched = await joiner.fetch(labels, { files: pinned.files, features: view.features, ttlMs: view.ttlMs, asServed: true, keyColumn: '__kfs_k0' })
        const column = new Map(view.features.map((f, i) => [f.name, { values: fetched[i]!, counter: new FeatureSkewCounter(ref, f.name, f.type === 'long' || f.type === 'double') }]))
        served.forEach((record, row) => {
          record.features.forEach((name, i) => {
            const c = column.get(name)
            if (c) c.counter.add(record.values[i] ?? null, c.values[row] ?? null)
          })
        })
        compared += served.length
        for (const name of names) counters.push(column.get(name)!.counter)
      }
    } finally {
      await joiner.close()
    }
  } finally {
    await rm(temp, { recursive: true, force: true })
  }
  return { topic: options.topic, archiveSnapshotId: snapshotId, records: compared, skipped, features: counters.map((c) => c.result()), snapshots }
}

async function readServedLog(
  options: SkewReportOptions,
  skipped: { undecodable: number; malformed: number; duplicates: number },
): Promise<{ records: ServedRecord[]; snapshotId: string | null }> {
  const end = await options.offline.archiveEnd(options.topic)
  const records: ServedRecord[] = []
  const seen = new ServedCopies()
  if (end.snapshotId === null) return { records, snapshotId: null }
  const only = options.views === undefined ? undefined : new Set(options.views)
  for (const partition of Object.keys(end.nextOffsets).map(Number).sort((a, b) => a - b)) {
    let chunk: (Uint8Array | null)[] = []
    const decodeChunk = async () => {
      for (const result of await options.decoder.decodeBatch(chunk)) {
        if (!result.ok) {
          skipped.undecodable++
          continue
        }
        const record = fromServedEvent(result.event)
        if (record === undefined) {
          skipped.malformed++
          continue
        }
        if (options.fromMs !== undefined && record.servedAtMs < options.fromMs) continue
        if (options.untilMs !== undefined && record.servedAtMs >= options.untilMs) continue
        if (only !== undefined && !only.has(record.viewName)) continue
        if (seen.isCopy(record)) {
          skipped.duplicates++
          continue
        }
        records.push(record)
      }
      chunk = []
    }
    for await (const row of options.offline.readArchive(options.topic, partition, { snapshotId: end.snapshotId })) {
      if (row.markerWatermarkMs !== null) continue
      chunk.push(row.payload)
      if (chunk.length >= 10_000) await decodeChunk()
    }
    await decodeChunk()
  }
  return { records, snapshotId: end.snapshotId }
}

/**
 * A lookup's copies, told apart from lookups. A copy has the same request id, view, entity key and
 * served-at (docs/semantics.md §21) *and* the same answer: two records that share those four fields
 * but differ in what they say were not one lookup delivered twice (a client reusing a request id
 * within a millisecond, or a tampered log), so both are compared, never one silently kept.
 */
class ServedCopies {
  readonly #answers = new Map<string, string[]>()

  isCopy(record: ServedRecord): boolean {
    const lookup = JSON.stringify([record.requestId, viewRef(record.viewName, record.viewVersion), record.entityKey, record.servedAtMs])
    // The values as the log wrote them (a double -0 stays -0, which JSON.stringify would not keep).
    const answer = JSON.stringify([record.status, record.asOfMs, record.features]) + featureMessageJson(record.values)
    const answers = this.#answers.get(lookup)
    if (answers === undefined) {
      this.#answers.set(lookup, [answer])
      return false
    }
    if (answers.includes(answer)) return true
    answers.push(answer)
    return false
  }
}

/** The served records as the joiner's label rows: served-at is the label time, the entity key as logged. */
async function writeServedLabels(parquet: ParquetCodec, records: readonly ServedRecord[], path: string): Promise<LabelSource> {
  const bytes = await parquet.encode(
    [
      { name: 'served_at_ms', type: 'long', required: true },
      { name: 'entity_key', type: 'string', required: true },
    ],
    [records.map((r) => r.servedAtMs), records.map((r) => r.entityKey)],
    { compression: 'none' },
  )
  await writeFile(path, bytes)
  return {
    kind: 'derived',
    labels: path,
    timeUs: 'CAST("served_at_ms" AS BIGINT) * 1000',
    keys: { __kfs_k0: `NULLIF("entity_key", '')` },
    rowCount: records.length,
  }
}

/** Features whose exact-match % is below `minMatchPct` (a feature with nothing compared never fails). */
export function failingFeatures(report: SkewReport, minMatchPct: number): FeatureSkew[] {
  return report.features.filter((f) => f.exactMatchPct !== null && f.exactMatchPct < minMatchPct)
}
