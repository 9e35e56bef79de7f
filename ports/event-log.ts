/**
 * Event log port: Kafka, or the embedded on-disk log with the same semantics that matter here.
 * Adapters: adapters/event-log/{kafka,embedded}; contract suite: test/contracts/event-log.ts.
 *
 * Guarantees: records of one partition are delivered in offset order; a batch not taken whole is
 * delivered again from its first untaken record; committed offsets are progress markers only
 * (exactly-once comes from the engine's checkpoints). Failure modes: produce and admin calls may
 * reject (transient or not); a consumer handler error stops the consumer and reaches `onCrash`.
 */
import type { PositionSpan } from './source.ts'

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

/**
 * Many keyed records as runs of bytes gathered from a few buffers, for a producer of many small
 * records (`kfs ingest` appends millions): no object or buffer per record, and a value made of
 * parts that are already somewhere (a constant head, a row's bytes written earlier) is never
 * copied into one place before the log lays it out. Record i has `runsPerRecord` runs; run j is
 * `runs[3k]` (an index into `sources`), `runs[3k+1]`, `runs[3k+2]` (start and end in that source)
 * with k = runsPerRecord·i + j. Its key is run 0 (UTF-8 text); its value runs 1… back to back (an
 * unused run is empty: start = end). No headers; the produce time is every record's timestamp.
 * Partitioned by key exactly as `produce` would.
 */
export interface PackedRecords {
  readonly count: number
  readonly sources: readonly Uint8Array[]
  readonly runsPerRecord: number
  readonly runs: Uint32Array
}

/** Fields per run in `PackedRecords.runs`: source, start, end. */
export const PACKED_RUN_FIELDS = 3

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
   * The stretch of the partition this fetch covered, when it is wider than its records: every
   * offset in [from, next) is a record of the batch or an entry the log never delivers (a
   * transaction's commit marker, aborted records — which a read-committed consumer never sees).
   * `from` ≤ records[0].offset with no record between them; `next` is where the next read of the
   * partition starts once the batch is taken whole. Absent: exactly the records, from
   * records[0].offset to the last record's offset + 1.
   */
  readonly span?: PositionSpan
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
  /**
   * Leaves the group: a batch handler still running ends first, then `onRevoked` gets every
   * partition held, then the promise resolves (test/contracts/event-log-stop.ts). A handler that
   * calls it must not await it.
   */
  stop(): Promise<void>
}

export interface TopicOptions {
  /**
   * Keep each key's latest record for good and every record at least this long: Kafka's log
   * compaction (`cleanup.policy=compact`, `min.compaction.lag.ms`). For a table source's log,
   * which `kfs ingest` reads whole to know which rows it holds (engine/source-topics.ts).
   */
  readonly compactAfterMs?: number
}

export interface EventLog {
  /**
   * True when no other process can append to this log while this handle is open (the embedded
   * log: its directory lock). A shared log (Kafka) leaves it unset: a writer that must not race
   * another run of itself there fences runs with a transaction (ingest/append-lease.ts).
   */
  readonly ownedByThisProcess?: boolean
  /** Creates `topic` unless it exists (an existing topic keeps its partitions and settings). */
  createTopic(topic: string, partitions: number, options?: TopicOptions): Promise<void>
  /**
   * Why `topic` may delete records a reader still needs — its settings as the log names them
   * (`cleanup.policy=delete, retention.ms=604800000`) — or undefined when it keeps each key's
   * latest record for good (compacted, or no time or size limit). Optional: a log whose only
   * deletions keep each key's latest record (the embedded log, which compacts `compactAfterMs`
   * topics and deletes nothing else) leaves it out.
   */
  retentionLimit?(topic: string): Promise<string | undefined>
  partitionCount(topic: string): Promise<number>
  produce(topic: string, records: readonly ProduceRecord[]): Promise<readonly { partition: number; offset: string }[]>
  /**
   * The same as `produce` of the unpacked records (`unpackRecords`), in fewer steps where the log
   * can take bytes as they are (the embedded log: one pass into its segment format). Optional.
   * Packed appends land in the order asked; one asked while the one before it is still being
   * written is written only if that one was written whole (else it rejects, writing nothing),
   * so a caller may ask for chunk k+1 before chunk k is acknowledged and still leave every
   * partition a prefix of what it asked for. That holds only if one refused before it is written
   * at all (a closed log, a commit in doubt) is refused for good: the refusal of chunk k may be
   * seen only after chunk k+1 is asked, which must then be refused too.
   */
  producePacked?(topic: string, records: PackedRecords): Promise<void>
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


/** Packed records as `produce` takes them: the fallback for a log without `producePacked`. */
export function unpackRecords(packed: PackedRecords): ProduceRecord[] {
  const { sources, runs, runsPerRecord } = packed
  const records = new Array<ProduceRecord>(packed.count)
  for (let i = 0; i < packed.count; i++) {
    const at = PACKED_RUN_FIELDS * runsPerRecord * i
    const run = (j: number): Uint8Array => sources[runs[at + PACKED_RUN_FIELDS * j]!]!.subarray(runs[at + PACKED_RUN_FIELDS * j + 1]!, runs[at + PACKED_RUN_FIELDS * j + 2]!)
    const key = run(0)
    const parts: Uint8Array[] = []
    for (let j = 1; j < runsPerRecord; j++) parts.push(run(j))
    records[i] = { key: Buffer.from(key.buffer, key.byteOffset, key.length), value: Buffer.concat(parts) }
  }
  return records
}
