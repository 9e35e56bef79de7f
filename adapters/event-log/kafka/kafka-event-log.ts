/**
 * The `EventLog` port on Apache Kafka through kafkajs 2.2.4 (the only kafkajs importer in kfs).
 *
 * - Topics: `createTopic` is idempotent (an existing topic is left as it is).
 * - Produce: one idempotent producer, `acks: all`. The partition of every record is chosen here,
 *   with the same function the embedded log uses (`partitionForKey`, Kafka's murmur2 for keys,
 *   round-robin for null keys), and sent explicitly; so a key lands where Kafka's Java client
 *   would put it, and each record's offset is known (`baseOffset` + its index in the partition).
 * - Consumers: see `kafka-consumer.ts`. Batches compressed with any codec Kafka defines are read
 *   (gzip by kafkajs, snappy, lz4 and zstd by `batch-codecs.ts`); kfs's producers do not compress.
 * - Transactions (issue #8): one transactional producer per transactional id, reused while idle
 *   (../transactional-producers.ts: a newer producer of an id fences the old one).
 * - Retries are bounded (`retry`); a broker restart is ridden out by kafkajs reconnecting within
 *   that budget, after which the call fails with a retriable `SourceError`.
 */
import kafkajs, { type Admin, type Kafka, type Producer } from 'kafkajs'
import { SourceError } from '../../../core/errors.ts'
import { RetryingLazy } from '../../../core/lazy.ts'
import { silentLogger, type Logger } from '../../../core/logger.ts'
import type { ProduceRecord, TopicOptions } from '../../../ports/event-log.ts'
import type { LogTransaction, TransactionalEventLog } from '../../../ports/event-log-transaction.ts'
import type { KafkaLogOptions } from '../kafka-log-options.ts'
import { registerBatchCodecs } from './batch-codecs.ts'
import { offsetsOfProduced, PartitionCounts, RecordRouter } from '../record-routing.ts'
import { RETENTION_SETTINGS, retentionLimitOf, topicSettings } from '../topic-settings.ts'
import { TransactionalProducers } from '../transactional-producers.ts'
import { KafkaConsumer, type KafkaConsumerRequest } from './kafka-consumer.ts'
import { KafkaTransaction } from './kafka-transaction.ts'
import { kafkajsLogCreator } from './log-creator.ts'
import { quietKafkajsNegativeTimeouts } from './negative-timeout-warning.ts'
import { createTopicSafely } from './topic-create.ts'
import { createTopicOffsetsQueue } from './topic-offsets.ts'

const { Kafka: KafkaClient, Partitioners, logLevel, ConfigResourceTypes } = kafkajs

export interface KafkaEventLogOptions extends KafkaLogOptions {
  /** kafkajs's retry backoff of every request: 300 ms → 10 s by default. */
  readonly initialRetryTimeMs?: number
  readonly maxRetryTimeMs?: number
}

export class KafkaEventLog implements TransactionalEventLog {
  readonly #kafka: Kafka
  readonly #options: KafkaEventLogOptions
  readonly #logger: Logger
  readonly #retry: { retries: number; initialRetryTime: number; maxRetryTime: number }
  readonly #partitionCounts = new PartitionCounts((topic) => this.partitionCount(topic))
  readonly #router = new RecordRouter()
  readonly #consumers = new Set<KafkaConsumer>()
  readonly #transactional = new TransactionalProducers<Promise<Producer>, KafkaTransaction>(async (transactionalId) => {
    const producer = this.#kafka.producer({
      transactionalId,
      idempotent: true,
      maxInFlightRequests: 1,
      transactionTimeout: this.#options.transactionTimeoutMs ?? 60_000,
      allowAutoTopicCreation: false,
      createPartitioner: Partitioners.DefaultPartitioner,
      retry: this.#retry,
    })
    await producer.connect()
    return producer
  })
  readonly #admin = new RetryingLazy(async () => {
    const admin = this.#kafka.admin({ retry: this.#retry })
    await admin.connect()
    return admin
  })
  readonly #producer = new RetryingLazy(async () => {
    const producer = this.#kafka.producer({
      idempotent: true,
      maxInFlightRequests: 1,
      allowAutoTopicCreation: false,
      createPartitioner: Partitioners.DefaultPartitioner,
      retry: this.#retry,
    })
    await producer.connect()
    return producer
  })

  constructor(options: KafkaEventLogOptions) {
    quietKafkajsNegativeTimeouts()
    registerBatchCodecs()
    this.#options = options
    this.#logger = (options.logger ?? silentLogger).child({ component: 'pipeline.kafka' })
    this.#retry = {
      retries: options.retries ?? 8,
      initialRetryTime: options.initialRetryTimeMs ?? 300,
      maxRetryTime: options.maxRetryTimeMs ?? 10_000,
    }
    this.#kafka = new KafkaClient({
      clientId: options.clientId ?? 'kfs',
      brokers: [...options.brokers],
      connectionTimeout: options.connectionTimeoutMs ?? 3_000,
      requestTimeout: options.requestTimeoutMs ?? 30_000,
      retry: this.#retry,
      logLevel: logLevel.INFO,
      logCreator: kafkajsLogCreator(this.#logger),
    })
  }

  async createTopic(topic: string, partitions: number, options?: TopicOptions): Promise<void> {
    await this.#call('createTopic', async () => {
      const admin = await this.#adminClient()
      await createTopicSafely(admin, { topic, numPartitions: partitions, configEntries: topicSettings(options) })
    })
  }

  async retentionLimit(topic: string): Promise<string | undefined> {
    return this.#call('retentionLimit', async () => {
      const admin = await this.#adminClient()
      const described = await admin.describeConfigs({ resources: [{ type: ConfigResourceTypes.TOPIC, name: topic, configNames: [...RETENTION_SETTINGS] }], includeSynonyms: false })
      const entries = described.resources[0]?.configEntries ?? []
      return retentionLimitOf(new Map(entries.map((e) => [e.configName, e.configValue])))
    })
  }

  async partitionCount(topic: string): Promise<number> {
    return this.#call('partitionCount', async () => {
      const admin = await this.#adminClient()
      const metadata = await admin.fetchTopicMetadata({ topics: [topic] }).catch((err: unknown) => {
        if ((err as { type?: string }).type !== 'UNKNOWN_TOPIC_OR_PARTITION') throw err
        throw new SourceError('NOT_FOUND', `topic '${topic}' does not exist; create it first`, { context: { topic } })
      })
      const n = metadata.topics[0]?.partitions.length ?? 0
      this.#partitionCounts.remember(topic, n)
      return n
    })
  }

  async produce(topic: string, records: readonly ProduceRecord[]): Promise<readonly { partition: number; offset: string }[]> {
    if (records.length === 0) return []
    const partitions = await this.#partitionCounts.of(topic)
    const routed = records.map((r) => this.#route(topic, r, partitions))
    return this.#call('produce', async () => {
      const producer = await this.#plainProducer()
      const metadata = await producer.send({ topic, acks: -1, messages: routed })
      return offsetsOfProduced(routed, new Map(metadata.map((m) => [m.partition, BigInt(m.baseOffset ?? '0')])))
    })
  }

  async startOffsets(topic: string): Promise<string[]> {
    return this.#call('startOffsets', async () => {
      const offsets = await this.#topicOffsets(topic)
      return [...offsets].sort((a, b) => a.partition - b.partition).map((o) => o.low)
    })
  }

  async endOffsets(topic: string): Promise<string[]> {
    return this.#call('endOffsets', async () => {
      const offsets = await this.#topicOffsets(topic)
      return [...offsets].sort((a, b) => a.partition - b.partition).map((o) => o.high)
    })
  }

  async committedOffsets(groupId: string, topic: string): Promise<(string | undefined)[]> {
    return this.#call('committedOffsets', async () => {
      const admin = await this.#adminClient()
      const [entry] = await admin.fetchOffsets({ groupId, topics: [topic] })
      const out: (string | undefined)[] = new Array<string | undefined>(await this.#partitionCounts.of(topic)).fill(undefined)
      // Kafka answers -1 for a partition the group never committed.
      for (const p of entry?.partitions ?? []) if (p.partition < out.length && /^\d+$/.test(p.offset)) out[p.partition] = p.offset
      return out
    })
  }

  consumer(options: KafkaConsumerRequest): KafkaConsumer {
    const consumer = new KafkaConsumer(
      this.#kafka,
      options,
      {
        sessionTimeoutMs: this.#options.sessionTimeoutMs ?? 10_000,
        heartbeatIntervalMs: this.#options.heartbeatIntervalMs ?? Math.min(1_000, Math.floor((this.#options.sessionTimeoutMs ?? 10_000) / 3)),
        rebalanceTimeoutMs: this.#options.rebalanceTimeoutMs ?? 60_000,
        maxBytesPerPartition: this.#options.maxBytesPerPartition ?? 1024 * 1024,
        maxWaitTimeMs: this.#options.maxWaitTimeMs ?? 500,
        retry: this.#retry,
      },
      this.#logger,
    )
    this.#consumers.add(consumer)
    return consumer
  }

  async transaction(transactionalId: string): Promise<LogTransaction> {
    return this.#call('transaction', () =>
      this.#transactional.open(transactionalId, async (producer) => {
        const txn = await (await producer).transaction()
        return new KafkaTransaction(txn, transactionalId, async (topic, records) => {
          const partitions = await this.#partitionCounts.of(topic)
          return records.map((r) => this.#route(topic, r, partitions))
        })
      }),
    )
  }

  async close(): Promise<void> {
    await Promise.allSettled([...this.#consumers].map((c) => c.stop()))
    const closing: Promise<void>[] = this.#transactional.all().map((p) => p.then((producer) => producer.disconnect()))
    const producer = this.#producer.current
    const admin = this.#admin.current
    if (producer) closing.push(producer.then((p) => p.disconnect()))
    if (admin) closing.push(admin.then((a) => a.disconnect()))
    await Promise.allSettled(closing)
  }

  /** The kafkajs message of a record, with the partition chosen by kfs (record-routing.ts). */
  #route(topic: string, record: ProduceRecord, partitions: number) {
    const { partition, key, value, headers, timestampMs } = this.#router.route(topic, record, partitions)
    return { partition, key, value, headers, ...(timestampMs === undefined ? {} : { timestamp: String(timestampMs) }) }
  }


  #adminClient(): Promise<Admin> {
    return this.#admin.get()
  }

  /** Low and high offsets of a topic, one call at a time (topic-offsets.ts: a kafkajs race). */
  readonly #topicOffsets = createTopicOffsetsQueue(() => this.#adminClient())

  #plainProducer(): Promise<Producer> {
    return this.#producer.get()
  }

  /** Wraps kafkajs failures at the boundary: retriable unless kafkajs says otherwise. */
  async #call<T>(operation: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn()
    } catch (err: unknown) {
      if (err instanceof SourceError) throw err
      const retriable = (err as { retriable?: boolean }).retriable !== false
      throw new SourceError(retriable ? 'SOURCE_UNAVAILABLE' : 'BAD_REQUEST', `kafka ${operation} failed: ${describeKafkaError(err)}`, { cause: err, context: { operation } })
    }
  }
}

/** kafkajs's message, with the per-topic reasons of an aggregate ("Topic creation errors: …"). */
function describeKafkaError(err: unknown): string {
  if (!(err instanceof Error)) return String(err)
  const inner = (err as { errors?: unknown }).errors
  if (!Array.isArray(inner) || inner.length === 0) return err.message
  const reasons = inner.map((e: unknown) => (e instanceof Error ? `${(e as { topic?: string }).topic ?? ''}${(e as { topic?: string }).topic ? ': ' : ''}${e.message}` : String(e)))
  return `${err.message}: ${[...new Set(reasons)].join('; ')}`
}
