/**
 * A table's snapshot log: which snapshot became current when (Iceberg's `snapshot-log`), for
 * picking the snapshot current at a time (`kfs replay --as-of`, docs/semantics.md §14), as Iceberg's
 * `as-of-timestamp` read option does. Adapter: adapters/offline/iceberg (the table metadata).
 *
 * Guarantees: `entries` are in log order (oldest first); `kept` says whether the table still has
 * the entry's snapshot (kfs's expiry drops an expired snapshot's entries with it, docs/semantics.md
 * §23; another tool's may leave them).
 * `expiredBefore` is true when snapshots older than the first entry were committed and expired,
 * so a time before that entry fell on a snapshot that can no longer be read, not before the table.
 * A table never written has no entries and nothing expired.
 */
export interface SnapshotLogEntry {
  readonly snapshotId: string
  /** When the snapshot became current (its commit), epoch ms. */
  readonly timestampMs: number
  /** Whether the table still has the snapshot: an expired one cannot be read. */
  readonly kept: boolean
}

export interface SnapshotLog {
  readonly entries: readonly SnapshotLogEntry[]
  readonly expiredBefore: boolean
}

export interface SnapshotLogReader {
  snapshotLog(tableId: string): Promise<SnapshotLog>
}
