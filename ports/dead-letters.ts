/**
 * Dead letters port: bad input is data, never a crash and never a silent drop. Every refused record
 * becomes one dead letter with a reason from the closed list below and a human-readable detail.
 * Adapter: engine/dead-letter-topic.ts (a Kafka-compatible topic on the event log).
 */
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
  /** A numeric value an aggregation cannot take: NaN, ±Infinity, beyond ±2^960 for a sum, a long beyond ±2^53. */
  | 'out_of_range'
  /** The event-time field holds a value that is no epoch-millisecond time (e.g. a long beyond ±2^53). */
  | 'invalid_event_time'
  /** A string field that is not valid UTF-8 (a join key with invalid UTF-8 is `invalid_key`). */
  | 'invalid_utf8'
  /** A change record whose `op` is not one of c, r, u, d, or whose images do not fit it (docs/design.md §11). */
  | 'unknown_op'
  /** An update or delete whose `before` image disagrees with the key's current row. */
  | 'before_mismatch'
  /** A delete of a key never seen, or a retraction from a group that never saw the row. */
  | 'unknown_retraction'
  /** A change whose after image holds the CDC tool's unavailable-value placeholder (an unchanged TOASTed column) that nothing the engine holds can fill. */
  | 'unavailable_value'

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
  /**
   * The version of `view` that refused it. Re-drive needs it: a record a view's current version
   * refused (live, or in its backfill) was never applied by that version, while one an earlier
   * version refused may have been accepted by the current version's backfill.
   */
  readonly viewVersion?: number
}

export interface DeadLetterSink {
  write(letters: readonly DeadLetter[]): Promise<void>
  flush(): Promise<void>
}
