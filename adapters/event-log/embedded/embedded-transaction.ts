/**
 * A transaction on the embedded log (see `log-transaction.ts` for the contract).
 *
 * Strategy: records and offsets are staged in memory; nothing touches the partitions before
 * `commit()`. Commit then (1) writes a journal naming every partition's base offset and the
 * records, plus the group offsets, and fsyncs it; (2) appends the records and commits the offsets;
 * (3) deletes the journal. Reopening the log finishes any journal left by a crash between (1) and
 * (3), so the records and offsets land together or not at all. A commit that fails in (2) (a disk
 * error) is finished the same way: the log takes no more writes until it is reopened. Staging means read-committed is
 * the only isolation the embedded log has: uncommitted records are invisible to every reader.
 */
import { CommitError } from '../../../core/errors.ts'
import type { ProduceRecord, TopicPartitionOffset } from '../../../ports/event-log.ts'
import type { LogTransaction } from '../../../ports/event-log-transaction.ts'

export interface StagedRecord {
  readonly key: Uint8Array | null
  readonly value: Uint8Array | null
  readonly headers: Readonly<Record<string, string>>
  /** The producer's timestamp, when it gave one (checked by `route`). */
  readonly timestampMs?: number
}

export interface TransactionPlan {
  readonly records: Map<string, { topic: string; partition: number; records: StagedRecord[] }>
  readonly offsets: Map<string, TopicPartitionOffset[]>
}

export interface TransactionHost {
  /** Picks the partition exactly as a plain produce would (explicit, murmur2 of the key, or round-robin). */
  route(topic: string, record: ProduceRecord): number
  /** Refuses offsets a group could not commit (./group-coordinator.ts checkOffsets). */
  checkOffsets(offsets: readonly TopicPartitionOffset[]): void
  isCurrent(transactionalId: string, epoch: number): boolean
  /** Lands the plan; `isFenced` is asked once its turn comes (appends asked before it are written), right before. */
  commit(transactionalId: string, plan: TransactionPlan, isFenced: () => boolean): Promise<void>
  end(transactionalId: string, epoch: number): void
}

export class EmbeddedTransaction implements LogTransaction {
  readonly #host: TransactionHost
  readonly #id: string
  readonly #epoch: number
  readonly #plan: TransactionPlan = { records: new Map(), offsets: new Map() }
  #ended = false

  constructor(host: TransactionHost, transactionalId: string, epoch: number) {
    this.#host = host
    this.#id = transactionalId
    this.#epoch = epoch
  }

  async produce(topic: string, records: readonly ProduceRecord[]): Promise<void> {
    this.#check()
    // Every record routed (and checked) before any is staged: a refused call stages nothing.
    const partitions = records.map((record) => this.#host.route(topic, record))
    for (const [i, record] of records.entries()) {
      const partition = partitions[i]!
      const k = `${partition}\u0000${topic}`
      let staged = this.#plan.records.get(k)
      if (!staged) this.#plan.records.set(k, (staged = { topic, partition, records: [] }))
      // Copies: the call has taken the record (as a Kafka producer has sent it), so a caller may
      // reuse its buffers and objects; staged by reference, the commit wrote what they held by then.
      const key = typeof record.key === 'string' ? Buffer.from(record.key, 'utf8') : record.key && Buffer.from(record.key)
      const value = record.value && Buffer.from(record.value)
      staged.records.push({ key, value, headers: { ...record.headers }, ...(record.timestampMs === undefined ? {} : { timestampMs: record.timestampMs }) })
    }
  }

  async sendOffsets(groupId: string, offsets: readonly TopicPartitionOffset[]): Promise<void> {
    this.#check()
    this.#host.checkOffsets(offsets)
    this.#plan.offsets.set(groupId, [...(this.#plan.offsets.get(groupId) ?? []), ...offsets.map((o) => ({ ...o }))])
  }

  async commit(): Promise<void> {
    this.#check()
    this.#ended = true
    try {
      // Fenced while waiting its turn: a newer transaction of this id has begun, this one must not land.
      await this.#host.commit(this.#id, this.#plan, () => !this.#host.isCurrent(this.#id, this.#epoch))
    } finally {
      this.#host.end(this.#id, this.#epoch)
    }
  }

  async abort(): Promise<void> {
    if (this.#ended) return
    this.#ended = true
    this.#host.end(this.#id, this.#epoch)
  }

  #check(): void {
    if (this.#ended) throw new CommitError('COMMIT_FAILED', 'this transaction has already ended', { context: { transactionalId: this.#id } })
    if (!this.#host.isCurrent(this.#id, this.#epoch)) {
      this.#ended = true
      throw fenced(this.#id)
    }
  }
}

export function fenced(transactionalId: string): CommitError {
  return new CommitError('COMMIT_CONFLICT', 'fenced: a newer transaction was opened with this transactional id', { context: { transactionalId } })
}
