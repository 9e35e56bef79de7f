/**
 * `LogTransaction` over an `@platformatic/kafka` transaction (contract in
 * `../../../ports/event-log-transaction.ts`).
 *
 * Offsets. The library commits consumed offsets only as `transaction.addConsumer(consumer)` then
 * `transaction.addOffset(message)`, one consumed message at a time, with the consumer's group
 * generation and member id. The port gives a group id and offsets, with no consumer (the re-key
 * stage computes them from a merge). So `sendOffsets` hands the library what those two calls
 * read: an object with the group id for AddOffsetsToTxn, and for each partition a message-shaped
 * object whose offset is the one before the offset to commit (the library commits offset + 1),
 * with generation -1 and an empty member id — Kafka's TxnOffsetCommit for a producer that is not
 * a group member, which is also what kafkajs sends — and the group coordinator's node. One
 * request per partition, strictly one after another: the library deduplicates concurrent calls
 * of one operation (`kPerformDeduplicated('commit')`), so concurrent `addOffset` calls for
 * different partitions would all get the first one's answer while only it was sent.
 *
 * Empty transactions. Kafka rejects EndTxn for a transaction that added no partition; Java's
 * client ends such a transaction locally. So does this one (`cancel`), e.g. the re-key stage's
 * fencing transaction, opened and aborted at once.
 *
 * A fenced producer (a newer one with the same transactional id) fails with a `CommitError`
 * ('COMMIT_CONFLICT'), as in the kafkajs adapter (../fenced-answers.ts says which answers mean fenced).
 */
import { findErrorBy, type Consumer, type Message, type MessageToProduce, type Producer } from '@platformatic/kafka'
import { CommitError } from '../../../core/errors.ts'
import type { ProduceRecord, TopicPartitionOffset } from '../../../ports/event-log.ts'
import type { LogTransaction } from '../../../ports/event-log-transaction.ts'
import { fencedMessage, isFenced, type TransactionStep } from '../fenced-answers.ts'
import { describeError } from './platformatic-errors.ts'

/** The library's transaction class is not exported by name. */
type Transaction = Awaited<ReturnType<Producer['beginTransaction']>>
type Router = (topic: string, records: readonly ProduceRecord[]) => Promise<MessageToProduce[]>
/** The node of a consumer group's coordinator; `stale` after the coordinator moved. */
export type GroupCoordinatorLookup = (groupId: string, stale?: boolean) => Promise<number>

export class PlatformaticTransaction implements LogTransaction {
  readonly #txn: Transaction
  readonly #id: string
  readonly #route: Router
  readonly #coordinatorOf: GroupCoordinatorLookup
  #open = true
  /** Anything sent to the broker (a produce or an offset commit, even a failed one). */
  #started = false

  constructor(txn: Transaction, transactionalId: string, route: Router, coordinatorOf: GroupCoordinatorLookup) {
    this.#txn = txn
    this.#id = transactionalId
    this.#route = route
    this.#coordinatorOf = coordinatorOf
  }

  get isOpen(): boolean {
    return this.#open
  }

  async produce(topic: string, records: readonly ProduceRecord[]): Promise<void> {
    if (records.length === 0) return
    const messages = await this.#route(topic, records)
    await this.#step('produce', () => this.#txn.send({ messages }))
  }

  async sendOffsets(groupId: string, offsets: readonly TopicPartitionOffset[]): Promise<void> {
    if (offsets.length === 0) return
    await this.#step('sendOffsets', async () => {
      await this.#txn.addConsumer({ groupId } as Consumer)
      for (const o of offsets) await this.#commitOffset(groupId, o)
    })
  }

  async commit(): Promise<void> {
    await this.#step('commit', () => (this.#started ? this.#txn.commit() : this.#txn.cancel()), false)
    this.#open = false
  }

  async abort(): Promise<void> {
    if (!this.#open) return
    this.#open = false
    if (!this.#txn.completed) await (this.#started ? this.#txn.abort() : this.#txn.cancel())
  }

  async #commitOffset(groupId: string, o: TopicPartitionOffset): Promise<void> {
    const message = async (stale: boolean) =>
      ({
        topic: o.topic,
        partition: o.partition,
        offset: BigInt(o.offset) - 1n,
        metadata: {
          consumer: { groupId, generationId: -1, memberId: '', coordinatorId: await this.#coordinatorOf(groupId, stale) },
        },
      }) as unknown as Message
    try {
      await this.#txn.addOffset(await message(false))
    } catch (err: unknown) {
      if (
        !findErrorBy(err as Error, 'apiId', 'NOT_COORDINATOR') &&
        !findErrorBy(err as Error, 'apiId', 'COORDINATOR_NOT_AVAILABLE')
      )
        throw err
      await this.#txn.addOffset(await message(true))
    }
  }

  async #step(what: TransactionStep, fn: () => Promise<unknown>, sends = true): Promise<void> {
    if (!this.#open)
      throw new CommitError('COMMIT_FAILED', 'this transaction has already ended', { context: { transactionalId: this.#id } })
    if (sends) this.#started = true
    try {
      await fn()
    } catch (err: unknown) {
      const answered = (code: number) => findErrorBy(err as Error, 'apiCode', code) !== null
      const fenced = isFenced(what, answered)
      if (fenced) this.#open = false
      throw new CommitError(
        fenced ? 'COMMIT_CONFLICT' : 'COMMIT_FAILED',
        fenced ? fencedMessage(what, answered) : `kafka transaction ${what} failed: ${describeError(err)}`,
        {
          cause: err,
          context: { transactionalId: this.#id },
        },
      )
    }
  }
}
