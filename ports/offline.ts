/**
 * The engine's offline side: an append-only table per view version (feature rows) and one per
 * source topic (the raw archive, the replay source). Adapter: adapters/offline/iceberg.
 * Contract suite: test/contracts/offline.ts. Reading feature rows back is ports/feature-rows.ts.
 *
 * Guarantees:
 * - Staged files are invisible to every reader until `commit` names them: a crash between stage
 *   and commit leaves garbage files, never rows.
 * - `commit` is idempotent per marker set: a commit whose markers the table already holds (at
 *   equal or higher seq) writes nothing, so a checkpoint can be rolled forward any number of times
 *   (docs/semantics.md §10–§11). A commit without markers always appends.
 * - Commits to one table through one writer apply in call order; each is one snapshot, and a
 *   reader sees a snapshot whole or not at all.
 * - The archive reads back in archive order (docs/semantics.md §12): per partition by offset, an
 *   idle marker before the record of the same offset, each commit's rows in the order staged.
 *
 * Failure modes: any call may reject with a transient object-store error (retry it: staging again
 * writes new files, committing again is idempotent per markers); a commit that lost an
 * optimistic-concurrency race to another writer retries itself and rejects only when it keeps
 * losing. A snapshot id the table does not have rejects; a table never written reads as empty.
 */
import type { FeatureValue, FeatureViewDef, StampedRow } from '../features/types.ts'
import type { Deadline } from '../core/deadline.ts'

/** A view version, as far as naming its table goes. */
export interface ViewVersion {
  readonly name: string
  readonly version: number
}

export type OfflineTable =
  | { readonly kind: 'feature'; readonly view: ViewVersion }
  | { readonly kind: 'archive'; readonly topic: string }

/** A committed snapshot and the markers accumulated up to it (the max seq per marker name). */
export interface OfflineSnapshot {
  readonly snapshotId: string
  readonly markers: Readonly<Record<string, number>>
  /**
   * Per marker name (`<group>/<topic>/<partition>`), accumulated up to this snapshot: the archive
   * position (`offset · 2^21 + row index`, the `seq` column's encoding, docs/semantics.md §12; a
   * decimal string) before which the table holds every row that writer emitted for the partition.
   * Read on feature tables (a catch-up skips those rows); commits from before it was recorded give
   * their checkpoint's next offset (row index 0).
   */
  readonly rowsThrough: Readonly<Record<string, string>>
}

/** Names the tables and lists their snapshots: shared by the writer and every reader. */
export interface OfflineCatalog {
  /** A stable name for the table: a key in checkpoints and training-set records, so it never changes. */
  tableId(table: OfflineTable): string
  /**
   * The committed snapshots of a table, oldest first, each with the markers accumulated up to it
   * (so a feature table and an archive can be compared at the same checkpoints). A table never
   * written has none.
   */
  snapshots(tableId: string): Promise<readonly OfflineSnapshot[]>
}

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
 * A view's rows as columns, in emission order: what the engine keeps between two checkpoints
 * (engine/offline-row-buffer.ts). Held in typed arrays rather than one object per row, because
 * rows wait there for a whole checkpoint interval: objects that live that long survive the young
 * collections and are copied and promoted, which the collector pays for by the byte.
 * Row i is the `OfflineFeatureRow` { entityKeys[i], asOfMs[i], createdAtMs[i], values:
 * featureColumn(f)[i] for each feature f, deleted: deleted[i] === 1, origin: { offset:
 * offsets[i], seq: rowIndexes[i] } } (the origin's partition and marker are not staged).
 */
export interface OfflineRowColumns {
  readonly length: number
  /** Every column holds exactly `length` entries. */
  readonly entityKeys: readonly string[]
  readonly asOfMs: ArrayLike<number>
  readonly createdAtMs: ArrayLike<number>
  readonly offsets: readonly string[]
  readonly rowIndexes: ArrayLike<number>
  /** 1 for a tombstone row. */
  readonly deleted: ArrayLike<number>
  /**
   * Feature `f`'s values in row order, `length` of them. A numeric feature with no null may come as
   * a Float64Array, a view of the buffer's own (the Parquet column is built from it with no copy to
   * a JS array first); read it before the buffer takes rows again.
   */
  featureColumn(f: number): readonly FeatureValue[] | Float64Array
}

/** Rows to stage: as objects, or as the engine's columns. */
export type OfflineRows = readonly OfflineFeatureRow[] | OfflineRowColumns

/** True when `rows` are objects, not the engine's columns. */
export function isOfflineRowArray(rows: OfflineRows): rows is readonly OfflineFeatureRow[] {
  return Array.isArray(rows)
}

/**
 * One consumed record, or one idle-advance marker, as archived (docs/semantics.md §12–§13). A
 * marker carries `markerWatermarkMs` and no payload; its `offset` is the next offset to be read at
 * that moment, and it sorts before a record with the same offset.
 */
export interface ArchiveRow {
  readonly partition: number
  readonly offset: string
  readonly eventTimeMs: number | null
  readonly key: Uint8Array | null
  readonly schemaId: number | null
  readonly payload: Uint8Array | null
  readonly markerWatermarkMs: number | null
  /** The record's log timestamp; -1 when unknown. */
  readonly timestampMs: number
}

/**
 * One partition's archive rows as columns, in archive order (engine/archive-row-buffer.ts): row i
 * is the `ArchiveRow` { partition, offsets[i], eventTimeMs[i], key(i), schemaIds[i], payload(i),
 * markerWatermarkMs[i], timestampMs[i] }, a NaN standing for null in the number columns (no
 * archived time or schema id is NaN). Kept as columns for `OfflineRowColumns`' reason.
 */
export interface ArchiveRowColumns {
  readonly partition: number
  readonly length: number
  readonly offsets: readonly string[]
  readonly eventTimeMs: ArrayLike<number>
  readonly schemaIds: ArrayLike<number>
  readonly markerWatermarkMs: ArrayLike<number>
  readonly timestampMs: ArrayLike<number>
  key(i: number): Uint8Array | null
  payload(i: number): Uint8Array | null
}

/** Archive rows to stage: as objects, or as the engine's columns. */
export type ArchiveRows = readonly ArchiveRow[] | ArchiveRowColumns

/** Staged data files: written, but referenced by no snapshot until `commit`. JSON-safe (checkpoints hold it). */
export interface StagedFiles {
  readonly table: string
  readonly files: readonly unknown[]
  readonly rowCount: number
}

/** Writes offline rows: stage data files, then commit them as one snapshot. */
export interface OfflineWriter extends OfflineCatalog {
  /** Writes the rows' data files (creating the view version's table if needed); nothing is visible yet. */
  stageFeatureRows(view: FeatureViewDef, rows: OfflineRows): Promise<StagedFiles>
  /** Writes archive rows, in the order given (archive order), as data files; nothing is visible yet. */
  stageArchiveRows(topic: string, rows: ArchiveRows): Promise<StagedFiles>
  /**
   * Appends the staged files in one snapshot whose summary carries `summary`: of their own, or
   * shared with other commits to the same table pending at the same time (a group commit,
   * docs/semantics.md §11) — each still resolves or rejects on its own, and a writer's commits
   * with a summary key in common never share one, so they land in call order. `markers` are
   * `name → seq` pairs (e.g. `clicks/3 → 17`) recorded in the summary, so that a commit can tell
   * (after a crash, say) that the table already holds them: it then writes nothing. Commit is
   * thus idempotent, and a checkpoint can be rolled forward as often as it is restored. Rejects
   * (NOT_FOUND) for a table nothing was ever staged to. `until`: the commit's own retries give up
   * there (core/deadline.ts; the live engine's stop deadline), asking the store nothing after it.
   */
  commit(
    tableId: string,
    staged: readonly StagedFiles[],
    markers: Readonly<Record<string, number>>,
    summary: Readonly<Record<string, string>>,
    options?: { readonly until?: Deadline },
  ): Promise<void>
}

/**
 * Reads the raw archive: the replay source (docs/semantics.md §12–§14). Bounded: a read ends at
 * the archive's end, or at a pinned snapshot's.
 */
export interface ArchiveReader extends OfflineCatalog {
  /**
   * Archived rows of one partition in archive order (offset, markers before the record with the same
   * offset), streamed with bounded memory. Records with fromOffset ≤ offset < untilOffset; markers
   * with fromOffset ≤ offset ≤ untilOffset (a marker archived with offset N was applied after record
   * N − 1, so a position N taken right after a record batch precedes it, and a pinned snapshot whose
   * records end before N holds exactly the markers applied up to that snapshot). A topic never
   * archived, or a partition it lacks, yields nothing; an unknown `snapshotId` rejects.
   */
  readArchive(topic: string, partition: number, options?: { readonly fromOffset?: string; readonly untilOffset?: string; readonly snapshotId?: string }): AsyncIterable<ArchiveRow>
  /**
   * The same rows as `readArchive`, in the same order, a few thousand at a time (as the storage
   * reads them; no batch empty): the replay's path, where one async step per row costs more than
   * the row. Every batch is a fresh array the caller may keep.
   */
  readArchiveBatches(
    topic: string,
    partition: number,
    options?: { readonly fromOffset?: string; readonly untilOffset?: string; readonly snapshotId?: string },
  ): AsyncIterable<readonly ArchiveRow[]>
  /**
   * Partitions present in the archive and, per partition, where it ends, at `snapshotId` (default:
   * the current snapshot, whose id is returned): one past the last archived record — or, when the
   * partition's archive ends with idle markers, possibly one past their offset (the offset the next
   * record would have). Either way `readArchive(…, { untilOffset: end })` reads every archived row
   * of the partition, and no record at or past it is archived. A topic never archived gives
   * `{ snapshotId: null, nextOffsets: {} }`.
   */
  archiveEnd(topic: string, snapshotId?: string): Promise<{ readonly snapshotId: string | null; readonly nextOffsets: Readonly<Record<number, string>> }>
}

/** The engine's offline side: it writes rows and reads back the archive it wrote. */
export type OfflineSink = OfflineWriter & ArchiveReader
