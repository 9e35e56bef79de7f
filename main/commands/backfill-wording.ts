/**
 * How kfs replay, kfs registry show and kfs registry list word a view's backfill status, from one
 * place so they cannot drift: a view kfs run found no archived history for was never backfilled —
 * settleBackfills (replay/backfill-before-live.ts) marks it complete at once, with no offsets, and
 * computes it live from the start of its topic.
 */
import type { TopicPartitionOffset } from '../../ports/event-log.ts'
import type { BackfillStatus } from '../../registry/index.ts'

const NEVER_BACKFILLED = 'never backfilled'

/** A complete status with no offsets: only kfs run writes one, for a view whose archive was empty. */
export function isLiveFromStart(status: Pick<BackfillStatus, 'state' | 'completeThrough'>): boolean {
  return status.state === 'complete' && status.completeThrough.length === 0
}

/** Why a view live from the start has no backfill; `topic` is the topic it consumes: its internal topic, for a re-keyed view. */
function liveFromStartReason(topic: string): string {
  return `computed live from the start of ${topic} (its archive was empty when kfs run first ran the view)`
}

/** kfs replay's words for a view live from the start. */
export function neverBackfilledText(topic: string): string {
  return `${NEVER_BACKFILLED}: ${liveFromStartReason(topic)}`
}

/**
 * registry show's backfill line for a view live from the start: shaped as for the other states
 * (`pending (updated …)`, `complete (updated …) through …`), with replay's reason. The stored state
 * (complete) is not said: "complete" beside "never backfilled" contradicts itself.
 */
export function neverBackfilledStatusText(topic: string, updated: string): string {
  return `${NEVER_BACKFILLED} (updated ${updated}): ${liveFromStartReason(topic)}`
}

/**
 * The status in a word or two, for a table (registry list's BACKFILL column): its state, or for a
 * view computed live from the start the opening words of registry show's line and replay's —
 * "complete" there would claim a backfill that never ran.
 */
export function backfillStateText(status: Pick<BackfillStatus, 'state' | 'completeThrough'> | undefined): string {
  if (status === undefined) return 'unknown'
  return isLiveFromStart(status) ? `${NEVER_BACKFILLED} (live from the start)` : status.state
}

/**
 * A status as --json prints it (registry show, registry list): the stored status (a view live from
 * the start is stored complete, with no offsets), marked liveFromStart as replay --json marks the
 * view, so a reader need not infer it from the empty offsets.
 */
export function backfillJson<S extends Pick<BackfillStatus, 'state' | 'completeThrough'>>(
  status: S | undefined,
): (S & { readonly liveFromStart?: true }) | undefined {
  return status !== undefined && isLiveFromStart(status) ? { ...status, liveFromStart: true } : status
}

/**
 * The offsets a backfill is complete through, as people read them — `clicks/0@112, clicks/1@98`,
 * each partition's next offset to read — for registry show and replay's text (their --json keeps
 * the data).
 */
export function completeThroughText(offsets: readonly TopicPartitionOffset[]): string {
  return offsets.map((o) => `${o.topic}/${o.partition}@${o.offset}`).join(', ')
}

/** A backfill result's offsets (partition → offset, all of `topic`) as completeThroughText takes them. */
export function topicOffsets(topic: string, byPartition: Readonly<Record<number, string>>): TopicPartitionOffset[] {
  return Object.entries(byPartition).map(([partition, offset]) => ({ topic, partition: Number(partition), offset }))
}
