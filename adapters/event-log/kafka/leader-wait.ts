/**
 * Waiting out a partition leader that is not there yet, as kfs's kafkajs calls do where kafkajs
 * itself does not (./topic-offsets.ts, ./topic-create.ts): which answers mean "not yet", and the
 * back-off between asks.
 */

/** kafkajs's error type (`err.type`, e.g. NOT_LEADER_FOR_PARTITION), when the error has one. */
export function kafkaErrorType(err: unknown): string | undefined {
  const type = (err as { type?: unknown } | undefined)?.type
  return typeof type === 'string' ? type : undefined
}

/**
 * A partition whose leader is being elected or has just moved: a topic created a moment ago (a
 * KRaft broker named leader in the metadata before it has taken the partition over — CI saw
 * `kfs ingest` fail on it right after another tool created the topic), or a broker restarting.
 * Asked again after a metadata refresh and a short back-off, it answers.
 */
const LEADER_MOVING = new Set(['NOT_LEADER_FOR_PARTITION', 'LEADER_NOT_AVAILABLE'])

export function isLeaderMoving(err: unknown): boolean {
  const type = kafkaErrorType(err)
  return type !== undefined && LEADER_MOVING.has(type)
}

/** The wait before ask `attempt` (from 1): 50 ms, doubling, at most 1 s. */
export function leaderBackOffMs(attempt: number): number {
  return Math.min(1_000, 50 * 2 ** (attempt - 1))
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))
