/**
 * A table's snapshot log (ports/snapshot-log.ts) from its metadata. Expiry (./snapshot-expiry.ts)
 * keeps the log entries after the last expired snapshot, so the first entry's snapshot having a
 * parent means older snapshots were committed and expired. An entry whose snapshot the table no
 * longer lists (another tool's expiry) is kept in the log, marked so: a time it was current at
 * must not fall back to the entry before it.
 */
import type { ObjectStore } from '../../../ports/object-store.ts'
import type { SnapshotLog } from '../../../ports/snapshot-log.ts'
import { loadTableOrNone } from './damaged-table.ts'

export async function readSnapshotLog(store: ObjectStore, tableId: string): Promise<SnapshotLog> {
  const table = await loadTableOrNone(store, tableId)
  if (table === undefined) return { entries: [], expiredBefore: false }
  const { snapshots } = table.metadata
  const byId = new Map(snapshots.map((s) => [s['snapshot-id'], s]))
  const log = table.metadata['snapshot-log']
  const first = log[0] === undefined ? undefined : byId.get(log[0]['snapshot-id'])
  // No log entry while snapshots are listed (a writer that keeps no log): nothing can be picked.
  const expiredBefore = log.length === 0 ? snapshots.length > 0 : first?.['parent-snapshot-id'] !== undefined
  return {
    entries: log.map((e) => ({
      snapshotId: String(e['snapshot-id']),
      timestampMs: e['timestamp-ms'],
      kept: byId.has(e['snapshot-id']),
    })),
    expiredBefore,
  }
}
