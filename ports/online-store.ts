/**
 * Online store port: Redis, or the embedded store with the same conditional-write and TTL
 * semantics (ports/online-semantics.ts holds the rules both share). Adapters:
 * adapters/online-store/{redis,embedded}; contract suite: test/contracts/online-store.ts.
 *
 * Guarantees: a write never replaces a row with an older `as_of` (an equal one lands: the
 * same event replayed writes the same values); reads of many keys are one round trip. Failure
 * modes: writes and reads may reject (the engine retries writes; serving answers 503 for a failed
 * read); a write is idempotent, so a retried chunk is harmless. A read that will fail however
 * often it is asked — the stored row is not one kfs wrote, or the store refuses the read — rejects
 * (or, for a value decoded on use, throws) with `StoredRowUnreadable`, never as "unavailable".
 */
import { SourceError } from '../core/errors.ts'
import type { FeatureRow, FeatureValue, FeatureViewDef } from '../features/types.ts'

/**
 * A stored row that cannot be read, for good: asking again will not help (so it is not retried,
 * and serving answers it as its own 500, not as an outage's 503). `reason` says which:
 * `corrupt` — the key holds something other than a row kfs wrote (another type of value, an
 * `as_of` or a value whose text does not decode as its declared type): DATA_CORRUPT;
 * `refused` — the store refused the read itself (an ACL, a disabled command): SOURCE_REJECTED.
 * The message may carry the store's own text (for the log); a client is told only `reason`,
 * `view` and `feature` (serving/errors.ts).
 */
export class StoredRowUnreadable extends SourceError {
  readonly reason: 'corrupt' | 'refused'
  readonly view: string | undefined
  readonly feature: string | undefined
  constructor(
    reason: 'corrupt' | 'refused',
    message: string,
    options: { readonly view?: string | undefined; readonly feature?: string | undefined; readonly cause?: unknown } = {},
  ) {
    super(reason === 'corrupt' ? 'DATA_CORRUPT' : 'SOURCE_REJECTED', message, {
      cause: options.cause,
      context: { ...(options.view === undefined ? {} : { view: options.view }), ...(options.feature === undefined ? {} : { feature: options.feature }) },
    })
    this.reason = reason
    this.view = options.view
    this.feature = options.feature
  }
}

export type OnlineStatus = 'PRESENT' | 'MISSING' | 'OUTSIDE_TTL'

export interface OnlineRead {
  readonly status: OnlineStatus
  readonly asOfMs: number | null
  /** Values in the order of the requested feature names; null stays null. */
  readonly values: readonly (FeatureValue)[]
  /**
   * `featureValueJson(values[i] ?? null)` (core/feature-json.ts: JSON.stringify's text, -0 as
   * `-0.0`), written from the stored text where the store keeps values
   * as text, so a reader that only serialises (the serving endpoints) need not decode them.
   * Optional: callers serialise `values[i]` when it is absent.
   */
  readonly valueJson?: (i: number) => string
}

export interface OnlineWriteResult {
  readonly written: number
  /** Rows refused because a fresher `as_of` was already stored (an equal one is overwritten: ties go to the row written last). */
  readonly stale: number
}

export interface OnlineStore {
  /** Conditional on `as_of` (≥ stored), TTL from the view; rows of one key are coalesced to the newest. */
  writeRows(view: FeatureViewDef, rows: readonly FeatureRow[]): Promise<OnlineWriteResult>
  /**
   * One round trip for any number of (view, entity) lookups. `nowMs` decides OUTSIDE_TTL.
   */
  readRows(
    lookups: readonly { readonly view: FeatureViewDef; readonly entityKey: string; readonly features: readonly string[] }[],
    nowMs: number,
  ): Promise<OnlineRead[]>
  /**
   * Makes every write that has returned survive a crash of this process. The engine calls it
   * before it publishes a checkpoint (which counts the rows before its cut as landed, and a
   * restart never writes them again). Absent where a returned write is already as durable as the
   * store gets (Redis: its own persistence settings).
   */
  sync?(): Promise<void>
  /**
   * What the store says about rows it may have dropped on its own, for the engine's loss watch
   * (engine/online-loss-watch.ts): absent where the store cannot tell (the embedded store, whose
   * rows are lost only with its files; a Redis Cluster, whose nodes each have their own).
   */
  health?(): Promise<OnlineStoreHealth | undefined>
  close(): Promise<void>
}

/** See `OnlineStore.health`. A change of either between two asks means rows may be gone. */
export interface OnlineStoreHealth {
  /** The server's identity for this life of it (Redis: `run_id`): changes on a restart or a failover to another server. */
  readonly instance: string
  /** Keys the server dropped to free memory since it started (Redis: `evicted_keys`, every key of the server). */
  readonly evictedKeys: number
}
