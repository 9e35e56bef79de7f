/**
 * Reads a view version's feature table back: for verify-parity (rows per entity at a snapshot),
 * the online reload (each entity's latest row, streamed in entity shards) and training sets (the
 * pinned snapshot as local Parquet files a PointInTimeJoiner reads, ports/point-in-time-joiner.ts).
 * Adapter: adapters/offline/iceberg. Contract suite: test/contracts/offline.ts and
 * offline-latest-rows.ts.
 *
 * Guarantees:
 * - A read sees exactly one committed snapshot (the current one unless pinned): never a staged
 *   file, never half a commit. Pinning the same snapshot gives the same rows every time, which
 *   is what makes a training set rebuildable.
 * - Rows of one entity come in archive order (by `seq`, docs/semantics.md §12; then as_of), the
 *   order the engine emitted them, so the last one is what the online store's conditional write
 *   kept.
 * - Values read back equal the values written (numbers, strings, arrays, nulls); `created_at` is
 *   not returned by `readFeatureRows` (parity ignores it).
 * - A null `seq` (a table written by someone else, or by a kfs before it wrote one) orders before
 *   every other seq of the entity — as the training join's tie key has it (adapters/duckdb/tie-key.ts):
 *   such rows were written before any row with one — and null-seq rows among themselves by as_of,
 *   then in the order the table's files hold them.
 *
 * Failure modes: a transient object-store error rejects (reads are safe to retry); a snapshot id
 * the table does not have rejects; a table that does not exist reads as empty, except that
 * pinning a given snapshot id of a missing table rejects with NOT_FOUND (a training set whose
 * table is gone cannot be rebuilt). `readFeatureRows` holds the rows of the entities it reads in
 * memory (every row of their history: of the whole table when no shard is given) and only those —
 * the other shards' rows are skipped as the files stream by; `readLatestFeatureRows` streams the
 * files and holds one row per entity of the shard it reads, and no more than `maxEntities` of them.
 */
import type { FeatureRow, FeatureViewDef } from '../features/types.ts'
import type { OfflineCatalog, ViewVersion } from './offline.ts'

/**
 * A feature table pinned at one snapshot, as local Parquet files of the feature-table layout:
 * `entity_key` string, then one column per join key of the view's entity named as the key (string,
 * or int64 for an `int` entity; decoded from entity_key, null where an int part is no int64; absent
 * in tables created before kfs 0.2), `as_of` and `created_at` timestamps (UTC, µs), `seq` int64
 * (archive order, may be null), then one column per feature of the view, named as the feature.
 * Contract: test/contracts/offline.ts and offline-join-keys.ts.
 */
export interface PinnedFeatureFiles {
  /** The snapshot read (decimal; 63-bit, so never a JS number), or null for a table with none. */
  readonly snapshotId: string | null
  readonly files: readonly string[]
  /**
   * What the table's writer vouches for about these files' `as_of` and `seq` (see TieKeyBounds);
   * absent when it does not (a table written by someone else or by an earlier kfs, or one with no rows).
   */
  readonly tieKeyBounds?: TieKeyBounds
}

/**
 * Facts about every row of a pinned snapshot that let a join order (as_of, seq) by one 64-bit key
 * instead of a 128-bit one (adapters/duckdb/tie-key.ts): the spans come from the files' column
 * bounds, the rest only from what the writer recorded (a bound cannot say that every as_of is a
 * whole millisecond, nor how large a row index within one offset gets).
 * - every `as_of` is a whole millisecond in [asOfMinMs, asOfMaxMs];
 * - every non-null `seq` lies in [seq.min, seq.max] (`seq` absent: every seq is null), and its row
 *   index within the offset (`seq & (2^21 − 1)`, offline-sink.ts `archiveSeq`) is below 2^seqIndexBits.
 */
export interface TieKeyBounds {
  readonly asOfMinMs: number
  readonly asOfMaxMs: number
  readonly seq?: { readonly min: bigint; readonly max: bigint }
  /** 0…21. */
  readonly seqIndexBits: number
  /** True when no row has a null `seq` (every file's null count of it is 0); absent: nulls may occur. */
  readonly seqNullFree?: boolean
  /**
   * True when no two rows share (entity_key, as_of) (the writer checked every commit): the tie
   * rule never has two rows to choose between, so a join may compare as_of alone. Absent: ties may occur.
   */
  readonly tieFree?: boolean
}

export interface FeatureTableStats {
  /** The newest `as_of` among the rows; absent when the files carry no bound. */
  readonly newestAsOfMs?: number
  readonly rows: number
  /** Per scalar feature of the view the table has, how many rows hold null (list features are left out). */
  readonly nullsByFeature: Readonly<Record<string, number>>
}

/**
 * The shard of an entity among `of`: FNV-1a (32 bits) of the key's UTF-16 code units, mod `of`.
 * Any split of a shard is a refinement of it — shard i of n is the union of shards i + j·n of k·n,
 * j < k — which is what lets a reload split a shard that held too many entities (engine/online-reload.ts).
 */
export function entityShardOf(entityKey: string, of: number): number {
  let h = 0x811c9dc5
  for (let i = 0; i < entityKey.length; i++) h = Math.imul(h ^ entityKey.charCodeAt(i), 0x01000193)
  return (h >>> 0) % of
}

/** Which entities a pass reads: those with `entityShardOf(key, of) === index`. */
export interface EntityShard {
  readonly index: number
  readonly of: number
}

export interface FeatureRowsOptions {
  /** undefined = the current snapshot; null = none (an empty map: "the table had no snapshot at this cut"). */
  readonly snapshotId?: string | null
  /** Default: every entity (shard 0 of 1). */
  readonly shard?: EntityShard
}

export interface LatestFeatureRowsOptions {
  /** undefined = the current snapshot; null = none (complete and empty). */
  readonly snapshotId?: string | null
  /** Default: every entity (shard 0 of 1). */
  readonly shard?: EntityShard
  /** The most entities the pass may hold; one more and it stops reading (`complete: false`). Default: no bound. */
  readonly maxEntities?: number
}

/**
 * A pass of readLatestFeatureRows: each entity of the shard with its latest row, or — when the shard
 * holds more entities than `maxEntities` — how far the pass got before it gave up: rows read (of
 * every shard: all are read, the others' skipped) out of the table's rows, so the caller can tell
 * how many shards to split this one into.
 */
export type LatestFeatureRows =
  | { readonly complete: true; readonly rows: ReadonlyMap<string, FeatureRow> }
  | { readonly complete: false; readonly rowsRead: number; readonly rowsInTable: number }

export interface FeatureRowReader extends OfflineCatalog {
  /**
   * The rows of a view version per entity, in archive order, for the entities of `shard` (each
   * with every row it has: the lists are those of the whole read). Memory: the shard's rows alone,
   * as the files are streamed and the other entities' rows skipped — verify-parity
   * (replay/verify-parity.ts) compares a big table a shard at a time.
   */
  readFeatureRows(view: FeatureViewDef, options?: FeatureRowsOptions): Promise<Map<string, FeatureRow[]>>
  /**
   * Each entity's latest row — the last row `readFeatureRows` gives it at the same snapshot (a
   * tombstone included; of rows equal in seq and as_of, the one the files hold last) — for the
   * entities of `shard`, read in one streamed pass over the table's files that keeps only the best
   * row so far per entity: memory O(entities of the shard), not O(rows). The online reload
   * (engine/online-reload.ts) walks the shards one after another.
   */
  readLatestFeatureRows(view: FeatureViewDef, options?: LatestFeatureRowsOptions): Promise<LatestFeatureRows>
  /**
   * The view version's current snapshot (or the one `snapshotId` pins; null = none) in numbers,
   * from table metadata alone (cheap enough for a status page); undefined when the table is missing
   * or has no snapshot. verify-parity sizes its passes by the pinned snapshot's `rows`.
   */
  featureTableStats(
    view: ViewVersion & Pick<FeatureViewDef, 'features'>,
    options?: { readonly snapshotId?: string | null },
  ): Promise<FeatureTableStats | undefined>
  /**
   * The view version's table at a snapshot as local Parquet files (see PinnedFeatureFiles).
   * `snapshotId`: undefined = the current one (none yet → `{ snapshotId: null, files: [] }`);
   * null = read as empty. Files of a remote store are copied under `tempDir`, which the caller
   * owns and removes; a local store's files may be returned in place (read them, never change them).
   */
  pinFeatureFiles(view: ViewVersion, options: { readonly snapshotId: string | null | undefined; readonly tempDir: string }): Promise<PinnedFeatureFiles>
}
