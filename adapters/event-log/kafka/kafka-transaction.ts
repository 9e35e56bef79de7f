/**
 * `LogTransaction` over a kafkajs transaction (contract in `../../../ports/event-log-transaction.ts`).
 * Offsets go through `sendOffsets`, i.e. Kafka's TxnOffsetCommit, so they commit atomically with
 * the produced records. A fenced producer (a newer one with the same transactional id) fails with
 * a non-retriable `CommitError`.
 */
import type { Message, Transaction } from 'kafkajs'
import { CommitError } from '../../../core/errors.ts'
import type { ProduceRecord, TopicPartitionOffset } from '../../../ports/event-log.ts'
import type { LogTransaction } from '../../../ports/event-log-transaction.ts'

type Router = (topic: string, records: readonly ProduceRecord[]) => Promise<(Message & { partition: number })[]>

export class KafkaTransaction implements LogTransaction {
  readonly #txn: Transaction
  readonly #id: string
  readonly #route: Router
  #open = true

  constructor(txn: Transaction, transactionalId: string, route: Router) {
    this.#txn = txn
    this.#id = transactionalId
    this.#route = route
  }

  get isOpen(): boolean {
    return this.#open
  }

  async produce(topic: string, records: readonly ProduceRecord[]): Promise<void> {
    if (records.length === 0) return
    const messages = await this.#route(topic, records)
    await this.#step('produce', () => this.#txn.send({ topic, acks: -1, messages }))
  }

  async sendOffsets(groupId: string, offsets: readonly TopicPartitionOffset[]): Promise<void> {
    const topics = new Map<string, { partition: number; offset: string }[]>()
    for (const o of offsets) (topics.get(o.topic) ?? topics.set(o.topic, []).get(o.topic)!).push({ partition: o.partition, offset: o.offset })
    await this.#step('sendOffsets', () =>
      this.#txn.sendOffsets({ consumerGroupId: groupId, topics: [...topics].map(([topic, partitions]) => ({ topic, partitions })) }),
    )
  }

  async commit(): Promise<void> {
    await this.#step('commit', () => this.#txn.commit())
    this.#open = false
  }

  async abort(): Promise<void> {
    if (!this.#open) return
    this.#open = false
    if (this.#txn.isActive()) await this.#txn.abort()
  }

  async #step(what: string, fn: () => Promise<unknown>): Promise<void> {
    if (!this.#open) throw new CommitError('COMMIT_FAILED', 'this transaction has already ended', { context: { transactionalId: this.#id } })
    try {
      await fn()
    } catch (err: unknown) {
      const type = (err as { type?: string }).type
      const fenced = type === 'INVALID_PRODUCER_EPOCH' || type === 'PRODUCER_FENCED' || type === 'TRANSACTIONAL_ID_AUTHORIZATION_FAILED'
      this.#open = !fenced && this.#open
      throw new CommitError(fenced ? 'COMMIT_CONFLICT' : 'COMMIT_FAILED', fenced ? 'fenced: a newer producer owns this transactional id' : `kafka transaction ${what} failed`, {
        cause: err,
        context: { transactionalId: this.#id },
      })
    }
  }
}
