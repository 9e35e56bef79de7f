/**
 * Snapshot expiry (Iceberg's expireSnapshots, fitted to kfs): every checkpoint with rows commits a
 * snapshot and every commit rewrites the whole metadata file, so without expiry a table's metadata
 * grows by ~0.9 kB a commit for ever — and so does the cost of every commit and read.
 *
 * What stays (snapshotsToKeep): the current snapshot and every ref's; each snapshot that stopped
 * being current less than `maxAgeMs` ago (a read started on it while it was current — a backfill,
 * a verify-parity, a training set being built — finishes), if it is among the newest
 * `maxSnapshots`; the newest `minSnapshots`; and the ids in `keep` (the snapshots recorded training
 * sets pinned, so they rebuild).
 *
 * How: one metadata commit through the tables' only commit path (commitMetadata), rebuilt on the
 * fresh base when another writer commits first, so no concurrent commit is lost. The snapshot
 * log keeps only the entries after the last expired one (what Java writes: the log stays a
 * history of consecutive current snapshots). Checkpoint markers (`carriedPrefixes` summary keys,
 * read as "the highest value over all snapshots") of expired snapshots are folded into the next
 * kept snapshot's summary, so every kept snapshot's accumulated markers read as before.
 *
 * Files are deleted only after the commit landed (expiry-cleanup.ts); a crash in between leaves
 * files no snapshot names — orphans, harmless, which `kfs compact --remove-orphans` removes
 * (orphan-files.ts).
 */
import { systemClock } from '../../../core/clock.ts'
import { commitMetadata, refreshTable, type CommitOptions, type IcebergTable } from './iceberg-table.ts'
import { deleteExpiredFiles } from './expiry-cleanup.ts'
import { largerInteger } from './rows-through.ts'
import type { Snapshot, TableMetadata } from './table-metadata.ts'
import type { SnapshotRetention } from '../../../ports/offline-compaction.ts'

export type { SnapshotRetention }

export interface ExpiryOptions extends CommitOptions {
  /** Summary keys with these prefixes hold numbers read as a maximum over all snapshots; carried forward. */
  readonly carriedPrefixes?: readonly string[]
  /**
   * At most this many snapshots (the oldest due) expire, and this many old metadata files go, in
   * one run: the engine's automatic expiry must not stall its commits for minutes on a table a
   * month of checkpoints filled; the next runs take the rest. Default: no bound (`kfs compact`).
   */
  readonly maxExpired?: number
}

export interface ExpiryResult {
  readonly table: IcebergTable
  readonly expiredSnapshots: number
  readonly keptSnapshots: number
  /** Manifest lists, manifests, data files and old metadata files deleted after the commit. */
  readonly deletedFiles: number
  /** Deletes that failed: orphans now, harmless. */
  readonly undeletedFiles: number
}

const bySequence = (a: Snapshot, b: Snapshot): number => a['sequence-number'] - b['sequence-number']

/** The ids of `meta`'s snapshots that `retention` keeps at `nowMs`. */
export function snapshotsToKeep(meta: TableMetadata, retention: SnapshotRetention, nowMs: number): Set<bigint> {
  const ordered = [...meta.snapshots].sort(bySequence)
  const maxSnapshots = retention.maxSnapshots ?? Infinity
  const kept = new Set<bigint>()
  if (meta['current-snapshot-id'] >= 0n) kept.add(meta['current-snapshot-id'])
  for (const ref of Object.values(meta.refs)) kept.add(ref['snapshot-id'])
  ordered.forEach((s, i) => {
    const supersededAt = ordered[i + 1]?.['timestamp-ms']
    const young = (supersededAt === undefined || supersededAt >= nowMs - retention.maxAgeMs) && i >= ordered.length - maxSnapshots
    if (young || i >= ordered.length - retention.minSnapshots || retention.keep?.has(String(s['snapshot-id'])) === true)
      kept.add(s['snapshot-id'])
  })
  return kept
}

/** `kept` and every snapshot due to expire beyond the oldest `max` of them. */
function boundExpired(meta: TableMetadata, kept: Set<bigint>, max: number | undefined): Set<bigint> {
  if (max === undefined) return kept
  const due = meta.snapshots.filter((s) => !kept.has(s['snapshot-id'])).sort(bySequence)
  for (const s of due.slice(max)) kept.add(s['snapshot-id'])
  return kept
}

/** `ordered`'s kept snapshots, each carrying the highest carried markers of the expired ones just before it. */
function foldCarried(ordered: readonly Snapshot[], kept: ReadonlySet<bigint>, prefixes: readonly string[]): Snapshot[] {
  const out: Snapshot[] = []
  let carry: Record<string, string> = {}
  for (const s of ordered) {
    const carried = Object.entries(s.summary).filter(([k]) => prefixes.some((p) => k.startsWith(p)))
    if (!kept.has(s['snapshot-id'])) {
      // Compared exactly: a row position (rows-through.ts) passes 2^53.
      for (const [k, v] of carried) carry[k] = largerInteger(carry[k], v)
      continue
    }
    const summary: Record<string, string> = { ...s.summary }
    for (const [k, v] of Object.entries(carry)) summary[k] = largerInteger(summary[k], v)
    out.push(Object.keys(carry).length === 0 ? s : { ...s, summary })
    carry = {}
  }
  return out
}

/** Expires the snapshots `retention` does not keep, then deletes the files only they named. */
export async function expireSnapshots(
  table: IcebergTable,
  retention: SnapshotRetention,
  options: ExpiryOptions = {},
): Promise<ExpiryResult> {
  const clock = options.clock ?? systemClock
  let landedOn: { base: IcebergTable; kept: Set<bigint> } | undefined
  const committed = await commitMetadata<IcebergTable | undefined>(
    await refreshTable(table),
    async (base) => {
      const meta = base.metadata
      const nowMs = Math.max(clock.nowMs(), meta['last-updated-ms'])
      const kept = boundExpired(meta, snapshotsToKeep(meta, retention, nowMs), options.maxExpired)
      if (meta.snapshots.every((s) => kept.has(s['snapshot-id']))) return { done: undefined }
      landedOn = { base, kept }
      const ordered = [...meta.snapshots].sort(bySequence)
      const lastExpired = ordered.findLastIndex((s) => !kept.has(s['snapshot-id']))
      const after = new Set(ordered.slice(lastExpired + 1).map((s) => s['snapshot-id']))
      const next: TableMetadata = {
        ...meta,
        'last-updated-ms': nowMs,
        snapshots: foldCarried(ordered, kept, options.carriedPrefixes ?? []),
        'snapshot-log': meta['snapshot-log'].filter((e) => after.has(e['snapshot-id'])),
      }
      return {
        next,
        written: [],
        result: (t) => ({ ...t, ...(base.currentManifests === undefined ? {} : { currentManifests: base.currentManifests }) }),
      }
    },
    options,
  )
  if (committed === undefined || landedOn === undefined) {
    const now = committed ?? (await refreshTable(table))
    return { table: now, expiredSnapshots: 0, keptSnapshots: now.metadata.snapshots.length, deletedFiles: 0, undeletedFiles: 0 }
  }
  const { base, kept } = landedOn
  const { deleted, failed } = await deleteExpiredFiles(base, kept, committed, options.maxExpired)
  const expired = base.metadata.snapshots.filter((s) => !kept.has(s['snapshot-id'])).length
  return {
    table: committed,
    expiredSnapshots: expired,
    keptSnapshots: committed.metadata.snapshots.length,
    deletedFiles: deleted,
    undeletedFiles: failed,
  }
}
