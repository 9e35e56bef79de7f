/**
 * `kfs replay --as-of <time>`: each archive table pinned to the snapshot current at that time, read
 * from the table's snapshot log as Iceberg's `as-of-timestamp` does (replay/snapshot-as-of.ts).
 * Views over different topics read different archive tables, so each table gets its own snapshot.
 * A time the archive cannot answer — before its first snapshot, on an expired snapshot, an archive
 * with none — is a usage error (exit 2), as a --snapshot-id the archive does not have is.
 */
import { isoTextOrMs } from '../../core/iso-time.ts'
import type { OfflineCatalog } from '../../ports/offline.ts'
import type { SnapshotLogReader } from '../../ports/snapshot-log.ts'
import { snapshotAsOf } from '../../replay/snapshot-as-of.ts'
import { UsageError } from './command.ts'

export interface PinnedAsOf {
  readonly snapshotId: string
  /** When that snapshot became current. */
  readonly committedAtMs: number
}

/** The archive snapshot of `topic` current at `timeMs`, or a UsageError saying why there is none. */
export async function archiveSnapshotAsOf(
  offline: OfflineCatalog & SnapshotLogReader,
  topic: string,
  timeMs: number,
): Promise<PinnedAsOf> {
  const log = await offline.snapshotLog(offline.tableId({ kind: 'archive', topic }))
  const pick = snapshotAsOf(log, timeMs)
  if (pick.found) return { snapshotId: pick.snapshotId, committedAtMs: pick.committedAtMs }
  const at = `--as-of ${isoTextOrMs(timeMs)}`
  const oldest =
    pick.why === 'empty' ? undefined : `snapshot ${pick.oldest.snapshotId}, current from ${isoTextOrMs(pick.oldest.timestampMs)}`
  switch (pick.why) {
    case 'empty':
      throw new UsageError(
        `${at}: the archive of ${topic} has no snapshot to replay (kfs run archives the topic as it consumes it)`,
      )
    case 'before-first':
      throw new UsageError(`${at}: the archive of ${topic} had no snapshot yet at that time; its first is ${oldest}`)
    case 'expired':
      throw new UsageError(
        `${at}: the archive snapshot of ${topic} current at that time has expired (docs/semantics.md §23) and cannot be replayed; the oldest kept is ${oldest}`,
      )
  }
}
