/**
 * The Kafka event log the benches measure, built as `kfs run` builds it: the client library named
 * by KFS_KAFKA_CLIENT (kafkajs, the default, or platformatic; parsed by main/config.ts) with kfs
 * run's consumer-group timing. The bare-consumer baselines (raw-kafka.ts) stay on kafkajs, so
 * both clients are measured against the same floor.
 */
import { KafkaEventLog } from '../../adapters/event-log/kafka/index.ts'
import { PlatformaticEventLog } from '../../adapters/event-log/platformatic/index.ts'
import type { Logger } from '../../core/logger.ts'
import { loadConfig } from '../../main/config.ts'
import type { TransactionalEventLog } from '../../ports/event-log-transaction.ts'
import { progress } from './report.ts'

let announced = false

export function openBenchEventLog(brokers: readonly string[], clientId: string, logger?: Logger): TransactionalEventLog {
  const chosen = process.env.KFS_KAFKA_CLIENT
  const config = loadConfig({ KFS_KAFKA_BROKERS: brokers.join(','), ...(chosen === undefined ? {} : { KFS_KAFKA_CLIENT: chosen }) }, () => {
    throw new Error('no config file is read here')
  }).eventLog
  if (config.kind !== 'kafka') throw new Error('the benches need Kafka (KFS_KAFKA_BROKERS)')
  if (!announced) progress(`event log: Kafka through ${config.client}`)
  announced = true
  const options = { brokers: config.brokers, clientId, ...config.consumerGroup, ...(logger === undefined ? {} : { logger }) }
  return config.client === 'platformatic' ? new PlatformaticEventLog(options) : new KafkaEventLog(options)
}
