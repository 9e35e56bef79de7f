/**
 * The settings of offline-table hygiene (`kfs compact`, the engine's automatic expiry and
 * compaction), read beside main/config.ts: which snapshots expiry keeps, how old an unnamed file
 * must be before the orphan-file clean-up deletes it, and how old a feature table's day partition
 * must be before `kfs run` compacts it.
 */
import { ConfigError } from '../core/errors.ts'
import { DEFAULT_ORPHAN_MIN_AGE_MS } from '../ports/offline-compaction.ts'
import type { ConfigSource } from './config-source.ts'

/** A day: any read started on a snapshot while it was current (a backfill, a training set's build) finishes. */
export const DEFAULT_SNAPSHOT_RETENTION_MS = 86_400_000
export const DEFAULT_SNAPSHOT_MIN_KEEP = 100
/**
 * Young snapshots beyond the newest 2,000 go too: each partition commits its own snapshot a
 * checkpoint, so a day of them is partitions × 8,640 at 10 s checkpoints, and every commit
 * rewrites the metadata listing them all (~1 kB and ~22 µs of serializing each: 4 partitions,
 * 37 MB and ~0.8 s a commit; docs/semantics.md §23). 2,000 keep a commit near 2 MB and 50 ms.
 */
export const DEFAULT_SNAPSHOT_MAX_KEEP = 2_000

/** As `kfs compact --older-than`'s default: a day partition two days past gets no more rows but a late event's. */
export const DEFAULT_FEATURE_COMPACTION_AGE_MS = 2 * 86_400_000

/**
 * `kfs run` compacts a feature table or an archive at most this often (docs/semantics.md §28, §29),
 * each time at most DEFAULT_COMPACTION_MAX_PARTITIONS day partitions of a feature table, oldest
 * first, or about DEFAULT_COMPACTION_MAX_ARCHIVE_FILES files of an archive (one commit): a week's
 * backlog of a first run takes a few hours, each compaction a short one whose commit seldom loses
 * to a checkpoint.
 */
export const DEFAULT_COMPACTION_EVERY_MS = 10 * 60_000
export const DEFAULT_COMPACTION_MAX_PARTITIONS = 2
export const DEFAULT_COMPACTION_MAX_ARCHIVE_FILES = 10_000

export interface SnapshotSettings {
  /**
   * The snapshots expiry (`kfs compact`, the engine every 100 commits) keeps beside the current one
   * and training sets' pins: superseded less than `maxAgeMs` ago (KFS_SNAPSHOT_RETENTION_MS, 1 day)
   * among the newest `maxSnapshots` (KFS_SNAPSHOT_MAX_KEEP, 2,000), and the newest `minSnapshots`
   * (KFS_SNAPSHOT_MIN_KEEP, 100).
   */
  readonly snapshotRetention: { readonly maxAgeMs: number; readonly minSnapshots: number; readonly maxSnapshots: number }
  /**
   * `kfs compact --remove-orphans` deletes only unnamed files last written longer ago than this
   * (KFS_ORPHAN_MIN_AGE_MS, 3 days as Iceberg's): a younger one may be a commit's in flight.
   */
  readonly orphanMinAgeMs: number
  /**
   * `kfs run` compacts its feature tables' day partitions that ended longer ago than this, and its
   * archives' files committed longer ago (KFS_COMPACT_OLDER_THAN_MS, 2 days); null (`off`): only `kfs compact` does.
   */
  readonly featureCompactionAgeMs: number | null
  /**
   * How `kfs run` paces its compactions: per table at most every `everyMs` (KFS_COMPACT_EVERY_MS,
   * 10 minutes), each at most `maxPartitions` day partitions of a feature table
   * (KFS_COMPACT_MAX_PARTITIONS, 2) or about `maxArchiveFiles` files of an archive
   * (KFS_COMPACT_MAX_ARCHIVE_FILES, 10,000).
   */
  readonly compactionPacing: { readonly everyMs: number; readonly maxPartitions: number; readonly maxArchiveFiles: number }
}

export function snapshotSettings(source: ConfigSource): SnapshotSettings {
  const minSnapshots = source.positiveInt('KFS_SNAPSHOT_MIN_KEEP') ?? DEFAULT_SNAPSHOT_MIN_KEEP
  const maxSnapshots = source.positiveInt('KFS_SNAPSHOT_MAX_KEEP') ?? Math.max(DEFAULT_SNAPSHOT_MAX_KEEP, minSnapshots)
  if (maxSnapshots < minSnapshots) {
    throw new ConfigError(
      `KFS_SNAPSHOT_MAX_KEEP (${maxSnapshots}) must be at least KFS_SNAPSHOT_MIN_KEEP (${minSnapshots}): the newest KFS_SNAPSHOT_MIN_KEEP snapshots are always kept; raise it or unset it`,
      { context: { variable: 'KFS_SNAPSHOT_MAX_KEEP' } },
    )
  }
  return {
    snapshotRetention: {
      maxAgeMs: source.ageMs('KFS_SNAPSHOT_RETENTION_MS') ?? DEFAULT_SNAPSHOT_RETENTION_MS,
      minSnapshots,
      maxSnapshots,
    },
    orphanMinAgeMs: source.ageMs('KFS_ORPHAN_MIN_AGE_MS') ?? DEFAULT_ORPHAN_MIN_AGE_MS,
    featureCompactionAgeMs: featureCompactionAge(source),
    compactionPacing: {
      // Compared with the clock at each commit, never armed as a timer: an age.
      everyMs: source.ageMs('KFS_COMPACT_EVERY_MS') ?? DEFAULT_COMPACTION_EVERY_MS,
      maxPartitions: source.positiveInt('KFS_COMPACT_MAX_PARTITIONS') ?? DEFAULT_COMPACTION_MAX_PARTITIONS,
      maxArchiveFiles: source.positiveInt('KFS_COMPACT_MAX_ARCHIVE_FILES') ?? DEFAULT_COMPACTION_MAX_ARCHIVE_FILES,
    },
  }
}

function featureCompactionAge(source: ConfigSource): number | null {
  const name = 'KFS_COMPACT_OLDER_THAN_MS'
  const raw = source.string(name)
  if (raw === undefined) return DEFAULT_FEATURE_COMPACTION_AGE_MS
  if (raw.toLowerCase() === 'off') return null
  try {
    return source.ageMs(name)!
  } catch {
    // The age's own complaint, with the word that turns it off.
    throw source.invalid(
      name,
      raw,
      "a positive number of milliseconds (e.g. 172800000) or a duration such as '2d', or off (only kfs compact compacts)",
    )
  }
}
