/**
 * Transactions on an event log (issue #8, re-keying exactly once): consume, produce, and commit
 * the consumed offsets atomically, as Kafka's transactional producer does.
 *
 * Both `KafkaEventLog` and `EmbeddedEventLog` implement `TransactionalEventLog`.
 *
 * Guarantees:
 * - Records produced in a transaction become visible to read-committed consumers only when
 *   `commit()` returns, together with the offsets passed to `sendOffsets`; `abort()` (or a crash
 *   before commit) discards both.
 * - One open transaction per `transactionalId`: opening a new one fences the previous holder of
 *   the id (its later calls fail), which is how a restarted re-keyer shuts out its zombie.
 *
 * Failure: after any failed call, `abort()` and start a new transaction from the last committed
 * offsets. `commit()` and `abort()` end the transaction; calling anything afterwards throws.
 */
import type { EventLog, ProduceRecord, TopicPartitionOffset } from './event-log.ts'

export interface LogTransaction {
  produce(topic: string, records: readonly ProduceRecord[]): Promise<void>
  /** Commit these consumer-group offsets (next offset to read) atomically with the produced records. */
  sendOffsets(groupId: string, offsets: readonly TopicPartitionOffset[]): Promise<void>
  commit(): Promise<void>
  abort(): Promise<void>
}

export interface TransactionalEventLog extends EventLog {
  transaction(transactionalId: string): Promise<LogTransaction>
}

export function isTransactional(log: EventLog): log is TransactionalEventLog {
  return typeof (log as Partial<TransactionalEventLog>).transaction === 'function'
}

/** Called when a consumer's loop dies for good (handler error it will not retry, broker crash without restart). */
export type ConsumerCrashHandler = (err: unknown) => void
