/**
 * Which event times a partition accepts at all (docs/semantics.md §1): a record whose event time
 * lies further in the future than `maxFutureSkewMs` beyond its *ingestion time* — the log record's
 * timestamp (Kafka's CreateTime or LogAppendTime), kept in the raw archive — is dead-lettered
 * `future_event_time` and does not move the watermark. Without this rule one record dated 2100
 * would move its partition's watermark to 2100 and every later good event would be `late`, across
 * restarts and through re-keying.
 *
 * The rule depends only on the record (event time and its own timestamp), never on the clock, so
 * live consumption, replay and the re-key stage judge every record the same way. A record without a
 * usable timestamp (negative: Kafka's "no timestamp", or not a safe integer) is judged against
 * nothing and accepted — it can still be late.
 */

/** Default bound when a source declares none. Clock skew of producers is seconds; this leaves room for batching and retries. */
export const DEFAULT_MAX_FUTURE_SKEW_MS = 3_600_000

/** True when `eventTimeMs` is more than `maxFutureSkewMs` after the record's ingestion time. */
export function isBeyondFutureSkew(eventTimeMs: number, ingestionTimeMs: number, maxFutureSkewMs: number): boolean {
  if (!(ingestionTimeMs >= 0) || !Number.isSafeInteger(ingestionTimeMs)) return false
  return eventTimeMs - ingestionTimeMs > maxFutureSkewMs
}
