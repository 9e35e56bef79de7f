/**
 * `LogTransaction` over a kafkajs transaction (contract in `../../../ports/event-log-transaction.ts`).
 * Offsets go through `sendOffsets`, i.e. Kafka's TxnOffsetCommit, so they commit atomically with
 * the produced records. A fenced producer (a newer one with the same transactional id) fails with
 * a `CommitError` 'COMMIT_CONFLICT' (../fenced-answers.ts says which answers mean fenced).
 */
import type { Message, Transaction } from 'kafkajs'
import { CommitError } from '../../../core/errors.ts'
import type { ProduceRecord, TopicPartitionOffset } from '../../../ports/event-log.ts'
import type { LogTransaction } from '../../../ports/event-log-transaction.ts'
import { fencedMessage, isFenced, type TransactionStep } from '../fenced-answers.ts'

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

  async #step(what: TransactionStep, fn: () => Promise<unknown>): Promise<void> {
    if (!this.#open) throw new CommitError('COMMIT_FAILED', 'this transaction has already ended', { context: { transactionalId: this.#id } })
    try {
      await fn()
    } catch (err: unknown) {
      const answers = answersOf(err)
      const answered = (code: number) => answers.has(code)
      const fenced = isFenced(what, answered)
      this.#open = !fenced && this.#open
      throw new CommitError(fenced ? 'COMMIT_CONFLICT' : 'COMMIT_FAILED', fenced ? fencedMessage(what, answered) : `kafka transaction ${what} failed`, {
        cause: err,
        context: { transactionalId: this.#id },
      })
    }
  }
}

/** Kafka's answers (error codes) a kafkajs error carries: a protocol error's own, and those of the errors it wraps (a retrier's last one). */
function answersOf(err: unknown): Set<number> {
  const codes = new Set<number>()
  for (let e: unknown = err, depth = 0; typeof e === 'object' && e !== null && depth < 5; depth++) {
    const { type, code, cause } = e as { type?: unknown; code?: unknown; cause?: unknown }
    if (typeof type === 'string' && typeof code === 'number') codes.add(code)
    e = cause
  }
  return codes
}
