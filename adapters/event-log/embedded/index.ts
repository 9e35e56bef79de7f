/**
 * The embedded event log: Kafka's semantics that kfs relies on, on a local directory. The public
 * surface is the `EventLog` port implementation plus the transaction shape shared with Kafka.
 */
export { EmbeddedEventLog, type EmbeddedEventLogOptions, type EmbeddedConsumerRequest } from './embedded-event-log.ts'
export { EmbeddedLogReader, type EmbeddedLogReaderOptions } from './embedded-log-reader.ts'
export { heldByOf, isRunning, startTimeOf } from '../../local-disk/directory-lock.ts'
export { movePendingRecords, PendingRecordsWriter } from './pending-records.ts'
export { DEFAULT_HAND_OVER_MS, HandOverWriter, movePendingPeriodically } from './pending-hand-over.ts'
export type { LogTransaction, TransactionalEventLog, ConsumerCrashHandler } from '../../../ports/event-log-transaction.ts'
export { murmur2, partitionForKey } from '../../../core/murmur2.ts'
