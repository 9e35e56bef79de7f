/**
 * A Kafka producer for records that may be lost but must never hold anything up: the
 * served-feature log. It is separate from `KafkaEventLog`'s producer on purpose — that one is
 * idempotent with a long retry budget (the engine must not lose a record), which during an outage
 * would keep a batch pending for a minute; this one fails a batch within a few seconds so the
 * caller drops and counts it and its memory stays bounded.
 *
 * - Partitioning: Kafka's default (murmur2 of the key), the function the engine and the embedded
 *   log use, so a key lands where the consuming view expects it.
 * - The topic is created on first use (idempotent; an existing topic is left as it is).
 * - Failures: every error is wrapped as a retriable `SourceError`; nothing is retried beyond
 *   `retries`. kafkajs's own log lines are off: the caller logs failures (rate-limited).
 */
import kafkajs, { type Admin, type Kafka, type Producer } from 'kafkajs'
import { SourceError } from '../../../core/errors.ts'
import { RetryingLazy } from '../../../core/lazy.ts'
import { createTopicSafely } from './topic-create.ts'

const { Kafka: KafkaClient, Partitioners, logLevel } = kafkajs

export interface KafkaBestEffortProducerOptions {
  readonly brokers: readonly string[]
  readonly topic: string
  /** Partition count when the topic has to be created. */
  readonly partitions: number
  readonly clientId?: string
  readonly connectionTimeoutMs?: number
  readonly requestTimeoutMs?: number
  readonly retries?: number
}

export class KafkaBestEffortProducer {
  readonly #kafka: Kafka
  readonly #options: KafkaBestEffortProducerOptions
  readonly #producer = new RetryingLazy(async () => {
    const producer = this.#kafka.producer({
      allowAutoTopicCreation: false,
      createPartitioner: Partitioners.DefaultPartitioner,
      retry: { retries: this.#options.retries ?? 2, initialRetryTime: 200, maxRetryTime: 1_000 },
    })
    await producer.connect()
    return producer
  })
  readonly #topicReady = new RetryingLazy(async () => {
    const admin: Admin = this.#kafka.admin()
    await admin.connect()
    try {
      await createTopicSafely(admin, { topic: this.#options.topic, numPartitions: this.#options.partitions })
    } finally {
      await admin.disconnect()
    }
  })

  constructor(options: KafkaBestEffortProducerOptions) {
    this.#options = options
    const retry = { retries: options.retries ?? 2, initialRetryTime: 200, maxRetryTime: 1_000 }
    this.#kafka = new KafkaClient({
      clientId: options.clientId ?? 'kfs-serve',
      brokers: [...options.brokers],
      connectionTimeout: options.connectionTimeoutMs ?? 1_000,
      requestTimeout: options.requestTimeoutMs ?? 5_000,
      retry,
      logLevel: logLevel.NOTHING,
    })
  }

  async send(records: readonly { readonly key: string; readonly value: Uint8Array }[]): Promise<void> {
    if (records.length === 0) return
    try {
      await this.#ensureTopic()
      const producer = await this.#connected()
      await producer.send({
        topic: this.#options.topic,
        acks: -1,
        messages: records.map((r) => ({ key: r.key, value: Buffer.from(r.value.buffer, r.value.byteOffset, r.value.byteLength) })),
      })
    } catch (err: unknown) {
      throw new SourceError('SOURCE_UNAVAILABLE', `kafka produce to ${this.#options.topic} failed`, { cause: err, context: { topic: this.#options.topic } })
    }
  }

  async close(): Promise<void> {
    const producer = this.#producer.current
    if (producer) await producer.then((p) => p.disconnect()).catch(() => {})
  }

  #ensureTopic(): Promise<void> {
    return this.#topicReady.get()
  }

  #connected(): Promise<Producer> {
    return this.#producer.get()
  }
}
