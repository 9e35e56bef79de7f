/**
 * The `EventLog` port on Apache Kafka through `@platformatic/kafka` (the only importer of that
 * package in kfs), an alternative to the kafkajs adapter (../kafka/) chosen with
 * KFS_KAFKA_CLIENT=platformatic. Same semantics, verified by the same contract suite
 * (test/contracts/event-log.ts); docs/kafka-clients.md compares the two.
 *
 * - Topics: `createTopic` is idempotent (TOPIC_ALREADY_EXISTS is success) and waits until every
 *   partition has a leader, as kafkajs's `waitForLeaders` does.
 * - Produce: one idempotent producer, acks all. Every record's partition is chosen by kfs
 *   (../record-routing.ts: Kafka's Java murmur2), never by the library, whose default partitioner
 *   is not Java's; each record's offset is the partition's base offset + its index.
 * - Consumers: platformatic-consumer.ts.
 * - Transactions: one transactional producer per transactional id (../transactional-producers.ts).
 *   The library sends the producer's
 *   `timeout` option as the transaction timeout, so transactional producers get
 *   `transactionTimeoutMs` there (it is also the broker-side timeout of their produce requests).
 * - Retries: the library's `retries` × `retryDelay` per request; the idempotent producer's
 *   default would be unbounded (Number.MAX_SAFE_INTEGER), so it is always bounded here. A call
 *   that still fails rejects with a `SourceError`, retriable unless the library says otherwise.
 */
import {
  ConfigResourceTypes,
  Admin,
  FindCoordinatorKeyTypes,
  findErrorBy,
  ListOffsetTimestamps,
  Producer,
  ProduceAcks,
  type MessageToProduce,
} from '@platformatic/kafka'
import { SourceError } from '../../../core/errors.ts'
import { silentLogger, type Logger } from '../../../core/logger.ts'
import type { ProduceRecord, TopicOptions } from '../../../ports/event-log.ts'
import type { LogTransaction, TransactionalEventLog } from '../../../ports/event-log-transaction.ts'
import type { KafkaLogOptions } from '../kafka-log-options.ts'
import { offsetsOfProduced, PartitionCounts, RecordRouter } from '../record-routing.ts'
import { RETENTION_SETTINGS, retentionLimitOf, topicSettings } from '../topic-settings.ts'
import { TransactionalProducers } from '../transactional-producers.ts'
import { nameDecompressionFailures } from './batch-decoding.ts'
import {
  PlatformaticConsumer,
  type PlatformaticConsumerRequest,
  type PlatformaticConsumerSettings,
} from './platformatic-consumer.ts'
import { isUnknownTopic, sourceError } from './platformatic-errors.ts'
import { PlatformaticTransaction } from './platformatic-transaction.ts'

export interface PlatformaticEventLogOptions extends KafkaLogOptions {
  /** Pause between the library's retries of a request (default 300 ms). */
  readonly retryDelayMs?: number
}

const LEADER_WAIT_MS = 10_000

export class PlatformaticEventLog implements TransactionalEventLog {
  readonly #options: PlatformaticEventLogOptions
  readonly #logger: Logger
  readonly #base: {
    clientId: string
    bootstrapBrokers: string[]
    connectTimeout: number
    requestTimeout: number
    retries: number
    retryDelay: number
  }
  readonly #admin: Admin
  readonly #producer: Producer
  readonly #router = new RecordRouter()
  readonly #partitionCounts = new PartitionCounts((topic) => this.partitionCount(topic))
  readonly #coordinators = new Map<string, number>()
  readonly #consumers = new Set<PlatformaticConsumer>()
  readonly #transactional = new TransactionalProducers<Producer, PlatformaticTransaction>(
    (transactionalId) =>
      new Producer({
        ...this.#base,
        retries: Math.max(2, this.#base.retries),
        idempotent: true,
        transactionalId,
        timeout: this.#options.transactionTimeoutMs ?? 60_000,
        autocreateTopics: false,
        // InitProducerId's "no producer expected": the library's default (0, 0) makes the broker answer
        // PRODUCER_FENCED to every producer of an id that already has one — a restart, or fencing a zombie.
        producerId: -1n,
        producerEpoch: -1,
      }),
  )

  constructor(options: PlatformaticEventLogOptions) {
    nameDecompressionFailures()
    this.#options = options
    this.#logger = (options.logger ?? silentLogger).child({ component: 'pipeline.kafka' })
    this.#base = {
      clientId: options.clientId ?? 'kfs',
      bootstrapBrokers: [...options.brokers],
      connectTimeout: options.connectionTimeoutMs ?? 3_000,
      requestTimeout: options.requestTimeoutMs ?? 30_000,
      retries: options.retries ?? 8,
      retryDelay: options.retryDelayMs ?? 300,
    }
    this.#admin = new Admin(this.#base)
    // More than one retry: the library replaces 0 or 1 with unbounded retries for an idempotent producer.
    this.#producer = new Producer({
      ...this.#base,
      retries: Math.max(2, this.#base.retries),
      idempotent: true,
      autocreateTopics: false,
    })
  }

  async createTopic(topic: string, partitions: number, options?: TopicOptions): Promise<void> {
    await this.#call('createTopic', async () => {
      await this.#admin.createTopics({ topics: [topic], partitions, replicas: -1, configs: topicSettings(options) }).catch((err: unknown) => {
        if (!findErrorBy(err as Error, 'apiId', 'TOPIC_ALREADY_EXISTS')) throw err
      })
      await this.#waitForLeaders(topic)
    })
  }

  async retentionLimit(topic: string): Promise<string | undefined> {
    return this.#call('retentionLimit', async () => {
      const [described] = await this.#admin.describeConfigs({ resources: [{ resourceType: ConfigResourceTypes.TOPIC, resourceName: topic, configurationKeys: [...RETENTION_SETTINGS] }] })
      return retentionLimitOf(new Map((described?.configs ?? []).map((c) => [c.name, c.value])))
    })
  }

  async partitionCount(topic: string): Promise<number> {
    return this.#call('partitionCount', async () => {
      const metadata = await this.#admin.metadata({ topics: [topic], forceUpdate: true }).catch((err: unknown) => {
        if (!isUnknownTopic(err)) throw err
        throw new SourceError('NOT_FOUND', `topic '${topic}' does not exist; create it first`, { context: { topic } })
      })
      const n = metadata.topics.get(topic)?.partitionsCount ?? 0
      this.#partitionCounts.remember(topic, n)
      return n
    })
  }

  async produce(topic: string, records: readonly ProduceRecord[]): Promise<readonly { partition: number; offset: string }[]> {
    if (records.length === 0) return []
    const messages = await this.#messages(topic, records)
    return this.#call('produce', async () => {
      const result = await this.#producer.send({ messages, acks: ProduceAcks.ALL })
      const base = new Map((result.offsets ?? []).filter((o) => o.topic === topic).map((o) => [o.partition, o.offset]))
      return offsetsOfProduced(messages as { partition: number }[], base)
    })
  }

  startOffsets(topic: string): Promise<string[]> {
    return this.#listOffsets('startOffsets', topic, ListOffsetTimestamps.EARLIEST)
  }

  endOffsets(topic: string): Promise<string[]> {
    return this.#listOffsets('endOffsets', topic, ListOffsetTimestamps.LATEST)
  }

  async committedOffsets(groupId: string, topic: string): Promise<(string | undefined)[]> {
    const n = await this.#partitionCounts.of(topic)
    return this.#call('committedOffsets', async () => {
      const [group] = await this.#admin.listConsumerGroupOffsets({
        groups: [{ groupId, topics: [{ name: topic, partitionIndexes: range(n) }] }],
      })
      const out = new Array<string | undefined>(n).fill(undefined)
      // Kafka answers -1 for a partition the group never committed.
      for (const t of group?.topics ?? [])
        for (const p of t.partitions)
          if (t.name === topic && p.partitionIndex < n && p.committedOffset >= 0n)
            out[p.partitionIndex] = p.committedOffset.toString()
      return out
    })
  }

  consumer(options: PlatformaticConsumerRequest): PlatformaticConsumer {
    const sessionTimeoutMs = this.#options.sessionTimeoutMs ?? 10_000
    const settings: PlatformaticConsumerSettings = {
      clientId: this.#base.clientId,
      brokers: this.#base.bootstrapBrokers,
      sessionTimeoutMs,
      heartbeatIntervalMs: this.#options.heartbeatIntervalMs ?? Math.min(1_000, Math.floor(sessionTimeoutMs / 3)),
      rebalanceTimeoutMs: this.#options.rebalanceTimeoutMs ?? 60_000,
      maxBytesPerPartition: this.#options.maxBytesPerPartition ?? 1024 * 1024,
      maxWaitTimeMs: this.#options.maxWaitTimeMs ?? 500,
      retries: this.#base.retries,
      retryDelayMs: this.#base.retryDelay,
      connectTimeoutMs: this.#base.connectTimeout,
    }
    const consumer = new PlatformaticConsumer(options, settings, this.#logger)
    this.#consumers.add(consumer)
    return consumer
  }

  async transaction(transactionalId: string): Promise<LogTransaction> {
    return this.#call('transaction', () =>
      this.#transactional.open(transactionalId, async (producer) => {
        const txn = await producer.beginTransaction()
        return new PlatformaticTransaction(
          txn,
          transactionalId,
          (topic, records) => this.#messages(topic, records),
          (groupId, stale) => this.#coordinatorOf(groupId, stale),
        )
      }),
    )
  }

  async close(): Promise<void> {
    await Promise.allSettled([...this.#consumers].map((c) => c.stop()))
    const producers = [this.#producer, ...this.#transactional.all()]
    await Promise.allSettled([...producers.map((p) => p.close(true)), this.#admin.close()])
  }

  /** The library's messages for records, each with the partition kfs chose. */
  async #messages(topic: string, records: readonly ProduceRecord[]): Promise<MessageToProduce[]> {
    const partitions = await this.#partitionCounts.of(topic)
    return records.map((r) => {
      const { partition, key, value, headers, timestampMs } = this.#router.route(topic, r, partitions)
      return {
        topic,
        partition,
        key: key ?? undefined,
        value: value ?? undefined,
        // The library writes header keys and values as given: bytes, not strings.
        headers: new Map(Object.entries(headers ?? {}).map(([k, v]) => [Buffer.from(k, 'utf8'), Buffer.from(v, 'utf8')])),
        ...(timestampMs === undefined ? {} : { timestamp: BigInt(timestampMs) }),
      }
    })
  }

  async #listOffsets(operation: string, topic: string, timestamp: bigint): Promise<string[]> {
    const n = await this.#partitionCounts.of(topic)
    return this.#call(operation, async () => {
      const listed = await this.#admin.listOffsets({
        topics: [{ name: topic, partitions: range(n).map((partitionIndex) => ({ partitionIndex, timestamp })) }],
      })
      const out = new Array<string>(n).fill('0')
      for (const t of listed)
        for (const p of t.partitions) if (t.name === topic && p.partitionIndex < n) out[p.partitionIndex] = p.offset.toString()
      return out
    })
  }

  async #waitForLeaders(topic: string): Promise<void> {
    const deadline = Date.now() + LEADER_WAIT_MS
    for (;;) {
      const metadata = await this.#admin.metadata({ topics: [topic], forceUpdate: true }).catch(() => undefined)
      const partitions = metadata?.topics.get(topic)?.partitions ?? []
      if (partitions.length > 0 && partitions.every((p) => p.leader >= 0)) {
        this.#partitionCounts.remember(topic, partitions.length)
        return
      }
      if (Date.now() > deadline)
        throw new SourceError('SOURCE_UNAVAILABLE', `topic '${topic}' has partitions without a leader`, { context: { topic } })
      await new Promise((r) => setTimeout(r, 100))
    }
  }

  async #coordinatorOf(groupId: string, stale = false): Promise<number> {
    const known = this.#coordinators.get(groupId)
    if (known !== undefined && !stale) return known
    const [found] = await this.#admin.findCoordinator({ keyType: FindCoordinatorKeyTypes.GROUP, keys: [groupId] })
    if (found === undefined)
      throw new SourceError('SOURCE_UNAVAILABLE', `no coordinator for group '${groupId}'`, { context: { groupId } })
    this.#coordinators.set(groupId, found.nodeId)
    return found.nodeId
  }

  /** Wraps library failures at the boundary: retriable unless the library says otherwise. */
  async #call<T>(operation: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn()
    } catch (err: unknown) {
      throw sourceError(operation, err)
    }
  }
}

const range = (n: number): number[] => Array.from({ length: n }, (_, i) => i)
