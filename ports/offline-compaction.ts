/**
 * Small-file hygiene of the feature tables (`kfs compact`): every checkpoint commits a few small
 * files per day partition; compaction rewrites old partitions' files into few large ones.
 * Adapter: adapters/offline/iceberg. Contract suite: test/contracts/offline.ts.
 *
 * Guarantees: the rows do not change — a reader of the new snapshot sees the same rows per
 * entity, in the same archive order, and snapshots taken before it still read as they did (a
 * training set pinned to one rebuilds byte for byte). Compacting again with nothing left to do
 * commits nothing. A partition is streamed into bounded files, never held whole in memory (the
 * engine compacts on its own process: docs/semantics.md §28).
 *
 * Failure modes: a transient object-store error rejects (files written are garbage until a
 * commit names them; run it again) — `kfs compact` gives it a store whose reads and writes ask
 * again first (main/runtime.ts). The table changes only at the commit, so a failure before it
 * leaves the table as it was. A commit that races another writer is rebuilt on the fresh
 * table; when another compaction already replaced the same files, it stops and reports so in
 * `status` rather than rewriting them twice.
 */
import type { FeatureViewDef } from '../features/types.ts'
import type { OfflineTable, StagedFiles } from './offline.ts'

export interface CompactionSummary {
  readonly removedFiles: number
  readonly addedFiles: number
  /** How the commit ended (e.g. `committed`, `skipped`); undefined when there was nothing to compact. */
  readonly status: string | undefined
}

/**
 * Which snapshots of a table snapshot expiry keeps (docs/semantics.md, snapshot expiry): the
 * current one; those superseded less than `maxAgeMs` ago, up to the newest `maxSnapshots`; the
 * newest `minSnapshots`; and `keep` (decimal ids: the snapshots recorded training sets pinned).
 */
export interface SnapshotRetention {
  readonly maxAgeMs: number
  readonly minSnapshots: number
  /**
   * Snapshots younger than `maxAgeMs` are kept only among the newest this many (absent: all of
   * them). Every partition of a topic commits its own snapshot at each checkpoint, so an age alone
   * keeps partitions × a day of checkpoints — and every commit rewrites them all.
   */
  readonly maxSnapshots?: number
  readonly keep?: ReadonlySet<string>
}

export interface ExpirySummary {
  readonly expiredSnapshots: number
  readonly keptSnapshots: number
  /** Files only expired snapshots named (manifest lists, manifests, data files compaction replaced) and old metadata files, deleted. */
  readonly deletedFiles: number
}

/** Iceberg's default `older_than` of its orphan-file removal: three days outlast any commit in flight. */
export const DEFAULT_ORPHAN_MIN_AGE_MS = 3 * 86_400_000

/** What to remove of a table's orphan files (docs/semantics.md, orphan files). */
export interface OrphanRemoval {
  /** Only objects last written longer ago than this go: younger ones may be a commit's in flight. */
  readonly minAgeMs: number
  /** Report what would go; delete nothing. */
  readonly dryRun: boolean
  /** What published checkpoint records staged: a restart's roll-forward commits these files, kept. */
  readonly staged: readonly StagedFiles[]
}

export interface OrphanRemovalSummary {
  /** Objects no metadata names, old enough to go (in a dry run: that would go). */
  readonly orphanFiles: number
  readonly orphanBytes: number
  readonly deletedFiles: number
  readonly deletedBytes: number
  /** Objects no metadata names, kept because they are younger than `minAgeMs`. */
  readonly keptTooYoung: number
  /** Deletes that failed: still orphans, for the next run. */
  readonly failedDeletes: number
}

/** Which files of a topic's raw archive `compactArchive` merges (docs/semantics.md, archive compaction). */
export interface ArchiveCompaction {
  /** Only files committed before this time (ms since the epoch), and those before them in offset order. */
  readonly committedBeforeMs: number
  /** Rows a merged file holds at most, plus its last input file's (default 262,144). */
  readonly rowsPerFile?: number
  /** Files replaced per commit, about (default 10,000): a failure later keeps what was committed. */
  readonly filesPerCommit?: number
}

export interface OfflineCompactor {
  /** Compacts the view version's day partitions strictly before `olderThanDay` (days since the epoch, UTC). */
  compactFeatureTable(view: FeatureViewDef, options: { readonly olderThanDay: number }): Promise<CompactionSummary>
  /**
   * Merges runs of the topic's old archive files, per partition in offset order: every partition
   * reads the same records and markers in the same order, and where it ends stays the same. No
   * archive: nothing. Commits every `filesPerCommit` files or so. `status` `superseded`: another
   * compaction replaced some of the files first (the counts are what this one committed before;
   * run it again). Safe while the engine appends.
   */
  compactArchive(topic: string, options: ArchiveCompaction): Promise<CompactionSummary>
  /**
   * Expires the table's snapshots `retention` does not keep, in one metadata commit (a concurrent
   * commit is never lost), then deletes the files no kept snapshot references. No table: nothing.
   * Snapshots kept read exactly as before; a read of an expired one fails naming it.
   */
  expireSnapshots(table: OfflineTable, retention: SnapshotRetention): Promise<ExpirySummary>
  /**
   * Deletes the table's orphan files: objects under its location no metadata names, older than
   * `minAgeMs`. No table: nothing. A damaged table (metadata, a manifest list or a manifest that
   * cannot be found or read) is refused before anything is deleted.
   */
  removeOrphanFiles(table: OfflineTable, removal: OrphanRemoval): Promise<OrphanRemovalSummary>
}

/** The two kinds of table `kfs run` compacts by itself: feature tables' day partitions, archives' files. */
export type CompactionKind = 'features' | 'archive'

/** How one of `kfs run`'s background compactions ended: it replaced files, found none worth it (or another compaction first), or failed. */
export type CompactionOutcome = 'committed' | 'nothing' | 'failed'

/** What `kfs run`'s background compactions of one kind did (the process's own, since it started): its metrics (main/metrics-server.ts). */
export interface CompactionKindStats {
  readonly runs: Record<CompactionOutcome, number>
  /** Files the committed compactions replaced, and the files they wrote in their place. */
  filesRewritten: number
  filesWritten: number
  /** Manifests the compactions' plans decoded (feature tables: the others skipped by summary or remembered). */
  manifestsRead: number
  /** When the last compaction ended (ms since the epoch) and how long it took; undefined before the first. */
  lastRunEndMs: number | undefined
  lastRunDurationMs: number | undefined
}

export type CompactionStats = Readonly<Record<CompactionKind, CompactionKindStats>>

export function createCompactionStats(): CompactionStats {
  const kind = (): CompactionKindStats => ({
    runs: { committed: 0, nothing: 0, failed: 0 },
    filesRewritten: 0,
    filesWritten: 0,
    manifestsRead: 0,
    lastRunEndMs: undefined,
    lastRunDurationMs: undefined,
  })
  return { features: kind(), archive: kind() }
}
