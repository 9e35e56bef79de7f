/**
 * Source port: where the engine's records come from. A source is a set of partitions (numbered
 * from 0); each partition is a sequence of positioned records. Two kinds:
 *
 * - **Bounded** sources end: a read of a partition yields what the source holds and stops. The raw
 *   archive is one (engine/sources/archive-source.ts, over `ArchiveReader`); a table snapshot is
 *   the next one. Backfill, verify-parity and the live engine's archive catch-up read them.
 * - **Unbounded** sources never end: a reader joins a group, is handed partitions, and is pushed
 *   their records as they arrive. The live event log, Kafka or embedded, is one
 *   (engine/sources/event-log-source.ts, over `EventLog`). The live engine reads it.
 *
 * Either way a partition's records go, batch by batch, into the same partition slot and the same
 * operators (engine/source-driver.ts drains a bounded partition; the live engine feeds what an
 * unbounded reader pushes): which source they came from is invisible below that point, which is
 * what keeps replay equal to live (docs/semantics.md §10–§14).
 *
 * **Positions.** A position is a non-negative integer in decimal (a string: it may pass 2^53; the
 * engine compares positions as BigInts). Along a partition, positions strictly increase, though
 * not necessarily by one: a source may leave positions that hold no record (on Kafka: transaction
 * markers, aborted and compacted records). The position *after* a record at p is p + 1: that is
 * what a checkpoint stores and where a read resumes, so a read from p + 1 yields exactly the
 * records after the one at p. Nothing else is assumed — not that positions are Kafka offsets, nor
 * dense, nor that they count records; a table snapshot can number its rows 0, 1, 2… The field is
 * named `offset` (here, in checkpoints, feature-row origins and dead letters) because the event
 * log was the first source.
 *
 * **Markers.** A bounded source recorded from a live run (the archive) also holds the idle-advance
 * markers that run applied (docs/semantics.md §13), each at the position that was next to be read
 * when it was applied, and yields them in their place so a replay applies them exactly there.
 * Other sources hold none: the live engine makes its own from the wall clock.
 *
 * Guarantees:
 * - A read yields a partition's records in position order, each once; a record batch holds at
 *   least one record. A marker at position p comes after the records before p and before the
 *   record at p (several markers at one position keep their order).
 * - Bounded: a read of the range [from, until) yields the records at from ≤ p < until and the
 *   markers at from ≤ p ≤ until (a marker at p was applied after the record before p, so it
 *   belongs to the stretch that ends at p), then ends. A source fixed at a snapshot (`at`) yields
 *   the same entries on every read, whatever is added to it meanwhile.
 * - Unbounded: a reader sees committed records only (never one of an open or aborted
 *   transaction); a batch not taken whole comes again from its first untaken record; `seek` moves
 *   where the next batch of a partition starts. Committed positions are progress markers for lag
 *   tools only: exactly-once comes from the engine's checkpoints, which store their own positions.
 *
 * Failure modes: `ends` and `read` may reject or throw mid-read (a transient store error); a read
 * is restartable from any position, so the caller retries from its last one. A bounded read that
 * ends short of what a caller needs (records the source never held) is the caller's to detect
 * (the catch-up does: engine/backfill-hand-off.ts). An unbounded reader whose handler throws, or
 * whose client dies for good, stops and reports to `onCrash`; it delivers nothing after that.
 */

/** One record of a partition at its position (`offset`: see Positions above). */
export interface SourceRecord {
  /** The record's position, in decimal. */
  readonly offset: string
  readonly key: Uint8Array | null
  readonly value: Uint8Array | null
  /** When the source took the record (Kafka CreateTime; the archive keeps the live one). */
  readonly timestampMs: number
  readonly headers: Readonly<Record<string, string>>
}

/** The stretch [from, next) of a partition one read covered: its records and positions holding none. */
export interface PositionSpan {
  /** Where the read started: no record lies between it and the first record delivered. */
  readonly from: string
  /** Where the next read starts once everything delivered is taken. */
  readonly next: string
}

/** What a bounded read yields, in position order: up to a batch of records, or one idle marker. */
export type SourceChunk =
  | { readonly kind: 'records'; readonly records: readonly SourceRecord[] }
  | { readonly kind: 'marker'; readonly offset: string; readonly watermarkMs: number }

/** A bounded source's partitions and where each ends, at one snapshot. */
export interface SourceEnds {
  /** The snapshot the ends are taken at; null when the source holds nothing yet. */
  readonly snapshotId: string | null
  /** Per partition holding anything: the position after its last entry (markers included). */
  readonly ends: Readonly<Record<number, string>>
}

export interface PositionRange {
  /** Default: the partition's start. */
  readonly from?: string
  /** Default: the partition's end (at the snapshot). */
  readonly until?: string
}

export interface BoundedSource {
  readonly bounded: true
  /** The partitions and their ends: at the source's fixed snapshot, or the latest one. */
  ends(): Promise<SourceEnds>
  /** This source fixed at `snapshotId` (e.g. from `ends()`): its reads no longer move. */
  at(snapshotId: string): BoundedSource
  /** A partition's entries in `range`, streamed with bounded memory; ends at the range's end. */
  read(partition: number, range?: PositionRange): AsyncIterable<SourceChunk>
}

/** One partition of one stream (on the event log: a topic's partition). */
export interface StreamPartition {
  readonly stream: string
  readonly partition: number
}

/** Records an unbounded reader delivers for one partition it owns. */
export interface SourceBatch extends StreamPartition {
  /** In position order; at least one. */
  readonly records: readonly SourceRecord[]
  /** The position after the last record the source holds for the partition now (lag = end − read). */
  readonly end: string
  /** The stretch the read covered, when wider than its records; absent: exactly the records. */
  readonly span?: PositionSpan
}

export interface SourceReaderHandlers {
  /** One partition's batch; one partition at a time, in position order. Resolving takes it whole. */
  batch(batch: SourceBatch): Promise<void>
  /** The group gave this reader these partitions (its full current assignment). */
  assigned(partitions: readonly StreamPartition[]): Promise<void>
  /** The group is about to take these partitions away; finish or abandon in-flight work. */
  revoked(partitions: readonly StreamPartition[]): Promise<void>
  /**
   * A read moved an owned partition's position to `next` past positions holding no record,
   * delivering nothing: tells "nothing left" from "not read yet" at a partition's end.
   */
  moved(at: StreamPartition, next: string): void
}

export interface SourceReader {
  /** Starts reading; resolves once the reader has joined its group and handled its first assignment. */
  run(handlers: SourceReaderHandlers): Promise<void>
  /** Where the partition's next batch starts (after restoring a checkpoint). */
  seek(at: StreamPartition, position: string): void
  /** Progress marker only: exactly-once comes from checkpoints, which record their own positions. */
  commit(at: StreamPartition, position: string): Promise<void>
  stop(): Promise<void>
}

export interface UnboundedSource {
  readonly bounded: false
  /** Per partition of `stream` (index = partition): the position after its last record now. */
  ends(stream: string): Promise<readonly string[]>
  /**
   * A reader of `streams` in `group`: the group spreads the partitions over its readers and moves
   * them when readers come and go. A partition is read from where the group last committed, or
   * from its beginning; a reader that keeps its own positions (checkpoints) seeks on assignment.
   */
  reader(options: { readonly group: string; readonly streams: readonly string[]; readonly onCrash: (err: unknown) => void }): SourceReader
}

export type Source = BoundedSource | UnboundedSource
