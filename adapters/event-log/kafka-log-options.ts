/**
 * The options both Kafka adapters take (kafka/ on kafkajs, platformatic/ on @platformatic/kafka),
 * so main/ builds one set whichever client KFS_KAFKA_CLIENT names; each adapter adds its
 * client's own retry knobs.
 */
import type { Logger } from '../../core/logger.ts'

export interface KafkaLogOptions {
  readonly brokers: readonly string[]
  readonly clientId?: string
  readonly logger?: Logger
  readonly connectionTimeoutMs?: number
  /** Client-side wait for a broker's answer. */
  readonly requestTimeoutMs?: number
  /** Bounded retry of every request (default 8). */
  readonly retries?: number
  /** Consumer group timing; defaults as main/config.ts (10 s session, 1 s heartbeat, 60 s rebalance). */
  readonly sessionTimeoutMs?: number
  readonly heartbeatIntervalMs?: number
  readonly rebalanceTimeoutMs?: number
  readonly maxBytesPerPartition?: number
  readonly transactionTimeoutMs?: number
  /**
   * How long a fetch waits on the broker for records (default 500 ms). A fetch answers as soon as
   * a record is there, so this is not a latency; it is how long a consumer's stop waits for the
   * fetch in flight, and how long kafkajs sleeps when every partition it owns is paused.
   */
  readonly maxWaitTimeMs?: number
}
