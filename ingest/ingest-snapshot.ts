/**
 * `kfs ingest`'s work (docs/design.md §11): read a table source's snapshot, read what its log
 * already holds, plan (./plan-snapshot.ts), then append the planned change envelopes in order.
 *
 * Idempotent and crash-safe because what the log holds is read from the log itself, never from a
 * side file: the same snapshot appends nothing the second time, and a run killed mid-append is
 * finished by the next one. Records are produced in plan order, chunk after chunk, each chunk
 * awaited before the next, so every partition receives a prefix of its share of the sorted list;
 * the re-run finds that prefix in the log and appends exactly the rest. Reading and appending
 * happen under the source's lease (./append-lease.ts), so two runs at once cannot both append
 * what neither found in the log.
 *
 * A schema change fails before the log is read; rejected rows are reported and the rest appended
 * (a bad row never blocks the good ones — the same rule as dead letters on event sources).
 */
import { encodeEntityKey } from '../core/entity-key.ts'
import { FeatureStoreError } from '../core/errors.ts'
import type { ChangeEnvelope } from '../features/change-envelope.ts'
import type { ChangeSourceSpec, SourceDef, TableLocation } from '../features/types.ts'
import type { EventLog } from '../ports/event-log.ts'
import type { TableSnapshot, TableSnapshotReader } from '../ports/table-snapshots.ts'
import type { Decoder } from '../schemas/decoder.ts'
import type { Encoder } from '../schemas/encoder.ts'
import { createChangeEnvelopeWriter } from '../schemas/change-envelope-writer.ts'
import { createSourceTopic } from '../engine/source-topics.ts'
import { takeAppendLease, type Appends } from './append-lease.ts'
import { appendPlan } from './append-plan.ts'
import { DEFAULT_CHUNK_BYTES, RowImages } from './row-images.ts'
import { LogState, rowFingerprint } from './log-state.ts'
import { checkSnapshotColumns, SnapshotPlanner, type RejectedRow } from './plan-snapshot.ts'
import type { RejectSink } from './reject-sink.ts'
import { rowColumns, type RowColumn } from './row-columns.ts'
import { checkKeyColumns, type RowKeyEntity } from './row-keys.ts'
import { scanTopic } from './scan-topic.ts'

const DEFAULT_CHUNK_RECORDS = 100_000
/**
 * The most rows the planner's tables are sized for up front. A snapshot's row count is a claim of
 * its metadata (a Parquet footer, an Iceberg summary), read before any row: a wrong one (1e12 for
 * a one-row table) made the allocation fail ("Array buffer allocation failed", a crash with a
 * stack trace) or take gigabytes. Beyond this the tables grow as rows come, as without a count.
 */
export const MAX_PRESIZED_ROWS = 1 << 22

export type IngestProgress =
  | { readonly phase: 'read'; readonly rows: number; readonly total: number | undefined }
  | { readonly phase: 'scan'; readonly records: number }
  | { readonly phase: 'append'; readonly appended: number; readonly total: number }

export interface IngestDeps {
  readonly log: EventLog
  readonly reader: TableSnapshotReader
  /** Registry-framed Avro of the source's envelope schema (its subject registered). */
  readonly encoder: Encoder
  readonly decoder: Decoder
}

export interface IngestOptions {
  readonly source: SourceDef
  /** The entity the source is keyed by: a row's key must be one of its keys (./row-keys.ts). Undefined: any value's text. */
  readonly entity?: RowKeyEntity
  /** A path (files) or snapshot id overriding the source's location; absent: its current content. */
  readonly at?: string
  /** Records per produce call (default 100,000: each call is one durable write per partition). */
  readonly chunkRecords?: number
  readonly onProgress?: (progress: IngestProgress) => void
  /**
   * Aborted (SIGINT, SIGTERM): the run stops at its next batch of the snapshot or the log, or
   * before its next chunk — the chunk being appended is committed first, so no transaction is
   * left open for readers of the topic to wait at — and rejects INTERRUPTED.
   */
  readonly signal?: AbortSignal
  /** Gets every rejected row with its values, and is closed before anything is appended (./reject-sink.ts). */
  readonly rejects?: RejectSink
}

export interface IngestResult {
  readonly snapshotId: string
  readonly where: string
  readonly rowsRead: number
  readonly appended: number
  readonly unchanged: number
  /** With where each came from (its file and line or row), when the reader can tell. */
  readonly rejected: readonly (RejectedRow & { readonly at?: string })[]
  /** Snapshot columns the row schema does not declare (not ingested). */
  readonly ignoredColumns: readonly string[]
  /** Records already in the log, and those of them that did not decode as envelopes (skipped). */
  readonly logRecords: number
  readonly unreadableLogRecords: number
  /**
   * The settings by which the source's topic deletes records (engine/source-topics.ts says why
   * kfs creates it compacted); undefined when it keeps each key's latest record for good. A topic
   * made elsewhere may delete: once it has, ingest no longer finds those rows and appends them again.
   */
  readonly topicRetention?: string
}

/** The table spec of a source `kfs ingest` can read, or why not. */
export function tableSpecOf(source: SourceDef): (ChangeSourceSpec & { rowTimeField: string; location: TableLocation }) | string {
  const spec = source.changes
  if (spec === undefined || spec.kind !== 'table') return `source ${source.name} is not a table source (${spec === undefined ? 'an event source' : 'a changelog source'}); kfs ingest reads table sources only`
  if (spec.rowTimeField === undefined) return `table source ${source.name} declares no rowTimeField`
  if (spec.location === undefined) return `table source ${source.name} declares no location`
  return { ...spec, rowTimeField: spec.rowTimeField, location: spec.location }
}

export async function ingestSnapshot(deps: IngestDeps, options: IngestOptions): Promise<IngestResult> {
  const { source } = options
  const spec = tableSpecOf(source)
  if (typeof spec === 'string') throw new FeatureStoreError('BAD_REQUEST', spec)
  const snapshot = await deps.reader.open(spec.location, options.at)
  const columns = rowColumns(spec.rowSchema)
  const ignoredColumns = checkSnapshotColumns(columns, snapshot.columns, snapshot.where)
  checkKeyColumns(columns, spec.primaryKey, options.entity, snapshot.where)

  // The planner keeps the rows it needs column by column; the reader's batches go one by one.
  const state = new LogState()
  const claimed = snapshot.rowCount
  const expectedRows = claimed === undefined || !(claimed >= 0) ? undefined : Math.min(Math.floor(claimed), MAX_PRESIZED_ROWS)
  const sink = options.rejects
  const onRejected =
    sink === undefined ? undefined : (r: RejectedRow, cells: Readonly<Record<string, unknown>>) => sink.add({ ...r, snapshot: snapshot.id, ...located(snapshot.locate?.(r.row)) }, cells)
  const planner = new SnapshotPlanner({ columns, primaryKey: spec.primaryKey, ...(options.entity === undefined ? {} : { entity: options.entity }), rowTimeField: spec.rowTimeField, snapshotId: snapshot.id, log: state, expectedRows, onRejected })
  const writer = createChangeEnvelopeWriter(source.schema, deps.encoder.schemaId)
  // The writer writes images by the planner's column positions: only for the same columns.
  const usable = writer?.columns.join('\u0000') === columns.map((c) => c.name).join('\u0000') ? writer : undefined
  const images = usable === undefined ? undefined : new RowImages(usable, DEFAULT_CHUNK_BYTES, expectedRows)
  await createSourceTopic(deps.log, source)
  // Advisory: a principal allowed to write the topic but not to describe its settings still ingests.
  const topicRetention = await deps.log.retentionLimit?.(source.topic).catch(() => undefined)
  // Before the log is read: an earlier run still appending is fenced (./append-lease.ts).
  const lease = await takeAppendLease(deps.log, source, snapshot.id)
  try {
    return { ...(await ingestUnderLease(deps, options, { spec, snapshot, columns, ignoredColumns, state, planner, images, appends: lease.appends })), topicRetention }
  } finally {
    await lease.release()
  }
}

interface Prepared {
  readonly spec: Exclude<ReturnType<typeof tableSpecOf>, string>
  readonly snapshot: TableSnapshot
  readonly columns: readonly RowColumn[]
  readonly ignoredColumns: readonly string[]
  readonly state: LogState
  readonly planner: SnapshotPlanner
  readonly images: RowImages | undefined
  readonly appends: Appends
}

async function ingestUnderLease(deps: IngestDeps, options: IngestOptions, prepared: Prepared): Promise<Omit<IngestResult, 'topicRetention'>> {
  const { source } = options
  const { spec, snapshot, columns, state, planner, images } = prepared
  let rowsRead = 0
  // Into an empty log (a first ingest) every valid row is appended: its bytes are written while
  // its batch is fresh. Otherwise only the rows the plan appends are written, once it is made.
  const logEmpty = (await deps.log.endOffsets(source.topic)).every((offset) => offset === '0')
  const read = (rows: number): void => {
    if (logEmpty) images?.encode(planner.keys, planner.ts, planner.chunks)
    rowsRead += rows
    options.onProgress?.({ phase: 'read', rows: rowsRead, total: snapshot.rowCount })
    stopIfAsked(options, 0, undefined)
  }
  if (snapshot.columnBatches !== undefined)
    for await (const batch of snapshot.columnBatches()) {
      planner.addColumns(batch)
      read(batch.numRows)
    }
  else
    for await (const batch of snapshot.rows()) {
      planner.add(batch)
      read(batch.length)
    }
  await options.rejects?.close()

  let logRecords = 0
  let unreadable = 0
  await scanTopic(
    deps.log,
    source.topic,
    async (records) => {
      const decoded = await deps.decoder.decodeBatch(records.map((r) => r.value))
      for (const result of decoded) {
        logRecords++
        if (!result.ok || !foldEnvelope(state, columns, spec.primaryKey, result.event)) unreadable++
      }
      options.onProgress?.({ phase: 'scan', records: logRecords })
      stopIfAsked(options, 0, undefined)
    },
    { groupPrefix: `kfs-ingest-${source.name}` },
  )

  const plan = planner.finish()
  const total = plan.length
  if (!logEmpty) images?.encode(planner.keys, planner.ts, planner.chunks, plan.slots)
  await appendPlan(
    {
      log: prepared.appends,
      topic: source.topic,
      encoder: deps.encoder,
      images,
      chunkRecords: options.chunkRecords ?? DEFAULT_CHUNK_RECORDS,
      onChunk: (appended) => options.onProgress?.({ phase: 'append', appended, total }),
      beforeChunk: (appended) => stopIfAsked(options, appended, total),
    },
    plan,
  )
  return {
    snapshotId: snapshot.id,
    where: snapshot.where,
    rowsRead: plan.rowsRead,
    appended: total,
    unchanged: plan.unchanged,
    rejected: plan.rejected.map((r) => {
      const at = snapshot.locate?.(r.row)
      return at === undefined ? r : { ...r, at }
    }),
    ignoredColumns: prepared.ignoredColumns,
    logRecords,
    unreadableLogRecords: unreadable,
  }
}

const located = (at: string | undefined): { at?: string } => (at === undefined ? {} : { at })

/** One envelope of the log into the state; false when it is not one a table source can hold. */
function foldEnvelope(state: LogState, columns: readonly RowColumn[], primaryKey: readonly string[], event: Record<string, unknown>): boolean {
  const envelope = event as unknown as ChangeEnvelope
  const image = envelope.after ?? envelope.before
  if (typeof envelope.ts_ms !== 'number' || image === null) return false
  const parts = primaryKey.map((k) => image[k])
  if (parts.some((p) => p === null || p === undefined)) return false
  const key = encodeEntityKey(parts.map(String))
  if (envelope.op === 'd' || envelope.after === null) state.record(key, envelope.ts_ms, null, null)
  else state.record(key, envelope.ts_ms, envelope.after, rowFingerprint(columns, envelope.after))
  return true
}

/** Throws INTERRUPTED once `options.signal` is aborted; `appended` of `total` planned records are in the log whole. */
function stopIfAsked(options: IngestOptions, appended: number, total: number | undefined): void {
  const signal = options.signal
  if (signal?.aborted !== true) return
  const what = typeof signal.reason === 'string' ? signal.reason : 'a stop signal'
  const done = total === undefined ? 'before appending anything' : `with ${appended} of ${total} records appended, each batch whole`
  throw new FeatureStoreError('INTERRUPTED', `kfs ingest of ${options.source.name} stopped by ${what} ${done}; run it again to append the rest`, {
    context: { source: options.source.name, appended },
  })
}
