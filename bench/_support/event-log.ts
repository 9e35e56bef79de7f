/**
 * The Kafka event log the benches measure, opened as `kfs run` opens it (main/kafka-event-log.ts):
 * the client library named by KFS_KAFKA_CLIENT (kafkajs, the default, or platformatic; parsed by
 * main/config.ts) with kfs run's consumer-group timing. The bare-consumer baselines (raw-kafka.ts)
 * stay on kafkajs, so both clients are measured against the same floor.
 */
import { silentLogger, type Logger } from '../../core/logger.ts'
import { loadConfig } from '../../main/config.ts'
import { openKafkaEventLog } from '../../main/kafka-event-log.ts'
import type { TransactionalEventLog } from '../../ports/event-log-transaction.ts'
import { progress } from './report.ts'

let announced = false

export async function openBenchEventLog(brokers: readonly string[], clientId: string, logger: Logger = silentLogger): Promise<TransactionalEventLog> {
  const chosen = process.env.KFS_KAFKA_CLIENT
  const env = { KFS_KAFKA_BROKERS: brokers.join(','), KFS_KAFKA_CLIENT_ID: clientId, ...(chosen === undefined ? {} : { KFS_KAFKA_CLIENT: chosen }) }
  const config = loadConfig(env, () => {
    throw new Error('no config file is read here')
  }).eventLog
  if (config.kind !== 'kafka') throw new Error('the benches need Kafka (KFS_KAFKA_BROKERS)')
  if (!announced) progress(`event log: Kafka through ${config.client}`)
  announced = true
  return openKafkaEventLog(config, logger)
}
