/**
 * Serving store port: what the feature server (serving/server/) needs from an online store —
 * reads, and optionally a change feed for WebSocket push and a readiness probe for `/healthz`.
 * Adapters: `RedisOnlineStore` and `EmbeddedOnlineStore` (adapters/online-store/{redis,embedded})
 * implement all of it; a store with only `readRows` serves HTTP reads, pushes nothing and reports
 * itself always ready. Contract suite: test/contracts/online-store.ts (reads, statuses, the
 * change feed), which both adapters run.
 *
 * Guarantees:
 * - `readRows` answers every lookup in one round trip, in the order asked, with each read's
 *   status (PRESENT, MISSING, OUTSIDE_TTL — the TTL boundary of ports/online-semantics.ts) and its
 *   values in the order of the requested feature names.
 * - `subscribeChanges` resolves once the feed is active; from then on the listener is called once
 *   per row that lands in one of `views` (from any writer), after the row is readable. Rows of one
 *   entity key arrive in landing order, and no row older than the stored one lands (a no-op
 *   rewrite is not announced), so a key's pushed `as_of` never goes back. The returned function
 *   ends the feed.
 * - `isReady` is cheap and synchronous (it is called on every `/healthz`).
 *
 * Failure modes:
 * - `readRows` rejects when the store is unreachable (a `SOURCE_UNAVAILABLE` error, answered 503)
 *   at once rather than queueing while disconnected; the server never retries a read for a client.
 * - The change feed is at most once: rows that land while its connection is down are not replayed
 *   (subscribers read the current row as a snapshot when they subscribe). `subscribeChanges` may
 *   take long or reject when the store is down; the server waits for it only briefly at start.
 * - A listener's exception is the listener's: it breaks neither the feed nor the write that landed.
 */
import type { FeatureViewDef } from '../features/types.ts'
import type { OnlineChangeListener } from './online-semantics.ts'
import type { OnlineStore } from './online-store.ts'

export interface ServingStore extends Pick<OnlineStore, 'readRows'> {
  /** Calls `listener` with every row that lands in one of `views`; resolves once active with the function that ends it. */
  subscribeChanges?(views: readonly FeatureViewDef[], listener: OnlineChangeListener): Promise<() => Promise<void>>
  /** True while reads can succeed (for `/healthz`); absent = always ready. */
  isReady?(): boolean
}
