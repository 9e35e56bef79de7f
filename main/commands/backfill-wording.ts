/**
 * How kfs replay and kfs registry show word a view's backfill status, from one place so the two
 * cannot drift: a view kfs run found no archived history for was never backfilled — settleBackfills
 * (replay/backfill-before-live.ts) marks it complete at once, with no offsets, and computes it live
 * from the start of its topic.
 */
import type { BackfillStatus } from '../../registry/index.ts'

/** A complete status with no offsets: only kfs run writes one, for a view whose archive was empty. */
export function isLiveFromStart(status: Pick<BackfillStatus, 'state' | 'completeThrough'>): boolean {
  return status.state === 'complete' && status.completeThrough.length === 0
}

/** `topic` is the topic the view consumes: its internal topic, for a re-keyed view. */
export function neverBackfilledText(topic: string): string {
  return `never backfilled: computed live from the start of ${topic} (its archive was empty when kfs run first ran the view)`
}
