import { KafkaEventLog } from '../../../adapters/event-log/kafka/kafka-event-log.ts'
import { runEventLogContract } from '../../contracts/event-log.ts'
import { runEventLogStopContract } from '../../contracts/event-log-stop.ts'
import { kafkaBrokers } from './kafka-env.ts'
import { runKafkaLogCases } from './kafka-log-cases.ts'

// Short heartbeats so rebalances in the contract settle quickly on a test broker.
const makeLog = async () => new KafkaEventLog({ brokers: kafkaBrokers(), heartbeatIntervalMs: 500, sessionTimeoutMs: 10_000 })

runEventLogContract('kafka', makeLog)
runEventLogStopContract('kafka', makeLog)
runKafkaLogCases('kafka', makeLog)
