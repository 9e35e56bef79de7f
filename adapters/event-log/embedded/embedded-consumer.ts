/**
 * A consumer-group member of the embedded log.
 *
 * Delivery loop: round-robin over the assigned, unpaused partitions, one batch per partition per
 * round, each batch in offset order from the partition's position; when a round finds nothing it
 * waits for the next append (or `pollIntervalMs`). The position advances past the records a batch
 * handler took (all of them, or the prefix it reports) only when `eachBatch` resolves and no `seek`
 * on that partition happened meanwhile; the rest comes again in the partition's next batch.
 *
 * Rebalances (see `group-coordinator.ts`) raise a barrier: the loop finishes its in-flight batch,
 * then `onRevoked` / `onAssigned` run, then delivery resumes. `stop()` does the same: the batch in
 * flight ends, then `onRevoked` gets every partition. A newly assigned partition starts at
 * a pending `seek`, else the group's committed offset, else the beginning (or the end, with
 * `fromBeginning: false`).
 *
 * Failure: if `eachBatch` (or a rebalance callback) throws and an `onCrash` handler was given,
 * the consumer leaves the group and `onCrash(err)` is called; without one, the error is logged
 * and the same batch is retried after `retryBackoffMs` — like kafkajs's restart-on-failure.
 */
import { AsyncLocalStorage } from 'node:async_hooks'
import type { Clock } from '../../../core/clock.ts'
import type { Logger } from '../../../core/logger.ts'
import type { ConsumerHandlers, LogConsumer, LogRecord, TopicPartitionOffset } from '../../../ports/event-log.ts'
import { consumedCount } from './batch-outcome.ts'
import { isCommittableOffset, type GroupCoordinator, type GroupMember, type TopicPartition } from './group-coordinator.ts'
import type { ConsumerCrashHandler } from '../../../ports/event-log-transaction.ts'
import type { PartitionLog } from './partition-log.ts'
import type { StoredRecord } from './record-format.ts'

export interface EmbeddedConsumerDeps {
  readonly coordinator: GroupCoordinator
  readonly partition: (topic: string, partition: number) => PartitionLog | undefined
  readonly waitForData: (timeoutMs: number) => Promise<void>
  readonly wake: () => void
  readonly clock: Clock
  readonly logger: Logger
}

export interface EmbeddedConsumerOptions {
  readonly groupId: string
  readonly topics: readonly string[]
  /** Accepted for parity with Kafka; the embedded log only ever exposes committed records. */
  readonly readCommitted?: boolean
  readonly fromBeginning?: boolean
  readonly onCrash?: ConsumerCrashHandler
  readonly exclusive?: boolean
  readonly maxBatchRecords: number
  readonly maxBatchBytes: number
  readonly pollIntervalMs: number
  readonly retryBackoffMs: number
}

/** How an embedded log's consumers deliver: the log's own settings over the defaults (500 records or 1 MiB a batch, a round at least every 100 ms, 1 s before a failed batch is redelivered). */
export function deliverySettings(log: {
  readonly maxBatchRecords?: number
  readonly maxBatchBytes?: number
  readonly pollIntervalMs?: number
  readonly retryBackoffMs?: number
}): Pick<EmbeddedConsumerOptions, 'maxBatchRecords' | 'maxBatchBytes' | 'pollIntervalMs' | 'retryBackoffMs'> {
  return {
    maxBatchRecords: log.maxBatchRecords ?? 500,
    maxBatchBytes: log.maxBatchBytes ?? 1024 * 1024,
    pollIntervalMs: log.pollIntervalMs ?? 100,
    retryBackoffMs: log.retryBackoffMs ?? 1000,
  }
}

const key = (tp: TopicPartition) => `${tp.partition}\u0000${tp.topic}`

/** Set while a consumer's own handler runs: a stop() it calls cannot wait for that handler to end. */
const insideHandlerOf = new AsyncLocalStorage<EmbeddedConsumer>()

export class EmbeddedConsumer implements LogConsumer, GroupMember {
  readonly topics: readonly string[]
  readonly exclusive: boolean
  readonly #deps: EmbeddedConsumerDeps
  readonly #options: EmbeddedConsumerOptions
  #handlers: ConsumerHandlers | undefined
  #assigned: readonly TopicPartition[] = []
  readonly #positions = new Map<string, number>()
  readonly #pendingSeeks = new Map<string, number>()
  readonly #seekEpochs = new Map<string, number>()
  readonly #paused = new Set<string>()
  #running = false
  #loop: Promise<void> | undefined
  #busy: Promise<void> | undefined
  #barrier: Promise<void> | undefined
  #stopping: Promise<void> | undefined

  constructor(deps: EmbeddedConsumerDeps, options: EmbeddedConsumerOptions) {
    this.#deps = deps
    this.#options = options
    this.topics = [...options.topics]
    this.exclusive = options.exclusive === true
  }

  async run(handlers: ConsumerHandlers): Promise<void> {
    if (this.#handlers) throw new TypeError('this consumer is already running')
    this.#handlers = handlers
    this.#running = true
    await this.#deps.coordinator.join(this)
    this.#loop = this.#deliver()
  }

  async commit(offsets: readonly TopicPartitionOffset[]): Promise<void> {
    this.#deps.coordinator.commit(offsets)
  }

  seek(position: TopicPartitionOffset): void {
    const k = key(position)
    // Digits only, as the Kafka consumer: Number() took '' for 0, and '1e3', ' 5', '0x10' as numbers.
    if (!isCommittableOffset(position.offset)) throw new RangeError(`seek offset '${position.offset}' is not a valid offset`)
    const offset = Number(position.offset)
    this.#seekEpochs.set(k, (this.#seekEpochs.get(k) ?? 0) + 1)
    if (this.#assigned.some((tp) => key(tp) === k)) this.#positions.set(k, offset)
    else this.#pendingSeeks.set(k, offset)
    this.#deps.wake()
  }

  pause(partitions: readonly TopicPartition[]): void {
    for (const tp of partitions) this.#paused.add(key(tp))
  }

  resume(partitions: readonly TopicPartition[]): void {
    for (const tp of partitions) this.#paused.delete(key(tp))
    this.#deps.wake()
  }

  stop(): Promise<void> {
    this.#stopping ??= this.#stop()
    return this.#stopping
  }

  /** Called by the coordinator; waits for the in-flight batch so a partition is never read twice. */
  async revoke(partitions: readonly TopicPartition[]): Promise<void> {
    await this.#underBarrier(async () => {
      this.#assigned = this.#assigned.filter((tp) => !partitions.some((p) => key(p) === key(tp)))
      for (const tp of partitions) this.#positions.delete(key(tp))
      await this.#handlers?.onRevoked?.(partitions)
    })
  }

  async assign(partitions: readonly TopicPartition[]): Promise<void> {
    await this.#underBarrier(async () => {
      for (const tp of partitions) {
        const k = key(tp)
        if (this.#positions.has(k)) continue
        const log = this.#deps.partition(tp.topic, tp.partition)
        const fallback = this.#options.fromBeginning === false ? (log?.endOffset ?? 0) : 0
        this.#positions.set(k, this.#pendingSeeks.get(k) ?? this.#deps.coordinator.committed(tp.topic, tp.partition) ?? fallback)
        this.#pendingSeeks.delete(k)
      }
      this.#assigned = [...partitions]
      await this.#handlers?.onAssigned?.(partitions)
    })
  }

  async #underBarrier(fn: () => Promise<void>): Promise<void> {
    let release!: () => void
    const previous = this.#barrier
    this.#barrier = new Promise((resolve) => (release = resolve))
    try {
      await previous
      await this.#busy
      await fn()
    } catch (err: unknown) {
      this.#crash(err)
    } finally {
      release()
      this.#barrier = undefined
      this.#deps.wake()
    }
  }

  async #deliver(): Promise<void> {
    let round = 0
    while (this.#running) {
      if (this.#barrier) {
        await this.#barrier
        continue
      }
      const ready = this.#assigned.filter((tp) => !this.#paused.has(key(tp)))
      let delivered = false
      for (let i = 0; i < ready.length && this.#running && !this.#barrier; i++) {
        if (await this.#deliverOne(ready[(round + i) % ready.length] as TopicPartition)) delivered = true
      }
      round++
      if (!delivered && this.#running && !this.#barrier) await this.#deps.waitForData(this.#options.pollIntervalMs)
    }
  }

  async #deliverOne(tp: TopicPartition): Promise<boolean> {
    const k = key(tp)
    const log = this.#deps.partition(tp.topic, tp.partition)
    const position = this.#positions.get(k)
    if (!log || position === undefined || this.#paused.has(k)) return false
    let stored: StoredRecord[]
    try {
      stored = log.read(position, this.#options.maxBatchRecords, this.#options.maxBatchBytes)
    } catch (err: unknown) {
      // A segment damaged since it was opened (DATA_CORRUPT) or a failing disk: the consumer's
      // failure like a handler's, never a rejection of the delivery loop nobody awaits.
      await this.#failed(err, tp, position)
      return true
    }
    if (stored.length === 0) return false
    const records: LogRecord[] = stored.map((r) => ({
      topic: tp.topic,
      partition: tp.partition,
      offset: String(r.offset),
      key: r.key,
      value: r.value,
      timestampMs: r.timestampMs,
      headers: r.headers,
    }))
    const epoch = this.#seekEpochs.get(k)
    let done!: () => void
    this.#busy = new Promise((resolve) => (done = resolve))
    try {
      // A compacted topic's read from a removed offset starts at the next record kept: the span says no record lies between.
      const span = stored[0]!.offset > position ? { span: { from: String(position), next: String(stored.at(-1)!.offset + 1) } } : {}
      const batch = { topic: tp.topic, partition: tp.partition, records, highWatermark: String(log.endOffset), ...span }
      const outcome = await insideHandlerOf.run(this, () => (this.#handlers as ConsumerHandlers).eachBatch(batch))
      const consumed = consumedCount(outcome, stored.length)
      if (consumed > 0 && this.#seekEpochs.get(k) === epoch && this.#positions.has(k)) this.#positions.set(k, (stored[consumed - 1]?.offset ?? position) + 1)
    } catch (err: unknown) {
      await this.#failed(err, tp, position)
    } finally {
      this.#busy = undefined
      done()
    }
    return true
  }

  /** With `onCrash`, the consumer stops and reports; without, the batch at `position` comes again after the back-off. */
  async #failed(err: unknown, tp: TopicPartition, position: number): Promise<void> {
    if (this.#options.onCrash) return this.#crash(err)
    this.#deps.logger.error({ err, topic: tp.topic, partition: tp.partition, offset: String(position) }, 'reading or handling a batch failed; retrying the batch')
    await this.#deps.clock.sleep(this.#options.retryBackoffMs)
  }

  #crash(err: unknown): void {
    if (!this.#running) return
    this.#running = false
    this.#deps.logger.error({ err }, 'embedded consumer crashed')
    const onCrash = this.#options.onCrash
    // Leaving rebalances the group, which waits for this consumer's barrier: do it asynchronously.
    void this.#deps.coordinator.leave(this).catch((leaveErr: unknown) => this.#deps.logger.error({ err: leaveErr }, 'leaving the group failed'))
    if (onCrash) queueMicrotask(() => onCrash(err))
  }

  async #stop(): Promise<void> {
    const wasRunning = this.#running
    this.#running = false
    this.#deps.wake()
    // A batch in flight ends before its partitions are revoked, as the Kafka clients do: a member
    // told in onRevoked that a partition is gone must not still be handling a batch of it. Only a
    // stop() called by that handler itself cannot wait for it (the loop awaits the handler).
    if (insideHandlerOf.getStore() !== this) await this.#loop
    if (!wasRunning) return
    const held = this.#assigned
    this.#assigned = []
    if (held.length > 0) await this.#handlers?.onRevoked?.(held)
    await this.#deps.coordinator.leave(this)
  }
}
