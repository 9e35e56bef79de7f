/**
 * The embedded event log: a durable, single-process, append-only log under a local directory with
 * the Kafka semantics kfs relies on — N partitions per topic, Kafka's murmur2 key partitioning,
 * gap-free offsets per partition (decimal strings at the port), consumer groups with persisted
 * committed offsets and in-process round-robin membership, seek, pause/resume, and read-committed
 * transactions. It is the default when no Kafka brokers are configured.
 *
 * Layout under `dir`:
 * ```
 * LOCK                                  the owning process: pid and start time (adapters/local-disk/directory-lock.ts)
 * topics/<topic>/topic.json             {"partitions":N,"topic":"<topic>","compactAfterMs":M} (./topic-meta.ts)
 * topics/<topic>/<p>/<base>.log         segments (record-format.ts)
 * topics/<topic>/<p>/<base>.index       hints, rebuilt when they do not read: each segment's sparse index (sparse-index.ts); `compacted` (compaction.ts)
 * topics/<topic>/<p>/acked-end          the offset the last returned append reached (acked-end.ts)
 * groups/<groupId>.json                 committed offsets (group-coordinator.ts)
 * txn/<transactionalId>.json            commit journal, present only mid-commit (embedded-transaction.ts)
 * ```
 * Opening is lazy: the first call takes the lock and finishes interrupted transaction commits.
 * Another process reads beside the owner, without the lock, through ./embedded-log-reader.ts.
 */
import { existsSync, readdirSync, unlinkSync } from 'node:fs'
import { join } from 'node:path'
import { systemClock, type Clock } from '../../../core/clock.ts'
import { SourceError } from '../../../core/errors.ts'
import { silentLogger, type Logger } from '../../../core/logger.ts'
import { isTopicName, TOPIC_NAME_RULE } from '../../../core/topic-name.ts'
import type { PackedRecords, ProduceRecord, TopicOptions } from '../../../ports/event-log.ts'
import { makeDirSync } from '../../local-disk/sync-dir.ts'
import { lockDirectory, unlockDirectory } from '../../local-disk/directory-lock.ts'
import { fileNameFor, writeJsonAtomic } from './durable-file.ts'
import { deliverySettings, EmbeddedConsumer } from './embedded-consumer.ts'
import { EmbeddedTransaction, fenced, type TransactionHost, type TransactionPlan } from './embedded-transaction.ts'
import { checkOffsets, GroupCoordinator } from './group-coordinator.ts'
import { commitInDoubt, journalMismatch, journalRecord, readJournal, storedRecord, type JournalEntry } from './transaction-journal.ts'
import type { ConsumerCrashHandler, LogTransaction, TransactionalEventLog } from '../../../ports/event-log-transaction.ts'
import { partitionForKey } from '../../../core/murmur2.ts'
import { PackedAppendLine } from './packed-appends.ts'
import type { PartitionLog, PartitionLogOptions } from './partition-log.ts'
import { EmbeddedTopics, type Topic } from './embedded-topics.ts'
import { compactionLag } from './topic-meta.ts'
import { checkHeaders, recordTimestamp } from './record-format.ts'

export interface EmbeddedEventLogOptions {
  readonly dir: string
  readonly clock?: Clock
  readonly logger?: Logger
  /** 'batch' (default): fsync every produce batch, transaction commit and offset commit. 'never': leave it to the OS. */
  readonly fsync?: 'batch' | 'never'
  /** A segment is closed for appends once it reaches this size. Default 64 MiB. */
  readonly segmentBytes?: number
  /** Longest wait between delivery rounds when no append wakes a consumer. Default 100 ms. */
  readonly pollIntervalMs?: number
  readonly maxBatchRecords?: number
  readonly maxBatchBytes?: number
  /** Back-off before a failed batch is redelivered (consumers without `onCrash`). Default 1 s. */
  readonly retryBackoffMs?: number
  /** Test seam for a failing disk, handed to every partition (PartitionLogOptions.fault). */
  readonly fault?: PartitionLogOptions['fault']
  /** Most sealed segments open at once across the log (./segment-handles.ts); default 64. */
  readonly openSegments?: number
  /** Most keys a compaction pass maps (./compaction.ts, Memory); default 1,000,000. */
  readonly compactionMaxKeys?: number
}

export interface EmbeddedConsumerRequest {
  readonly groupId: string
  readonly topics: readonly string[]
  readonly readCommitted?: boolean
  /** Where a partition with no committed offset starts. Default true (offset 0). */
  readonly fromBeginning?: boolean
  readonly onCrash?: ConsumerCrashHandler
  /** Every partition to one member of the group (ports.ts). */
  readonly exclusive?: boolean
}

export class EmbeddedEventLog implements TransactionalEventLog {
  /** The directory lock keeps every other process from appending (ports/event-log.ts). */
  readonly ownedByThisProcess = true
  readonly #dir: string
  readonly #clock: Clock
  readonly #logger: Logger
  readonly #fsync: boolean
  readonly #options: EmbeddedEventLogOptions
  readonly #topics: EmbeddedTopics
  readonly #groups = new Map<string, GroupCoordinator>()
  readonly #consumers = new Set<EmbeddedConsumer>()
  readonly #transactionEpochs = new Map<string, number>()
  #waiters: (() => void)[] = []
  /**
   * The packed appends in line (./packed-appends.ts): every other append, and close, counts itself
   * asked, then waits for them — `while (this.#packed.inFlight) await this.#packed.inFlight` right
   * before appending, no await between, so no two appends of a partition overlap.
   */
  readonly #packed = new PackedAppendLine()
  #state: 'new' | 'open' | 'closed' = 'new'
  /** A transaction commit that failed part-applied (an I/O error): what refuses every write until a reopen finishes it. */
  #inDoubt: SourceError | undefined

  constructor(options: EmbeddedEventLogOptions) {
    this.#dir = options.dir
    this.#clock = options.clock ?? systemClock
    this.#logger = (options.logger ?? silentLogger).child({ component: 'pipeline.embedded_log' })
    this.#fsync = (options.fsync ?? 'batch') === 'batch'
    this.#options = options
    this.#topics = new EmbeddedTopics({
      dir: options.dir,
      clock: this.#clock,
      logger: this.#logger,
      fsync: this.#fsync,
      segmentBytes: options.segmentBytes ?? 64 * 1024 * 1024,
      openSegments: options.openSegments,
      compactionMaxKeys: options.compactionMaxKeys,
      fault: options.fault,
    })
  }

  /**
   * `options.compactAfterMs` makes a compacted topic (./compaction.ts); an existing topic keeps its
   * settings, as in Kafka — but one stored without a compaction setting takes it (./embedded-topics.ts).
   */
  async createTopic(topic: string, partitions: number, options?: TopicOptions): Promise<void> {
    this.#open()
    if (!isTopicName(topic)) throw new SourceError('BAD_REQUEST', `'${topic}' is not a valid topic name (${TOPIC_NAME_RULE})`)
    if (!Number.isInteger(partitions) || partitions < 1) throw new SourceError('BAD_REQUEST', `a topic needs at least one partition, got ${partitions}`)
    if (!this.#topics.create(topic, partitions, compactionLag(options))) return
    for (const group of this.#groups.values()) if (group.subscribes(topic)) void group.rebalance()
  }

  async partitionCount(topic: string): Promise<number> {
    this.#open()
    return this.#requireTopic(topic).partitions.length
  }

  async produce(topic: string, records: readonly ProduceRecord[]): Promise<readonly { partition: number; offset: string }[]> {
    this.#packed.asked++
    while (this.#packed.inFlight) await this.#packed.inFlight
    this.#writable()
    const t = this.#requireTopic(topic)
    const timestampMs = this.#clock.nowMs()
    // Key bytes once per record: murmur2 partitions by them and the segment stores them.
    const keys = records.map((r) => (typeof r.key === 'string' ? Buffer.from(r.key, 'utf8') : r.key))
    const routed = records.map((r, i) => this.#route(topic, r, keys[i]))
    const byPartition = new Map<number, number[]>()
    routed.forEach((p, i) => (byPartition.get(p) ?? byPartition.set(p, []).get(p)!).push(i))
    const out: { partition: number; offset: string }[] = new Array(records.length)
    for (const [partition, indexes] of byPartition) {
      const base = (t.partitions[partition] as PartitionLog).append(
        indexes.map((i) => {
          const r = records[i] as ProduceRecord
          return { timestampMs: recordTimestamp(r, timestampMs), key: keys[i] ?? null, value: r.value, headers: r.headers ?? {} }
        }),
      )
      indexes.forEach((recordIndex, j) => (out[recordIndex] = { partition, offset: String(base + j) }))
    }
    this.#wake()
    return out
  }

  /**
   * produce's records without an object per record: each partition's share in one pass to its
   * segment bytes, one write, its fsync off this thread. Asked right after another packed append of the
   * topic, framed at once while that one is written, and written only if it was
   * (./packed-appends.ts); `records` is not read after this call's synchronous part but by a call
   * that waits for other appends first.
   */
  async producePacked(topic: string, records: PackedRecords): Promise<void> {
    this.#writable()
    const t = this.#requireTopic(topic)
    await this.#packed.append(topic, t.partitions, records, this.#clock.nowMs(), () => this.#writable(), () => this.#wake())
  }

  /** 0 for every partition: no record is deleted by time or size, and compaction keeps each segment's last record. */
  async startOffsets(topic: string): Promise<string[]> {
    this.#open()
    return this.#requireTopic(topic).partitions.map(() => '0')
  }

  async endOffsets(topic: string): Promise<string[]> {
    this.#open()
    return this.#requireTopic(topic).partitions.map((p) => String(p.endOffset))
  }

  async committedOffsets(groupId: string, topic: string): Promise<(string | undefined)[]> {
    this.#open()
    const group = this.#group(groupId)
    return this.#requireTopic(topic).partitions.map((_, p) => group.committed(topic, p)?.toString())
  }

  consumer(options: EmbeddedConsumerRequest): EmbeddedConsumer {
    this.#open()
    // A topic no log can hold would be waited for forever, without a word.
    const bad = options.topics.find((t) => !isTopicName(t))
    if (bad !== undefined) throw new SourceError('BAD_REQUEST', `'${bad}' is not a valid topic name (${TOPIC_NAME_RULE})`)
    const consumer = new EmbeddedConsumer(
      {
        coordinator: this.#group(options.groupId),
        partition: (topic, partition) => this.#topic(topic)?.partitions[partition],
        waitForData: (timeoutMs) => this.#waitForData(timeoutMs),
        wake: () => this.#wake(),
        clock: this.#clock,
        logger: this.#logger,
      },
      { ...options, ...deliverySettings(this.#options) },
    )
    this.#consumers.add(consumer)
    return consumer
  }

  async transaction(transactionalId: string): Promise<LogTransaction> {
    this.#open()
    if (transactionalId.length === 0) throw new SourceError('BAD_REQUEST', 'a transactional id must not be empty')
    const epoch = (this.#transactionEpochs.get(transactionalId) ?? 0) + 1
    this.#transactionEpochs.set(transactionalId, epoch)
    const host: TransactionHost = {
      route: (topic, record) => {
        this.#requireTopic(topic)
        return this.#route(topic, record)
      },
      checkOffsets: (offsets) => checkOffsets(offsets, (topic) => this.#topic(topic)?.partitions.length ?? 0),
      isCurrent: (id, e) => this.#transactionEpochs.get(id) === e && this.#state === 'open',
      commit: async (id, plan, isFenced) => {
        this.#packed.asked++
        while (this.#packed.inFlight) await this.#packed.inFlight
        this.#writable()
        if (isFenced()) throw fenced(id)
        this.#commitTransaction(id, plan)
      },
      end: () => {},
    }
    return new EmbeddedTransaction(host, transactionalId, epoch)
  }

  async close(): Promise<void> {
    if (this.#state !== 'open') {
      this.#state = 'closed'
      return
    }
    await Promise.all([...this.#consumers].map((c) => c.stop()))
    this.#packed.asked++
    while (this.#packed.inFlight) await this.#packed.inFlight
    this.#state = 'closed'
    this.#wake()
    this.#release()
  }

  /** Settles once every compaction pass queued so far (./compaction-schedule.ts) has run: for tests and tools that read what a pass left. */
  compactionsSettled(): Promise<void> {
    return this.#topics.compactions.settled()
  }

  /** Sealed segments open now across the log, and their bound (option `openSegments`). */
  get openSegments(): number {
    return this.#topics.handles.openCount
  }

  get openSegmentsLimit(): number {
    return this.#topics.handles.limit
  }

  /** This process owns the log now: opened (its LOCK taken), not closed. Asking takes nothing. */
  get isOpen(): boolean {
    return this.#state === 'open'
  }

  #open(): void {
    if (this.#state === 'open') return
    if (this.#state === 'closed') throw new SourceError('BAD_REQUEST', 'this embedded log has been closed')
    makeDirSync(this.#dir, this.#fsync)
    lockDirectory(this.#dir)
    this.#state = 'open'
    try {
      this.#recoverTransactions()
    } catch (err: unknown) {
      // Not open: a later call must not find the log open with a commit left unfinished.
      this.#groups.clear()
      this.#release()
      this.#state = 'new'
      throw err
    }
  }

  /** Closes every partition and gives up the directory. */
  #release(): void {
    this.#topics.closeAll()
    unlockDirectory(this.#dir)
  }

  /** Open, and no commit in doubt: a write now could not be put in order with that commit's records. */
  #writable(): void {
    this.#open()
    if (this.#inDoubt) throw this.#inDoubt
  }

  #topic(name: string): Topic | undefined {
    return this.#topics.get(name)
  }

  #requireTopic(name: string): Topic {
    const topic = this.#topic(name)
    if (!topic) throw new SourceError('NOT_FOUND', `topic '${name}' does not exist; create it first`, { context: { topic: name } })
    return topic
  }

  #route(topic: string, record: ProduceRecord, keyBytes?: Uint8Array | null): number {
    const t = this.#requireTopic(topic)
    if (record.headers !== undefined) checkHeaders(record.headers)
    const n = t.partitions.length
    if (record.partition !== undefined) {
      if (!Number.isInteger(record.partition) || record.partition < 0 || record.partition >= n) throw new SourceError('BAD_REQUEST', `partition ${record.partition} does not exist in '${topic}' (${n} partitions)`)
      return record.partition
    }
    if (record.timestampMs !== undefined) recordTimestamp(record, 0)
    if (record.key === null) return t.roundRobin++ % n
    return partitionForKey(keyBytes ?? record.key, n)
  }

  #group(groupId: string): GroupCoordinator {
    let group = this.#groups.get(groupId)
    if (!group) {
      makeDirSync(join(this.#dir, 'groups'), this.#fsync)
      group = new GroupCoordinator({
        dir: join(this.#dir, 'groups'),
        groupId,
        fsync: this.#fsync,
        beforeCommit: () => this.#writable(),
        partitionCount: (topic) => this.#topic(topic)?.partitions.length ?? 0,
      })
      this.#groups.set(groupId, group)
    }
    return group
  }

  #commitTransaction(transactionalId: string, plan: TransactionPlan): void {
    const journal: JournalEntry = {
      partitions: [...plan.records.values()].map((s) => ({
        topic: s.topic,
        partition: s.partition,
        baseOffset: (this.#requireTopic(s.topic).partitions[s.partition] as PartitionLog).endOffset,
        records: s.records.map(journalRecord),
      })),
      offsets: [...plan.offsets].map(([groupId, offsets]) => ({ groupId, offsets: offsets.map((o) => ({ ...o })) })),
    }
    makeDirSync(join(this.#dir, 'txn'), true)
    const file = join(this.#dir, 'txn', `${fileNameFor(transactionalId)}.json`)
    writeJsonAtomic(file, journal, true)
    try {
      this.#applyJournal(file, journal)
    } catch (err: unknown) {
      // Part of it may be in (and read): a reopen finishes it from the journal. Until then nothing
      // else is written — a retry of it would land twice, and the journal would no longer apply.
      throw (this.#inDoubt = commitInDoubt(file, transactionalId, err))
    }
    unlinkSync(file)
    this.#wake()
  }

  /** Idempotent: a partition already holding the journal's records is left alone. */
  #applyJournal(file: string, journal: JournalEntry): void {
    const timestampMs = this.#clock.nowMs()
    const logs = journal.partitions.map((p) => this.#requireTopic(p.topic).partitions[p.partition] as PartitionLog)
    // Every partition checked before any is appended to: a refused journal applies nothing.
    journal.partitions.forEach((p, i) => {
      const end = logs[i]!.endOffset
      if (end !== p.baseOffset && end !== p.baseOffset + p.records.length) throw journalMismatch(file, p.topic, p.partition, p.baseOffset, end, p.records.length)
    })
    journal.partitions.forEach((p, i) => {
      if (logs[i]!.endOffset === p.baseOffset) logs[i]!.append(p.records.map((r) => storedRecord(r, timestampMs)))
    })
    for (const g of journal.offsets) this.#group(g.groupId).commit(g.offsets)
  }

  #recoverTransactions(): void {
    const dir = join(this.#dir, 'txn')
    if (!existsSync(dir)) return
    for (const name of readdirSync(dir).filter((n) => n.endsWith('.json'))) {
      const file = join(dir, name)
      const journal = readJournal(file, (topic) => this.#topic(topic)?.partitions.length ?? 0)
      if (journal) this.#applyJournal(file, journal)
      unlinkSync(file)
      this.#logger.warn({ journal: file }, 'finished a transaction commit interrupted by a crash')
    }
  }

  #waitForData(timeoutMs: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, timeoutMs)
      function done() {
        clearTimeout(timer)
        resolve()
      }
      this.#waiters.push(done)
    })
  }

  #wake(): void {
    const waiters = this.#waiters
    this.#waiters = []
    for (const w of waiters) w()
  }
}
