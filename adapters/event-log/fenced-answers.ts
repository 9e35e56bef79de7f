/**
 * Which broker answers to a step of a Kafka transaction mean that this producer was fenced — its
 * transaction discarded and its transactional id owned by a newer producer (or ended by the
 * coordinator) — for both Kafka adapters. Answers are Kafka's numeric error codes: the clients
 * name them differently (kafkajs calls -1 UNKNOWN, @platformatic/kafka UNKNOWN_SERVER_ERROR).
 *
 * Fenced is not "failed": a caller that is fenced stops, because a newer holder of the id carries
 * on (`kfs ingest`'s lease, the re-key stage's new owner); a failed step is retried from the last
 * committed offsets (ports/event-log-transaction.ts).
 */

/** The step of a transaction a broker answered. */
export type TransactionStep = 'produce' | 'sendOffsets' | 'commit'

/** Answers that mean fenced at any step: INVALID_PRODUCER_EPOCH, TRANSACTIONAL_ID_AUTHORIZATION_FAILED, PRODUCER_FENCED. */
const FENCED_AT_ANY_STEP: readonly number[] = [47, 53, 90]

/**
 * UNKNOWN_SERVER_ERROR (-1) to a commit (EndTxn) is a fence that raced the commit. Kafka's coordinator
 * (3.x) fences under two locks: a newer producer's InitProducerId, or the coordinator's abort of
 * a timed-out transaction, first marks the fence pending, then takes the lock again to abort. A
 * commit arriving in between passes the epoch check (the epoch is bumped only by the abort), and
 * preparing its commit throws on the pending fence — an IllegalStateException the broker answers
 * as UNKNOWN_SERVER_ERROR. Nothing of the commit was written to the transaction log, and the
 * fence's abort follows: the transaction is discarded, as for any fenced commit. Seen in CI under
 * load with overlapping `kfs ingest` runs; the other causes of this answer to EndTxn are states
 * the coordinator treats as fatal.
 */
const FENCED_AT_COMMIT: readonly number[] = [-1]

/** Whether a step's failure is a fence; `answered(code)` says whether the error carries Kafka's answer `code`. */
export function isFenced(step: TransactionStep, answered: (code: number) => boolean): boolean {
  if (FENCED_AT_ANY_STEP.some(answered)) return true
  return step === 'commit' && FENCED_AT_COMMIT.some(answered)
}

/** The message of a fenced step's error. */
export function fencedMessage(step: TransactionStep, answered: (code: number) => boolean): string {
  return step === 'commit' && !FENCED_AT_ANY_STEP.some(answered) && FENCED_AT_COMMIT.some(answered)
    ? 'fenced: the broker answered the commit UNKNOWN_SERVER_ERROR, its answer when a fence (a newer producer of this transactional id, or the transaction timeout) races the commit; the transaction was discarded'
    : 'fenced: a newer producer owns this transactional id'
}
