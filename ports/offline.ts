/**
 * Offline port: Iceberg tables (one per view version, one raw archive per source topic).
 * Adapter: adapters/offline/iceberg.
 *
 * Guarantees: staged files are invisible until `commit`; `commit` is idempotent per marker set, so
 * a checkpoint can be rolled forward any number of times. Failure modes: any call may reject with
 * a transient object-store error; a commit that lost an optimistic-concurrency race retries itself.
 */
import type { FeatureViewDef, StampedRow } from '../features/types.ts'

export type OfflineTable =
  | { readonly kind: 'feature'; readonly view: FeatureViewDef }
  | { readonly kind: 'archive'; readonly topic: string }

/** Where a feature row came from: the source record (or idle marker) whose processing emitted it. */
export interface RowOrigin {
  readonly partition: number
  readonly offset: string
  /**
   * Index of the row among all rows emitted at this offset: the rows of the idle markers archived
   * at the offset first (a marker is archived with the next offset to be read, and one idle period
   * can archive several), in marker order, then the record's. Distinct within a partition's offset.
   */
  readonly seq: number
  /** True when an idle marker emitted the row. */
  readonly marker: boolean
}

export interface OfflineFeatureRow extends StampedRow {
  readonly origin: RowOrigin
}

/**
 * One consumed record, or one idle-advance marker, as archived (DESIGN §6). A marker carries
 * `markerWatermarkMs` and no payload; its `offset` is the next offset to be read at that moment, and
 * it sorts before a record with the same offset.
 */
export interface ArchiveRow {
  readonly partition: number
  readonly offset: string
  readonly eventTimeMs: number | null
  readonly key: Uint8Array | null
  readonly schemaId: number | null
  readonly payload: Uint8Array | null
  readonly markerWatermarkMs: number | null
  readonly timestampMs: number
}

/** Staged data files: written, but referenced by no snapshot until `commit`. JSON-safe. */
export interface StagedFiles {
  readonly table: string
  readonly files: readonly unknown[]
  readonly rowCount: number
}

/** Writes offline rows: stage data files, then commit them as one snapshot. */
export interface OfflineWriter {
  /** A stable name for the table (used as a key in checkpoints). */
  tableId(table: OfflineTable): string
  stageFeatureRows(view: FeatureViewDef, rows: readonly OfflineFeatureRow[]): Promise<StagedFiles>
  stageArchiveRows(topic: string, rows: readonly ArchiveRow[]): Promise<StagedFiles>
  /**
   * Appends the staged files as one snapshot whose summary carries `summary`. `markers` are
   * `name → seq` pairs (e.g. `clicks/3 → 17`) recorded in the summary, so that a commit can tell
   * (after a crash, say) that the table already holds them: it then writes nothing. Commit is
   * thus idempotent, and a checkpoint can be rolled forward as often as it is restored.
   */
  commit(tableId: string, staged: readonly StagedFiles[], markers: Readonly<Record<string, number>>, summary: Readonly<Record<string, string>>): Promise<void>
}

/**
 * Reads the raw archive: the replay source (docs/semantics.md §6). Bounded: a read ends at the
 * archive's end, or at a pinned snapshot's.
 */
export interface ArchiveReader {
  /**
   * The committed snapshots of a table, oldest first, each with the markers accumulated up to it
   * (so a feature table and an archive can be compared at the same checkpoints).
   */
  snapshots(tableId: string): Promise<readonly { readonly snapshotId: string; readonly markers: Readonly<Record<string, number>> }[]>
  /**
   * Archived rows of one partition in archive order (offset, markers before the record with the same
   * offset), streamed with bounded memory. Records with fromOffset ≤ offset < untilOffset; markers
   * with fromOffset ≤ offset ≤ untilOffset (a marker archived with offset N was applied after record
   * N − 1, so a position N taken right after a record batch precedes it, and a pinned snapshot whose
   * records end before N holds exactly the markers applied up to that snapshot).
   */
  readArchive(topic: string, partition: number, options?: { readonly fromOffset?: string; readonly untilOffset?: string; readonly snapshotId?: string }): AsyncIterable<ArchiveRow>
  /** Partitions present in the archive and, per partition, the offset after the last archived record. */
  archiveEnd(topic: string, snapshotId?: string): Promise<{ readonly snapshotId: string | null; readonly nextOffsets: Readonly<Record<number, string>> }>
}

/** The engine's offline side: it writes rows and reads back the archive it wrote. */
export type OfflineSink = OfflineWriter & ArchiveReader
