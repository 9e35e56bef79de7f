/**
 * The event-log contract, and the Kafka cases both adapters pass (kafka-log-cases.ts), against
 * the @platformatic/kafka adapter (KFS_KAFKA_CLIENT=platformatic).
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { compatibilityPartitioner, defaultPartitioner } from '@platformatic/kafka'
import { PlatformaticEventLog } from '../../../adapters/event-log/platformatic/index.ts'
import { partitionForKey } from '../../../core/murmur2.ts'
import { runEventLogContract } from '../../contracts/event-log.ts'
import { runEventLogStopContract } from '../../contracts/event-log-stop.ts'
import { kafkaBrokers } from './kafka-env.ts'
import { runKafkaLogCases } from './kafka-log-cases.ts'

// Short heartbeats so rebalances in the contract settle quickly on a test broker.
const makeLog = async () =>
  new PlatformaticEventLog({ brokers: kafkaBrokers(), heartbeatIntervalMs: 500, sessionTimeoutMs: 10_000 })

runEventLogContract('platformatic', makeLog)
runEventLogStopContract('platformatic', makeLog)
runKafkaLogCases('platformatic', makeLog)

void test("platformatic > the library's default partitioner is not Java's (platformatic/kafka#121); its compatibilityPartitioner is", () => {
  const keys = Array.from({ length: 30 }, (_, i) => Buffer.from(`entity-${i}`))
  for (const k of keys) assert.equal(compatibilityPartitioner({ topic: 't' }, k) % 5, partitionForKey(k, 5))
  assert.ok(keys.some((k) => defaultPartitioner({ topic: 't' }, k) % 5 !== partitionForKey(k, 5)))
})
