/**
 * The offline ports over Iceberg tables in an object store — the engine's sink and archive reader
 * (ports/offline.ts), the feature-row reader (ports/feature-rows.ts) and compaction
 * (ports/offline-compaction.ts): `warehouse/features/<view>_v<version>` per view version and
 * `warehouse/archive/<topic>` per source topic. Contract suite: test/contracts/offline.ts.
 *
 * Exactly-once hinges on two things here: staged files are plain Parquet objects no snapshot
 * references until `commit`; and each commit records `kfs.ckpt.<topic>/<partition> = seq` in its
 * summary, so a checkpoint rolled forward twice (crash after commit, before the next checkpoint)
 * is recognised and skipped — under the table's optimistic-concurrency retry too (`skipIf`).
 */
import type { FeatureRow, FeatureViewDef } from '../../../features/types.ts'
import type { FeatureRowReader, FeatureRowsOptions, FeatureTableStats, LatestFeatureRows, LatestFeatureRowsOptions, PinnedFeatureFiles } from '../../../ports/feature-rows.ts'
import { isOfflineRowArray, type ArchiveRow, type ArchiveRows, type OfflineRows, type OfflineSink, type OfflineSnapshot, type OfflineTable, type StagedFiles, type ViewVersion } from '../../../ports/offline.ts'
import type { ArchiveCompaction, CompactionSummary, ExpirySummary, OfflineCompactor, OrphanRemoval, OrphanRemovalSummary, SnapshotRetention } from '../../../ports/offline-compaction.ts'
import type { ObjectStore } from '../../../ports/object-store.ts'
import type { SnapshotLog, SnapshotLogReader } from '../../../ports/snapshot-log.ts'
import { readSnapshotLog } from './snapshot-log.ts'
import { accumulateRowsThrough, OFFSET_PREFIX, ROWS_THROUGH_PREFIX } from './rows-through.ts'
import { appendParts } from './append-files.ts'
import { commitRequest, LARGEST_ROW_INDEX, MARKER_PREFIX, TIE_FREE_STAGING, type CommitRequest } from './commit-request.ts'
import { GroupCommits, type AfterCommit } from './group-commit.ts'
import { earliestDeadline, type Deadline } from '../../../core/deadline.ts'
import { compactPartitions } from './compaction.ts'
import { compactArchiveTable } from './archive-compaction.ts'
import { loadTableOrNone } from './damaged-table.ts'
import { writeDataFiles } from './data-file-writer.ts'
import { FeatureTableStatsCache, featureTableStatsOf, readFeatureRowsByEntity } from './feature-rows.ts'
import { readLatestFeatureRowsOf } from './latest-feature-rows.ts'
import { createTable, keyOfTableUri, loadTableIfExists, refreshTable, type IcebergTable } from './iceberg-table.ts'
import { JOIN_KEYS_PROPERTY } from './join-key-columns.ts'
import { serializeDataFile, stagedFileUris, type Json } from './staged-data-files.ts'
import { removeOrphanFiles } from './orphan-files.ts'
import { pinTable } from './pinned-files.ts'
import { expireSnapshots } from './snapshot-expiry.ts'
import { ExpiryScheduler, type AutomaticExpiry } from './automatic-expiry.ts'
import { archiveCompaction, featureTableCompaction, type CompactionScheduler } from './automatic-compaction.ts'
import { archiveTablePath, checkArchiveTopic, featureTablePath } from './table-paths.ts'
import { archiveColumns } from './archive-columns.ts'
import { archiveNextOffsets, readArchivePartitionBatches } from './archive-reader.ts'
import { currentSnapshot, type TableMetadata } from './table-metadata.ts'
import { largestRowIndex, tieFreeCheckWorthIt, tieFreeRange, writerFactsSummary, type TieFreeStaging } from './writer-facts.ts'
import { featureRowsToColumnsSteps, featureTablePartitionSpec, featureTableSchema, RAW_ARCHIVE_PARTITION_SPEC, RAW_ARCHIVE_SCHEMA, rowColumnsToTable } from './table-schemas.ts'
import { randomUUID } from 'node:crypto'
import type { Clock } from '../../../core/clock.ts'
import { FeatureStoreError, RetriesExhaustedError } from '../../../core/errors.ts'
import { createYielder, runStepsYielding } from '../../../core/event-loop.ts'

export { archiveTablePath, featureTablePath }

/** Summary keys read as a maximum over all snapshots, which expiry folds into the snapshots it keeps. */
export const CARRIED_PREFIXES = [MARKER_PREFIX, ROWS_THROUGH_PREFIX, OFFSET_PREFIX]

/**
 * The staging's tie-free record (writer-facts.ts), or undefined when its rows tie or the table
 * (as this sink last saw it) could not keep the fact anyway — then the per-row check is skipped.
 */
function tieFreeStagingOf(summary: Readonly<Record<string, string>> | undefined, rows: OfflineRows): TieFreeStaging | undefined {
  if (rows.length === 0) return undefined
  let minMs = Infinity
  if (isOfflineRowArray(rows)) for (const r of rows) minMs = Math.min(minMs, r.asOfMs)
  else {
    // Read once: the row buffer's getter makes a new view each time (a typed array a row).
    const asOf = rows.asOfMs
    for (let i = 0; i < asOf.length; i++) minMs = Math.min(minMs, asOf[i]!)
  }
  if (!tieFreeCheckWorthIt(summary, minMs)) return undefined
  const range = tieFreeRange(rows)
  return range === undefined ? undefined : { staging: randomUUID(), ...range }
}

import { archiveSeq, archiveSeqOf } from './archive-seq.ts'
export { archiveSeq, archiveSeqOf }

export interface IcebergOfflineSinkOptions {
  readonly targetFileBytes?: number
  /** Back-off of commit retries (lost races, store errors); the system clock by default. */
  readonly clock?: Clock
  /** Attempts of each append's table commit before it gives up (default iceberg-table.ts's); the engine's checkpoint retries nest outside. */
  readonly commitAttempts?: number
  /** Encode Parquet on the shared worker thread (default true); false: in-process, same bytes. */
  readonly parquetWorker?: boolean
  /**
   * The bound of `store`'s own retries, when its calls are retried already (`kfs compact`'s store,
   * main/runtime.ts): a compaction's commit then asks again at most this often, and ends at once on
   * a call that ran out of its own retries — not bound × bound attempts.
   */
  readonly storeRetryAttempts?: number
  /** Expire each table's old snapshots every so many commits of this sink (absent: never; `kfs run`'s, main/runtime.ts). */
  readonly snapshotExpiry?: AutomaticExpiry
  /** Compact old day partitions of the feature tables and old archive files in the background after commits (absent: never; `kfs run`'s, main/runtime.ts). */
  readonly automaticCompaction?: CompactionScheduler
}

export class IcebergOfflineSink implements OfflineSink, FeatureRowReader, OfflineCompactor, SnapshotLogReader {
  readonly #store: ObjectStore
  readonly #tables = new Map<string, Promise<IcebergTable>>()
  readonly #views = new Map<string, FeatureViewDef>()
  readonly #options: IcebergOfflineSinkOptions
  readonly #groups = new GroupCommits<CommitRequest>((tableId, group) => this.#commitGroup(tableId, group))
  readonly #expiry: ExpiryScheduler | undefined
  readonly #tableStats = new FeatureTableStatsCache()

  constructor(store: ObjectStore, options: IcebergOfflineSinkOptions = {}) {
    this.#store = store
    this.#options = options
    this.#expiry = options.snapshotExpiry === undefined ? undefined : new ExpiryScheduler(options.snapshotExpiry, { carriedPrefixes: CARRIED_PREFIXES, clock: options.clock })
  }

  tableId(table: OfflineTable): string {
    return table.kind === 'feature' ? featureTablePath(table.view) : archiveTablePath(table.topic)
  }

  /** Opens (or creates) a feature view's table; exported for replay and training sets. */
  featureTable(view: FeatureViewDef): Promise<IcebergTable> {
    const id = featureTablePath(view)
    this.#views.set(id, view)
    return this.#open(id, () => {
      const schema = featureTableSchema(view)
      const properties = { 'kfs.view': view.name, 'kfs.version': String(view.version), [JOIN_KEYS_PROPERTY]: view.entity.joinKeys.join(',') }
      return { schema, partitionSpec: featureTablePartitionSpec(schema), properties }
    })
  }

  archiveTable(topic: string): Promise<IcebergTable> {
    const opened = this.#open(archiveTablePath(topic), () => ({
      schema: RAW_ARCHIVE_SCHEMA,
      partitionSpec: RAW_ARCHIVE_PARTITION_SPEC,
      properties: { 'kfs.topic': topic },
    }))
    return opened.then((table) => checkArchiveTopic(table, topic))
  }

  #open(id: string, make: () => Parameters<typeof createTable>[2]): Promise<IcebergTable> {
    let table = this.#tables.get(id)
    if (table === undefined) {
      table = (async () => {
        // Files but no metadata that can be found: a damaged table, refused — never an empty one
        // created over it (its history would read as gone).
        const existing = await loadTableOrNone(this.#store, id)
        if (existing) return existing
        try {
          return await createTable(this.#store, id, make())
        } catch (err: unknown) {
          if (err instanceof FeatureStoreError && err.code === 'OBJECT_EXISTS') {
            const raced = await loadTableIfExists(this.#store, id)
            if (raced) return raced
          }
          throw err
        }
      })()
      this.#tables.set(id, table)
      table.catch(() => this.#tables.delete(id))
    }
    return table
  }

  async stageFeatureRows(view: FeatureViewDef, rows: OfflineRows): Promise<StagedFiles> {
    const table = await this.featureTable(view)
    // A live engine stages on its event loop: converting rows given as objects lets online writes
    // run now and then; the engine's own buffers are columns already (a loop per column, no pauses).
    const columns = isOfflineRowArray(rows) ? await runStepsYielding(featureRowsToColumnsSteps(view, rows, (r) => archiveSeqOf(r.origin)), createYielder(4)) : rowColumnsToTable(view, rows, archiveSeq)
    const files = await writeDataFiles(table, columns, this.#writeOptions())
    // What the commit needs to keep the table's writer facts (writer-facts.ts).
    const largest = largestRowIndex(rows)
    const tieFree = tieFreeStagingOf(currentSnapshot(table.metadata)?.summary, rows)
    return {
      table: table.path,
      files: files.map((f) => ({ ...(serializeDataFile(f, keyOfTableUri(table, f.filePath)) as Record<string, Json>), [LARGEST_ROW_INDEX]: largest, ...(tieFree === undefined ? {} : { [TIE_FREE_STAGING]: { ...tieFree } }) })),
      rowCount: rows.length,
    }
  }

  async stageArchiveRows(topic: string, rows: ArchiveRows): Promise<StagedFiles> {
    const table = await this.archiveTable(topic)
    const columns = await archiveColumns(rows)
    const files = await writeDataFiles(table, { rowCount: rows.length, columns }, this.#writeOptions())
    return { table: table.path, files: files.map((f) => serializeDataFile(f, keyOfTableUri(table, f.filePath))), rowCount: rows.length }
  }

  #writeOptions() {
    const { targetFileBytes, parquetWorker } = this.#options
    return { ...(targetFileBytes === undefined ? {} : { targetFileBytes }), ...(parquetWorker === undefined ? {} : { parquetWorker }) }
  }

  async #tableById(tableId: string): Promise<IcebergTable> {
    const cached = this.#tables.get(tableId)
    if (cached) return cached
    const loaded = await loadTableOrNone(this.#store, tableId)
    if (!loaded) throw new FeatureStoreError('NOT_FOUND', `table ${tableId} does not exist`)
    return loaded
  }

  /**
   * Commits to one table are grouped within this sink (group-commit.ts): they would only conflict
   * with each other, and each would write the table's metadata again. The table is refreshed from
   * the version this sink last saw (one probe), and a request whose markers it already holds writes
   * nothing. A request that cannot be read (its staged files, its summary) fails alone.
   */
  commit(
    tableId: string,
    staged: readonly StagedFiles[],
    markers: Readonly<Record<string, number>>,
    summary: Readonly<Record<string, string>>,
    options: { readonly until?: Deadline } = {},
  ): Promise<void> {
    let request: CommitRequest
    try {
      request = { ...commitRequest(staged, markers, summary, (key) => this.#store.uriOf(key)), until: options.until }
    } catch (err: unknown) {
      return Promise.reject(err)
    }
    return this.#groups.commit(tableId, request)
  }

  async #expireQuietly(tableId: string): Promise<void> {
    const expired = await this.#expiry!.run(tableId, () => this.#tableById(tableId))
    if (expired !== undefined) this.#tables.set(tableId, Promise.resolve(expired))
  }

  /** Commits a group of requests in one snapshot; what the commit made due (the table's automatic expiry). */
  async #commitGroup(tableId: string, group: readonly CommitRequest[]): Promise<AfterCommit> {
    const table = await refreshTable(await this.#tableById(tableId))
    const landing = group.filter((request) => !request.held(table.metadata))
    if (landing.length === 0) {
      this.#tables.set(tableId, Promise.resolve(table))
      return undefined
    }
    const { clock, commitAttempts } = this.#options
    // A feature table's writer facts, carried forward from the snapshot this commit follows.
    const isFeatureTable = table.metadata.properties['kfs.view'] !== undefined
    const sharedExtras = (base: TableMetadata, parts: readonly CommitRequest[]): Record<string, string> =>
      isFeatureTable
        ? writerFactsSummary(
            currentSnapshot(base)?.summary,
            parts.flatMap((p) => p.largest),
            parts.flatMap((p) => p.tieFree),
          )
        : {}
    // A group ends its retries at the earliest deadline among its callers' (the engine's stop).
    const until = earliestDeadline(landing.map((request) => request.until))
    const options = { sharedExtras, ...(clock === undefined ? {} : { clock }), ...(commitAttempts === undefined ? {} : { attempts: commitAttempts }) }
    const result = await appendParts(table, landing, { ...options, ...(until === undefined ? {} : { until, what: `the commit of table ${tableId}` }) })
    this.#tables.set(tableId, Promise.resolve(result.table))
    if (result.status === 'committed') this.#compactLater(tableId, table.metadata)
    return this.#expiry?.due(tableId, result.status === 'committed') === true ? () => this.#expireQuietly(tableId) : undefined
  }

  /** After a committed append: the table's compaction, when due (automatic-compaction.ts). */
  #compactLater(tableId: string, metadata: TableMetadata): void {
    const scheduler = this.#options.automaticCompaction
    if (scheduler === undefined) return
    const table = (): Promise<IcebergTable> => this.#tableById(tableId)
    const topic = metadata.properties['kfs.topic']
    if (metadata.properties['kfs.view'] !== undefined) scheduler.afterCommit(tableId, featureTableCompaction(table, { ...this.#writeOptions(), ...this.#rewriteCommitOptions() }))
    else if (topic !== undefined) {
      const { parquetWorker } = this.#options
      scheduler.afterCommit(tableId, archiveCompaction(table, topic, { ...(parquetWorker === undefined ? {} : { parquetWorker }), ...this.#rewriteCommitOptions() }))
    }
  }

  async snapshots(tableId: string): Promise<OfflineSnapshot[]> {
    // A damaged table is refused (./damaged-table.ts): read as no snapshots, verify-parity and
    // replay --snapshot-id would call it missing rather than damaged.
    const loaded = await loadTableOrNone(this.#store, tableId)
    if (!loaded) return []
    const acc: Record<string, number> = {}
    const through: Record<string, string> = {}
    const out: OfflineSnapshot[] = []
    const ordered = [...loaded.metadata.snapshots].sort((a, b) => Number(BigInt(a['sequence-number'] ?? 0) - BigInt(b['sequence-number'] ?? 0)))
    for (const snapshot of ordered) {
      for (const [k, v] of Object.entries(snapshot.summary ?? {})) {
        if (k.startsWith(MARKER_PREFIX)) acc[k.slice(MARKER_PREFIX.length)] = Math.max(acc[k.slice(MARKER_PREFIX.length)] ?? 0, Number(v))
      }
      accumulateRowsThrough(through, snapshot.summary ?? {})
      out.push({ snapshotId: String(snapshot['snapshot-id']), markers: { ...acc }, rowsThrough: { ...through } })
    }
    return out
  }

  snapshotLog(tableId: string): Promise<SnapshotLog> {
    return readSnapshotLog(this.#store, tableId)
  }

  readFeatureRows(view: FeatureViewDef, options: FeatureRowsOptions = {}): Promise<Map<string, FeatureRow[]>> {
    return readFeatureRowsByEntity(this.#store, view, options.snapshotId, { ...(options.shard === undefined ? {} : { shard: options.shard }) })
  }

  readLatestFeatureRows(view: FeatureViewDef, options: LatestFeatureRowsOptions = {}): Promise<LatestFeatureRows> {
    return readLatestFeatureRowsOf(this.#store, view, options)
  }

  featureTableStats(view: ViewVersion & Pick<FeatureViewDef, 'features'>, options: { readonly snapshotId?: string | null } = {}): Promise<FeatureTableStats | undefined> {
    return featureTableStatsOf(this.#store, view, this.#tableStats, options.snapshotId)
  }

  pinFeatureFiles(view: ViewVersion, options: { readonly snapshotId: string | null | undefined; readonly tempDir: string }): Promise<PinnedFeatureFiles> {
    return pinTable(this.#store, featureTablePath(view), options.snapshotId, options.tempDir)
  }

  /**
   * Compacts the view's table; no table is nothing to compact. It never creates one: over a damaged
   * table (files, no metadata that can be found) that put an empty table, orphaning its rows.
   */
  async compactFeatureTable(view: FeatureViewDef, options: { readonly olderThanDay: number }): Promise<CompactionSummary> {
    const path = featureTablePath(view)
    const table = await loadTableOrNone(this.#store, path)
    if (table === undefined) return { removedFiles: 0, addedFiles: 0, status: undefined }
    const { removedFiles, addedFiles, status } = await compactPartitions(table, { olderThanDay: options.olderThanDay, ...this.#writeOptions(), ...this.#rewriteCommitOptions() })
    return { removedFiles, addedFiles, status }
  }

  /** Compacts the topic's archive (archive-compaction.ts); no archive is nothing to compact, and none is created. */
  async compactArchive(topic: string, options: ArchiveCompaction): Promise<CompactionSummary> {
    const table = await this.#archiveIfExists(topic)
    if (table === undefined) return { removedFiles: 0, addedFiles: 0, status: undefined }
    const { parquetWorker } = this.#options
    const { removedFiles, addedFiles, status } = await compactArchiveTable(table, topic, { ...options, ...(parquetWorker === undefined ? {} : { parquetWorker }), ...this.#rewriteCommitOptions() })
    return { removedFiles, addedFiles, status }
  }

  /**
   * The commit options of a compaction's or an expiry's commit: backing off on the sink's clock, as
   * an append's does, and bounded by the store's own retries when it has them (`storeRetryAttempts`).
   */
  #rewriteCommitOptions() {
    const { clock, storeRetryAttempts } = this.#options
    return { ...(clock === undefined ? {} : { clock }), ...(storeRetryAttempts === undefined ? {} : { attempts: storeRetryAttempts, endsOn: isRetriesExhausted }) }
  }

  /**
   * Expires the table's old snapshots. Never creates a table (as compaction does not). The
   * checkpoint markers of expired snapshots are carried forward: the sink's replay detection and
   * verify-parity read them as a maximum over all snapshots.
   */
  async expireSnapshots(offlineTable: OfflineTable, retention: SnapshotRetention): Promise<ExpirySummary> {
    const table = await loadTableOrNone(this.#store, this.tableId(offlineTable))
    if (table === undefined) return { expiredSnapshots: 0, keptSnapshots: 0, deletedFiles: 0 }
    const { expiredSnapshots, keptSnapshots, deletedFiles } = await expireSnapshots(table, retention, { carriedPrefixes: CARRIED_PREFIXES, ...this.#rewriteCommitOptions() })
    return { expiredSnapshots, keptSnapshots, deletedFiles }
  }

  /** Removes the table's orphan files (orphan-files.ts), keeping every file a published checkpoint record staged for it. */
  async removeOrphanFiles(offlineTable: OfflineTable, removal: OrphanRemoval): Promise<OrphanRemovalSummary> {
    const path = this.tableId(offlineTable)
    const { clock } = this.#options
    const keep = new Set(stagedFileUris(removal.staged, path, (key) => this.#store.uriOf(key)))
    const { orphans, ...counts } = await removeOrphanFiles(this.#store, path, { minAgeMs: removal.minAgeMs, dryRun: removal.dryRun, keep, ...(clock === undefined ? {} : { clock }) })
    const { deletedFiles, deletedBytes, keptTooYoung, failedDeletes } = counts
    return { orphanFiles: orphans.length, orphanBytes: orphans.reduce((n, o) => n + o.size, 0), deletedFiles, deletedBytes, keptTooYoung, failedDeletes }
  }

  /**
   * The topic's archive, undefined when it has none. A damaged one (files, no metadata that can be
   * found) is refused, not read as none: a backfill would call a view with no archived history
   * complete at once, and a catch-up would pass records it could not read.
   */
  async #archiveIfExists(topic: string): Promise<IcebergTable | undefined> {
    return checkArchiveTopic(await loadTableOrNone(this.#store, archiveTablePath(topic)), topic)
  }

  async archiveEnd(topic: string, snapshotId?: string): Promise<{ snapshotId: string | null; nextOffsets: Record<number, string> }> {
    const table = await this.#archiveIfExists(topic)
    const current = table?.metadata['current-snapshot-id']
    if (!table || current === undefined || current === null || BigInt(current) < 0n) return { snapshotId: null, nextOffsets: {} }
    const pinned = snapshotId === undefined ? BigInt(current) : BigInt(snapshotId)
    return { snapshotId: pinned.toString(), nextOffsets: await archiveNextOffsets(table, topic, pinned) }
  }

  async *readArchive(topic: string, partition: number, options: { fromOffset?: string; untilOffset?: string; snapshotId?: string } = {}): AsyncIterable<ArchiveRow> {
    for await (const rows of this.readArchiveBatches(topic, partition, options)) yield* rows
  }

  async *readArchiveBatches(
    topic: string,
    partition: number,
    options: { fromOffset?: string; untilOffset?: string; snapshotId?: string } = {},
  ): AsyncIterable<readonly ArchiveRow[]> {
    const table = await this.#archiveIfExists(topic)
    if (!table) return
    const current = table.metadata['current-snapshot-id']
    if (current === undefined || current === null || BigInt(current) < 0n) return
    const pinned = options.snapshotId === undefined ? BigInt(current) : BigInt(options.snapshotId)
    const from = options.fromOffset === undefined ? -1n : BigInt(options.fromOffset)
    const until = options.untilOffset === undefined ? undefined : BigInt(options.untilOffset)
    yield* readArchivePartitionBatches(table, topic, partition, pinned, { from, until })
  }
}

/** A store call whose own retries ran out: asking the whole commit again would only multiply its bound. */
function isRetriesExhausted(err: unknown): boolean {
  return err instanceof RetriesExhaustedError
}
