/**
 * The Kafka event log of the configured client library (KFS_KAFKA_CLIENT, main/config.ts):
 * kafkajs by default, @platformatic/kafka when asked. Each adapter is imported only when chosen,
 * so a deployment never loads the library it does not use.
 */
import type { Logger } from '../core/logger.ts'
import type { TransactionalEventLog } from '../ports/event-log-transaction.ts'
import type { EventLogConfig } from './config.ts'

export async function openKafkaEventLog(config: Extract<EventLogConfig, { kind: 'kafka' }>, logger: Logger): Promise<TransactionalEventLog> {
  const options = { brokers: config.brokers, clientId: config.clientId, ...config.consumerGroup, logger }
  if (config.client === 'platformatic') return new (await import('../adapters/event-log/platformatic/index.ts')).PlatformaticEventLog(options)
  return new (await import('../adapters/event-log/kafka/index.ts')).KafkaEventLog(options)
}
