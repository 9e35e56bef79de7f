/**
 * Kafka adapter of the `EventLog` port on `@platformatic/kafka`; the only module in kfs that
 * imports that package. Selected with KFS_KAFKA_CLIENT=platformatic (main/config.ts).
 */
export { PlatformaticEventLog, type PlatformaticEventLogOptions } from './platformatic-event-log.ts'
export { PlatformaticConsumer, type PlatformaticConsumerRequest } from './platformatic-consumer.ts'
