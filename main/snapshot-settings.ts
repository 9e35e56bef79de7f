/**
 * The settings of offline-table hygiene (`kfs compact`, the engine's automatic expiry), read
 * beside main/config.ts: which snapshots expiry keeps, and how old an unnamed file must be before
 * the orphan-file clean-up deletes it.
 */
import { DEFAULT_ORPHAN_MIN_AGE_MS } from '../ports/offline-compaction.ts'
import type { ConfigSource } from './config-source.ts'

/** A day: any read started on a snapshot while it was current (a backfill, a training set's build) finishes. */
export const DEFAULT_SNAPSHOT_RETENTION_MS = 86_400_000
export const DEFAULT_SNAPSHOT_MIN_KEEP = 100

export interface SnapshotSettings {
  /**
   * The snapshots expiry (`kfs compact`, the engine every 100 commits) keeps beside the current one
   * and training sets' pins: superseded less than `maxAgeMs` ago (KFS_SNAPSHOT_RETENTION_MS, 1 day;
   * ~8,640 snapshots, ~8 MB a table at 10 s checkpoints) and the newest `minSnapshots` (100).
   */
  readonly snapshotRetention: { readonly maxAgeMs: number; readonly minSnapshots: number }
  /**
   * `kfs compact --remove-orphans` deletes only unnamed files last written longer ago than this
   * (KFS_ORPHAN_MIN_AGE_MS, 3 days as Iceberg's): a younger one may be a commit's in flight.
   */
  readonly orphanMinAgeMs: number
}

export function snapshotSettings(source: ConfigSource): SnapshotSettings {
  return {
    snapshotRetention: {
      maxAgeMs: source.ageMs('KFS_SNAPSHOT_RETENTION_MS') ?? DEFAULT_SNAPSHOT_RETENTION_MS,
      minSnapshots: source.positiveInt('KFS_SNAPSHOT_MIN_KEEP') ?? DEFAULT_SNAPSHOT_MIN_KEEP,
    },
    orphanMinAgeMs: source.ageMs('KFS_ORPHAN_MIN_AGE_MS') ?? DEFAULT_ORPHAN_MIN_AGE_MS,
  }
}
