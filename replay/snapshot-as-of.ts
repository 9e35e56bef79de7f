/**
 * The snapshot of a table current at a time, read from its snapshot log the way Iceberg's
 * `as-of-timestamp` does (SnapshotUtil.snapshotIdAsOfTime): the last log entry committed at or
 * before the time. A time at or after the last commit (the future included) picks the current
 * snapshot, as Iceberg and Spark do; a time before the first entry picks nothing, and says why —
 * the table had no snapshot yet, or the one current then has expired.
 */
import type { SnapshotLog, SnapshotLogEntry } from '../ports/snapshot-log.ts'

export type SnapshotAsOf =
  | { readonly found: true; readonly snapshotId: string; readonly committedAtMs: number }
  /** The table has no snapshot that can be read. */
  | { readonly found: false; readonly why: 'empty' }
  /** Before the table's first snapshot (`oldest` is that snapshot). */
  | { readonly found: false; readonly why: 'before-first'; readonly oldest: SnapshotLogEntry }
  /** The snapshot current then has expired; `oldest` is the oldest one that can be picked. */
  | { readonly found: false; readonly why: 'expired'; readonly oldest: SnapshotLogEntry }

export function snapshotAsOf(log: SnapshotLog, timeMs: number): SnapshotAsOf {
  let picked: SnapshotLogEntry | undefined
  // Log order, not the largest time: Iceberg takes the last entry at or before the time.
  for (const entry of log.entries) if (entry.timestampMs <= timeMs) picked = entry
  if (picked?.kept === true) return { found: true, snapshotId: picked.snapshotId, committedAtMs: picked.timestampMs }
  const oldest = log.entries.find((e) => e.kept)
  if (picked !== undefined)
    return oldest === undefined ? { found: false, why: 'empty' } : { found: false, why: 'expired', oldest }
  if (oldest === undefined) return { found: false, why: 'empty' }
  return { found: false, why: log.expiredBefore ? 'expired' : 'before-first', oldest }
}
