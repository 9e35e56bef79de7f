/**
 * The port between the training-set builder and the engine that does the point-in-time join
 * (training/duckdb/ implements it; tests check it against a brute-force oracle).
 *
 * Contract (DESIGN §9), per label row (key k, label time t) and per feature of one view:
 * - point-in-time: the row of k with the greatest (as_of, seq) such that as_of ≤ t — ties on
 *   as_of break by archive order (seq; a null seq sorts first) — and its values only if
 *   as_of > t − ttl, else null. No row from after t is ever read.
 * - as served: among the rows of k with created_at ≤ t (what had reached the online store by t),
 *   the one the online store's conditional write keeps: greatest (as_of, created_at, seq); its
 *   values only if as_of > t − ttl (serving's OUTSIDE_TTL boundary), else null.
 * A null key, an unknown key and a key whose rows all lie after t give null. Nulls stay null.
 */
import type { FeatureValue, FeatureValueType } from '../operators/define/types.ts'

export interface ViewJoinSpec {
  /** Local paths of the Parquet data files of the pinned snapshot. */
  readonly files: readonly string[]
  readonly features: readonly { readonly name: string; readonly type: FeatureValueType }[]
  readonly ttlMs: number
  readonly asServed: boolean
  /** Column of the label-keys file holding this view's encoded entity key. */
  readonly keyColumn: string
}

/**
 * The label-keys file is Parquet with `row_idx` (int, 0…n−1), `t_us` (long, label time in epoch
 * µs) and one string column per entity key tuple.
 */
export interface PointInTimeJoiner {
  /** One array per feature of `spec`, each with one value per label row, in label order. */
  join(labelKeysPath: string, rowCount: number, spec: ViewJoinSpec): Promise<FeatureValue[][]>
  close(): Promise<void>
}
