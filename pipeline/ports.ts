/**
 * The ports of the engine. `pipeline/` owns these interfaces; adapters in `sinks/`,
 * `pipeline/sources/*` and the embedded defaults implement them, and each family shares one
 * contract test suite (test/contracts/) that the real and the embedded adapter both pass.
 */
import type { FeatureViewDef, StampedRow } from '../operators/define/types.ts'

// ---------------------------------------------------------------------------------------------
// Object store: where Iceberg tables, checkpoints and registry state live.

export interface ObjectStore {
  /** Human-readable root, e.g. `s3://bucket/prefix` or `file:///abs/dir`; Iceberg paths are built from it. */
  readonly rootUri: string
  get(key: string): Promise<Uint8Array | undefined>
  put(key: string, body: Uint8Array): Promise<void>
  /**
   * Creates the object only if no object exists under `key` (local: link(2); S3: If-None-Match: *).
   * Returns false when it already existed — the caller lost an optimistic-concurrency race.
   */
  putIfAbsent(key: string, body: Uint8Array): Promise<boolean>
  delete(key: string): Promise<void>
  /** Keys under a prefix, in lexicographic order. */
  list(prefix: string): Promise<string[]>
  /** Absolute URI of a key, as written into Iceberg metadata. */
  uriOf(key: string): string
}

// ---------------------------------------------------------------------------------------------
// Event log: Kafka, or the embedded on-disk log with the same semantics that matter here.

export interface LogRecord {
  readonly topic: string
  readonly partition: number
  /** Kafka offsets are int64; kept as decimal strings end to end (kafkajs does the same). */
  readonly offset: string
  readonly key: Uint8Array | null
  readonly value: Uint8Array | null
  readonly timestampMs: number
  readonly headers: Readonly<Record<string, string>>
}

export interface ProduceRecord {
  readonly key: Uint8Array | string | null
  readonly value: Uint8Array | null
  readonly headers?: Readonly<Record<string, string>>
  /** Explicit partition; otherwise the log hashes the key (murmur2, as Kafka's default partitioner). */
  readonly partition?: number
  /**
   * The record's timestamp (Kafka CreateTime); default: the time of the produce. The re-key stage
   * passes the source record's, so views and replay judge the same ingestion time (event-time rule).
   */
  readonly timestampMs?: number
}

// ---------------------------------------------------------------------------------------------
// Online store: Redis, or the embedded store with the same conditional-write and TTL semantics.

export type OnlineStatus = 'PRESENT' | 'MISSING' | 'OUTSIDE_TTL'

export interface OnlineRead {
  readonly status: OnlineStatus
  readonly asOfMs: number | null
  /** Values in the order of the requested feature names; null stays null. */
  readonly values: readonly (import('../operators/define/types.ts').FeatureValue)[]
}

export interface OnlineWriteResult {
  readonly written: number
  /** Rows refused because a fresher (or equal) `as_of` was already stored. */
  readonly stale: number
}

export interface OnlineStore {
  /** Conditional on `as_of` (≥ stored), TTL from the view; rows of one key are coalesced to the newest. */
  writeRows(view: FeatureViewDef, rows: readonly StampedRow[]): Promise<OnlineWriteResult>
  /**
   * One round trip for any number of (view, entity) lookups. `nowMs` decides OUTSIDE_TTL.
   */
  readRows(
    lookups: readonly { readonly view: FeatureViewDef; readonly entityKey: string; readonly features: readonly string[] }[],
    nowMs: number,
  ): Promise<OnlineRead[]>
  close(): Promise<void>
}

// ---------------------------------------------------------------------------------------------
// Dead letters: bad input is data, never a crash and never a silent drop.

export type DeadLetterReason =
  | 'undecodable'
  | 'unknown_schema'
  | 'schema_mismatch'
  | 'missing_event_time'
  | 'missing_key'
  | 'invalid_key'
  | 'oversize'
  | 'late'
  | 'future_event_time'
  | 'map_failed'
  | 'future_event_time'
  /** A numeric value an aggregation cannot take: NaN, ±Infinity, beyond ±2^960 for a sum, a long beyond ±2^53. */
  | 'out_of_range'
  /** The event-time field holds a value that is no epoch-millisecond time (e.g. a long beyond ±2^53). */
  | 'invalid_event_time'
  /** A string field that is not valid UTF-8 (a join key with invalid UTF-8 is `invalid_key`). */
  | 'invalid_utf8'

/** Where a re-keyed record was first read: the re-key stage's `kfs-source-*` headers. */
export interface RecordOrigin {
  readonly topic: string
  readonly partition: number
  readonly offset: string
}

export interface DeadLetter {
  /** Where the refused record was read (for a re-keyed view: the internal topic). */
  readonly topic: string
  readonly partition: number
  readonly offset: string
  /** The source record it was forwarded from, when it was read from a re-key stage's internal topic. */
  readonly origin?: RecordOrigin
  readonly key: Uint8Array | null
  readonly value: Uint8Array | null
  readonly reason: DeadLetterReason
  readonly detail: string
  /** The view that refused it, when only one view did (e.g. missing key of that view's entity). */
  readonly view?: string
}

export interface DeadLetterSink {
  write(letters: readonly DeadLetter[]): Promise<void>
  flush(): Promise<void>
}

export interface TopicPartitionOffset {
  readonly topic: string
  readonly partition: number
  /** The next offset to read (Kafka's committed-offset convention). */
  readonly offset: string
}

export interface LogBatch {
  readonly topic: string
  readonly partition: number
  /** In offset order. */
  readonly records: readonly LogRecord[]
  /** Offset after the last record the log currently holds for this partition (Kafka high watermark). */
  readonly highWatermark: string
  /**
   * Where the next read of the partition starts once the batch is taken whole: after its last
   * record, or further when the fetch also covered records the log does not deliver (a transaction's
   * commit marker, aborted records). Absent: last record's offset + 1.
   */
  readonly nextOffset?: string
  /**
   * Where the log read this batch from: no record lies between it and `records[0]` (on Kafka the
   * offsets in between hold transaction markers or aborted records, which a read-committed
   * consumer never sees). Absent means `records[0].offset`.
   */
  readonly fromOffset?: string
}

/** A fetch that moved a partition's read position without delivering a record (markers, aborted records only). */
export interface PositionNotice {
  readonly topic: string
  readonly partition: number
  readonly nextOffset: string
  readonly highWatermark: string
}

/**
 * What a handler took of a batch: its first `consumed` records (0 ≤ consumed ≤ records.length,
 * an integer). The rest is delivered again, from `records[consumed]`, in a later batch of the
 * partition — so a handler that takes nothing should pause the partition, or it gets the same
 * records straight back.
 */
export interface BatchOutcome {
  readonly consumed: number
}

export interface ConsumerHandlers {
  /**
   * Called with every batch, one partition at a time, in offset order within a partition.
   * Resolving with nothing takes the whole batch; `{ consumed: n }` takes only its first n records.
   */
  eachBatch(batch: LogBatch): Promise<BatchOutcome | void>
  /** The group gave this member these partitions (the full current assignment). */
  onAssigned?(partitions: readonly { topic: string; partition: number }[]): Promise<void>
  /** The group is about to take these partitions away; finish or abandon in-flight work. */
  onRevoked?(partitions: readonly { topic: string; partition: number }[]): Promise<void>
  /**
   * A fetch of an owned partition held no record to deliver but moved its read position (e.g. past
   * the commit marker that ends a transactionally produced partition). Lets a handler that must know
   * whether a partition is at its end tell "nothing left" from "not fetched yet".
   */
  onPosition?(notice: PositionNotice): void
}

export interface LogConsumer {
  /** Starts consuming; resolves once the consumer has joined its group. */
  run(handlers: ConsumerHandlers): Promise<void>
  /** Progress markers only: exactly-once comes from checkpoints, which record their own offsets. */
  commit(offsets: readonly TopicPartitionOffset[]): Promise<void>
  /** Next read position for a partition (used after restoring a checkpoint). */
  seek(position: TopicPartitionOffset): void
  /** No batch of these partitions is delivered until they are resumed (one already in flight finishes). */
  pause(partitions: readonly { topic: string; partition: number }[]): void
  /** Delivery continues from the partition's position: the first record not taken by a handler. */
  resume(partitions: readonly { topic: string; partition: number }[]): void
  stop(): Promise<void>
}

export interface EventLog {
  createTopic(topic: string, partitions: number): Promise<void>
  partitionCount(topic: string): Promise<number>
  produce(topic: string, records: readonly ProduceRecord[]): Promise<readonly { partition: number; offset: string }[]>
  /** Next offset to be written, per partition (index = partition). */
  endOffsets(topic: string): Promise<string[]>
  /** First offset the log still holds, per partition: past 0 once retention or deletion removed records. */
  startOffsets(topic: string): Promise<string[]>
  /** A group's committed offsets (next offset to read), per partition (index = partition); undefined: none. */
  committedOffsets(groupId: string, topic: string): Promise<(string | undefined)[]>
  consumer(options: {
    groupId: string
    topics: readonly string[]
    readCommitted?: boolean
    /** Where a partition with no committed offset starts (default true: offset 0). */
    fromBeginning?: boolean
    /** A handler error stops the consumer and lands here (otherwise the batch is redelivered). */
    onCrash?: (err: unknown) => void
    /**
     * Every partition of the subscribed topics goes to ONE member of the group — the one that has
     * them already, while it stays — and the others get none. For a consumer that must see a topic
     * whole (the re-key stage's merge, docs/semantics.md §16). All members of a group must agree.
     */
    exclusive?: boolean
  }): LogConsumer
  close(): Promise<void>
}

// ---------------------------------------------------------------------------------------------
// Offline sink: Iceberg tables (one per view version, one raw archive per source topic).

export type OfflineTable =
  | { readonly kind: 'feature'; readonly view: FeatureViewDef }
  | { readonly kind: 'archive'; readonly topic: string }

/** Where a feature row came from: the source record (or idle marker) whose processing emitted it. */
export interface RowOrigin {
  readonly partition: number
  readonly offset: string
  /**
   * Index of the row among all rows emitted at this offset: the rows of the idle markers archived
   * at the offset first (a marker is archived with the next offset to be read, and one idle period
   * can archive several), in marker order, then the record's. Distinct within a partition's offset.
   */
  readonly seq: number
  /** True when an idle marker emitted the row. */
  readonly marker: boolean
}

export interface OfflineFeatureRow extends StampedRow {
  readonly origin: RowOrigin
}

/**
 * One consumed record, or one idle-advance marker, as archived (DESIGN §6). A marker carries
 * `markerWatermarkMs` and no payload; its `offset` is the next offset to be read at that moment, and
 * it sorts before a record with the same offset.
 */
export interface ArchiveRow {
  readonly partition: number
  readonly offset: string
  readonly eventTimeMs: number | null
  readonly key: Uint8Array | null
  readonly schemaId: number | null
  readonly payload: Uint8Array | null
  readonly markerWatermarkMs: number | null
  readonly timestampMs: number
}

/** Staged data files: written, but referenced by no snapshot until `commit`. JSON-safe. */
export interface StagedFiles {
  readonly table: string
  readonly files: readonly unknown[]
  readonly rowCount: number
}

export interface OfflineSink {
  /** A stable name for the table (used as a key in checkpoints). */
  tableId(table: OfflineTable): string
  stageFeatureRows(view: FeatureViewDef, rows: readonly OfflineFeatureRow[]): Promise<StagedFiles>
  stageArchiveRows(topic: string, rows: readonly ArchiveRow[]): Promise<StagedFiles>
  /**
   * Appends the staged files as one snapshot whose summary carries `summary`. `markers` are
   * `name → seq` pairs (e.g. `clicks/3 → 17`) recorded in the summary, so that a commit can tell
   * (after a crash, say) that the table already holds them: it then writes nothing. Commit is
   * thus idempotent, and a checkpoint can be rolled forward as often as it is restored.
   */
  commit(tableId: string, staged: readonly StagedFiles[], markers: Readonly<Record<string, number>>, summary: Readonly<Record<string, string>>): Promise<void>
  /**
   * The committed snapshots of a table, oldest first, each with the markers accumulated up to it
   * (so a feature table and an archive can be compared at the same checkpoints).
   */
  snapshots(tableId: string): Promise<readonly { readonly snapshotId: string; readonly markers: Readonly<Record<string, number>> }[]>
  /**
   * Archived rows of one partition in archive order (offset, markers before the record with the same
   * offset), streamed with bounded memory. Records with fromOffset ≤ offset < untilOffset; markers
   * with fromOffset ≤ offset ≤ untilOffset (a marker archived with offset N was applied after record
   * N − 1, so a position N taken right after a record batch precedes it, and a pinned snapshot whose
   * records end before N holds exactly the markers applied up to that snapshot).
   */
  readArchive(topic: string, partition: number, options?: { readonly fromOffset?: string; readonly untilOffset?: string; readonly snapshotId?: string }): AsyncIterable<ArchiveRow>
  /** Partitions present in the archive and, per partition, the offset after the last archived record. */
  archiveEnd(topic: string, snapshotId?: string): Promise<{ readonly snapshotId: string | null; readonly nextOffsets: Readonly<Record<number, string>> }>
}
