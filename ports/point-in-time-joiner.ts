/**
 * The port between the training-set builder (training/) and the engine that does the
 * point-in-time join. Adapter: adapters/duckdb (tests check it against a brute-force oracle,
 * test/unit/training/training-set.test.ts). Its inputs are local Parquet files: the label rows
 * (written with ports/parquet-codec.ts) and each view's pinned feature files
 * (ports/feature-rows.ts `pinFeatureFiles`, in the layout documented there).
 *
 * Contract (training/README.md "Semantics"), per label row (key k, label time t) and per feature
 * of one view:
 * - point-in-time: the row of k with the greatest (as_of, seq) such that as_of ≤ t — ties on
 *   as_of break by archive order (seq; a null seq sorts first) — and its values only if
 *   as_of > t − ttl, else null. No row from after t is ever read.
 * - as served: among the rows of k with created_at ≤ t (what had reached the online store by t),
 *   the one the online store's conditional write keeps: greatest (as_of, created_at, seq); its
 *   values only if as_of > t − ttl (serving's OUTSIDE_TTL boundary), else null.
 * A null key, an unknown key and a key whose rows all lie after t give null. Nulls stay null.
 * `write` produces the same bytes for the same inputs (fixed writer settings, label order, no
 * wall-clock field), so a rebuilt training set can be compared by its sha256.
 *
 * Failure modes: a missing or unreadable input file rejects; so does an output path that cannot
 * be written (a partial file may be left behind: the caller removes it). Spilling past memory goes
 * to the temp directory the adapter was given; a full disk rejects. `close` frees the engine; the
 * joiner is unusable afterwards.
 */
import type { FeatureValue, FeatureValueType } from '../features/types.ts'
import type { TieKeyBounds } from './feature-rows.ts'

export interface ViewJoinSpec {
  /** Local paths of the Parquet data files of the pinned snapshot. */
  readonly files: readonly string[]
  readonly features: readonly { readonly name: string; readonly type: FeatureValueType }[]
  readonly ttlMs: number
  readonly asServed: boolean
  /** Column of the label-keys file holding this view's encoded entity key. */
  readonly keyColumn: string
  /** What the pinned files' writer vouches for (ports/feature-rows.ts); absent: assume nothing. */
  readonly tieKeyBounds?: TieKeyBounds
}

/**
 * Where the label rows come from, with per row `__kfs_row` (0…n−1, label order), `__kfs_t`
 * (label time, epoch µs) and one encoded entity key per join-key tuple (`__kfs_k0`, …):
 * - `files`: the label columns in one Parquet file and those computed columns, computed in JS, in
 *   another with the same rows in the same order; that file holds the label time as `__kfs_t_ms`
 *   (epoch ms: a JS number is exact there for any year up to 9999, µs is not past 2255);
 * - `derived`: one Parquet label file, the computed columns given as SQL expressions over its
 *   columns (only for the simple cases whose SQL is exactly the JS rule: see
 *   training/create-training-set.ts). The SQL is plain (CAST, floor, epoch_us, NULLIF):
 *   an adapter must evaluate it.
 */
export type LabelSource =
  | { readonly kind: 'files'; readonly labels: string; readonly keys: string; readonly rowCount: number }
  | { readonly kind: 'derived'; readonly labels: string; readonly timeUs: string; readonly keys: Readonly<Record<string, string>>; readonly rowCount: number }

export interface OutputSpec {
  readonly path: string
  /** Stored feature columns: output name, the view (index into `views`) and its feature. */
  readonly columns: readonly { readonly column: string; readonly view: number; readonly feature: string }[]
  /** Parquet with `__kfs_row` and extra columns (request features), appended after the rest. */
  readonly extra?: { readonly path: string; readonly columns: readonly string[] }
  readonly keyValueMetadata: Readonly<Record<string, string>>
  /**
   * How the label columns reach the output: `carried` through the joins (the default), or put
   * `beside` the joined rows by position, as every set recorded before the carried form was
   * written. Same rows and columns either way; the bytes can differ (row-group boundaries), so a
   * rebuild asks for the layout its record names. Labels of kind `files` are always put beside.
   */
  readonly labelColumns?: 'carried' | 'beside'
}

export interface PointInTimeJoiner {
  /** One view's features as JS values: one array per feature, one value per label row, label order. */
  fetch(labels: LabelSource, spec: ViewJoinSpec): Promise<FeatureValue[][]>
  /** Joins every view and writes the output file: label columns, then `columns`, then `extra`. */
  write(labels: LabelSource, views: readonly ViewJoinSpec[], output: OutputSpec): Promise<void>
  /** Per column of the Parquet file at `path` (one `write` wrote), how many of its cells are not null. */
  countValued(path: string, columns: readonly string[]): Promise<Record<string, number>>
  close(): Promise<void>
}
