/** Shared by the Kafka and registry integration tests: the stack's endpoints, or a clear failure. */
export function kafkaBrokers(): string[] {
  const brokers = process.env.KFS_KAFKA_BROKERS
  if (!brokers) throw new Error('KFS_KAFKA_BROKERS is not set: run `npm run stack:up` and `. .kfs/stack/env.sh` first')
  return brokers.split(',').map((b) => b.trim())
}

export function schemaRegistryUrl(): string {
  const url = process.env.KFS_SCHEMA_REGISTRY_URL
  if (!url) throw new Error('KFS_SCHEMA_REGISTRY_URL is not set: run `npm run stack:up` and `. .kfs/stack/env.sh` first')
  return url
}
