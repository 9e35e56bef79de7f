/**
 * Kafka adapter of the `EventLog` port; the only module in kfs that imports kafkajs.
 */
export { KafkaEventLog, type KafkaEventLogOptions } from './kafka-event-log.ts'
export { KafkaConsumer, type KafkaConsumerRequest } from './kafka-consumer.ts'
