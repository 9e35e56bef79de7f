/**
 * The re-key stage (docs/design.md §2): consumes a source topic, keys every record by an entity the topic is not
 * keyed by, and produces it to the internal topic `<prefix>.<source>.by-<entity>`, exactly once — Kafka's
 * consume-transform-produce: each transaction holds forwarded records, dead letters and the consumed offsets of
 * every source partition it advanced (`sendOffsets` to the stage's own consumer group), so records and progress
 * commit together or not at all. Views consume the internal topic read-committed, so they never see a record of an
 * aborted (e.g. killed) transaction. What is forwarded or refused per record: rekey-records.ts. Forwarded events
 * go in bundles, one Kafka record per internal partition and slice of a transaction (rekey-bundle.ts).
 *
 * Order (docs/semantics.md §16): the stage's group gives the WHOLE source topic to one member (`exclusive`
 * assignment), and that member forwards in the order of a strict record-level merge of all source partitions by
 * event time (rekey-alignment.ts): fetched batches go into per-partition queues, and a record goes only once it is
 * the smallest among the heads of all partitions, those not fetched yet included. On a backlog the internal
 * topic's order is thus a function of the source's contents alone: a run that crashes and restarts from the
 * committed offsets writes what an uninterrupted run writes, and no event on time in its source partition is late
 * in the internal topic. A member that does not own every partition (it cannot happen with the exclusive
 * assignment, but a rebalance passes through it) forwards nothing. Queues are bounded: a partition whose queue is
 * full is paused until the merge drains it. The consumer keeps fetching and decoding while a transaction commits
 * (a batch waits for the drain only once its partition is paused).
 *
 * Ownership: on taking partitions the stage opens (and aborts) a transaction with its one transactional id — fencing
 * a live previous owner, letting its last transaction end — then reads the group's committed offsets (refused behind
 * what the internal topic holds: rekey-committed-guard.ts) and seeks there: merge and consumer start at the same place.
 *
 * Change sources: the stage keeps a row index (primary key → group, rekey-row-index.ts) in a state topic written
 * in the same transactions, for changes whose before image names no group.
 *
 * Failure: any error of a transaction aborts it and is fatal for the engine (the process restarts from the
 * committed offsets) — retrying in place could repeat a commit whose outcome is unknown. The one exception is
 * being fenced after losing the topic to another member, which is the normal end of a zombie's work.
 */
import type { Clock } from '../core/clock.ts'
import { FeatureStoreError } from '../core/errors.ts'
import type { Logger } from '../core/logger.ts'
import type { Decoder } from '../schemas/decoder.ts'
import type { LogTransaction, TransactionalEventLog } from '../ports/event-log-transaction.ts'
import type { DeadLetter, DeadLetterSink } from '../ports/dead-letters.ts'
import type { LogBatch, LogConsumer, LogRecord, PositionNotice, ProduceRecord, TopicPartitionOffset } from '../ports/event-log.ts'
import { chunksOf, deadLetterRecords } from './dead-letter-topic.ts'
import { countDeadLetters, type EngineStats } from './engine-stats.ts'
import type { RekeyPlan } from './plan-sources.ts'
import { RecordMerge, type Merged } from './rekey-alignment.ts'
import { rekeyRecord, resolveByIndex, type RekeyOutcome } from './rekey-records.ts'
import { loadRowIndex, ROW_GROUPS_TOPIC_OPTIONS, RowGroupIndex, rowGroupsTopic } from './rekey-row-load.ts'
import { bundleForwards, bundleRequests } from './rekey-bundle.ts'
import { rekeyBatchGapHandler, rekeyIdleGapHandler, resumedLane } from './rekey-deleted.ts'
import { forwardedTail, refuseCommittedBehindForwarded } from './rekey-committed-guard.ts'
import { retry } from '../core/retry.ts'
import { partitionCountRefused } from './source-partitions.ts'

export { REKEY_HEADERS, rekeyRecords, type RekeyedBatch } from './rekey-records.ts'

/** Records queued per stage before partitions are paused (spread over the source partitions). */
const QUEUED_RECORDS = 50_000
const MIN_QUEUED_PER_PARTITION = 1_000
/**
 * Records forwarded per transaction at most. With bundles (rekey-bundle.ts) the stage waits on each
 * transaction's broker round trips more than it computes: fewer, larger transactions.
 */
const TRANSACTION_RECORDS = 20_000

export function rekeyGroupId(engineGroupId: string, plan: Pick<RekeyPlan, 'source' | 'entity'>): string {
  return `${engineGroupId}.rekey.${plan.source.name}.by-${plan.entity.name}`
}

export interface RekeyStageOptions {
  readonly log: TransactionalEventLog
  readonly plan: RekeyPlan
  /** The engine's group; the stage uses `rekeyGroupId(groupId, plan)`. */
  readonly groupId: string
  readonly decoder: Decoder
  readonly deadLetters: DeadLetterSink
  /** When given, dead letters are produced in the stage's transactions (exactly once) to this topic. */
  readonly deadLetterTopic?: string
  readonly stats: EngineStats
  readonly clock: Clock
  readonly logger: Logger
  readonly onFatal: (err: Error) => void
  /** Records the merge may hold in memory (default 50,000); tests make it small. */
  readonly queuedRecords?: number
  /** How long a partition holding the merge back stays quiet before the log's start is read (rekey-idle-gap.ts; default 5 s). */
  readonly deletedCheckMs?: number
}

export interface RekeyPartitionProgress {
  /** Next source offset to re-key (everything before it is committed), known once the partition is owned. */
  readonly position: string | undefined
  readonly assignedAtMs: number
  readonly lastBatchAtMs: number | undefined
}

export interface RekeyStage {
  readonly plan: RekeyPlan
  readonly groupId: string
  start(): Promise<void>
  /** Stops consuming and waits for the transaction in flight; rejects if it (or any during the stop) failed. */
  stop(): Promise<void>
  /** Per owned source partition. */
  progress(): ReadonlyMap<number, RekeyPartitionProgress>
  /** True while a batch is being re-keyed. */
  readonly busy: boolean
  /** When the stage last finished a batch or got an assignment (wall clock). */
  readonly lastActivityAtMs: number
  /**
   * Source partitions quiet for `quietMs` and short of `ends` (or, without, holding the merge back)
   * whose unread records retention deleted are moved past them (rekey-idle-gap.ts); resolves
   * whether one moved.
   */
  passDeleted(nowMs: number, quietMs: number, ends?: readonly string[]): Promise<boolean>
}

/** What a queued record carries to its transaction: what to forward, or its dead letter. */
type Queued = RekeyOutcome

export function createRekeyStage(options: RekeyStageOptions): RekeyStage {
  const { log, plan, decoder, stats, clock } = options
  const groupId = rekeyGroupId(options.groupId, plan)
  // One owner for the whole topic, so one id: a new owner's first transaction fences the last one.
  const transactionalId = groupId
  const topic = plan.source.topic
  const logger = options.logger.child({ component: 'pipeline.rekey', topic: plan.topic })
  const index = plan.source.changes ? new RowGroupIndex() : undefined // rekey-row-index.ts
  const indexTopic = rowGroupsTopic(plan.topic)
  const owned = new Map<number, { position: string | undefined; assignedAtMs: number; lastBatchAtMs: number | undefined }>()
  const paused = new Set<number>()
  let merge: RecordMerge<Queued> | undefined
  /** The internal topic's partitions, which bundles are grouped by. */
  let internalPartitions = 1
  let perPartitionLimit = MIN_QUEUED_PER_PARTITION
  let consumer: LogConsumer | undefined
  let draining: Promise<void> = Promise.resolve()
  /** Batches waiting, every partition paused, for a transaction to make room (`resumeDrained` wakes them). */
  const resumeWaiters: (() => void)[] = []
  let busyCount = 0
  let lastActivityAtMs = clock.nowMs()
  let failed = false
  let failure: Error | undefined
  /** Positions lanes moved to past deleted records, for the next transaction's offsets. */
  const skips = new Map<number, bigint>()
  let idleTimer: NodeJS.Timeout | undefined
  const reads = <T>(read: () => Promise<T>) => retry(read, { clock, attempts: 60, maxDelayMs: 2_000 })
  const gapDeps = {
    log,
    topic,
    merge: () => merge,
    reads,
    report: { deletedBeforeRead: stats.deletedBeforeRead, logger },
    seek: (partition: number, offset: string) => consumer?.seek({ topic, partition, offset }),
  }
  // A batch past a lane's position: records deleted before they were re-keyed, or the source's own gap.
  const pastDeletion = rekeyBatchGapHandler(gapDeps)
  const passDeleted = rekeyIdleGapHandler({
    ...gapDeps,
    owned: () => owned,
    busy: () => busyCount > 0,
    skipped: (partition, position) => {
      skips.set(partition, position)
      void drain()
    },
  })

  /** Reported once; the stage forwards nothing more (the engine restarts from the committed offsets). */
  const fatal = (err: unknown): Error => {
    const error = err instanceof Error ? err : new Error(String(err))
    if (!failed) options.onFatal(error)
    failed = true
    failure ??= error
    return error
  }

  async function onBatch(batch: LogBatch): Promise<void> {
    if (batch.records.length === 0 || !merge || failed) return
    busyCount++
    try {
      const first = batch.span?.from ?? batch.records[0]!.offset
      const expected = merge.position(batch.partition)
      if (expected !== undefined && BigInt(first) > expected && !(await pastDeletion(batch.partition, expected.toString(), first, batch.highWatermark))) return
      const decoded = await decoder.decodeBatch(batch.records.map((r) => r.value))
      const entries = batch.records.map((record, i) => {
        const outcome = rekeyRecord(plan, record, decoded[i]!)
        return { offset: BigInt(record.offset), timeMs: outcome.timeMs, value: outcome }
      })
      const last = batch.records[batch.records.length - 1] as LogRecord
      merge.add(batch.partition, entries, BigInt(batch.span?.next ?? BigInt(last.offset) + 1n), BigInt(batch.highWatermark))
      const entry = owned.get(batch.partition)
      if (entry) entry.lastBatchAtMs = clock.nowMs()
      if (merge.queued(batch.partition) >= perPartitionLimit && !paused.has(batch.partition)) {
        paused.add(batch.partition)
        consumer?.pause([{ topic, partition: batch.partition }])
      }
      // The consumer fetches and decodes while transactions commit: a full partition is paused and
      // the batch returns; only once EVERY owned partition is paused does it wait (a kafkajs consumer
      // with all partitions paused sleeps its 5 s maxWaitTime: session 13), and only until a
      // transaction made room (`resumeDrained`), not for the whole drain (session 17).
      const drained = drain()
      if (paused.size >= owned.size) await Promise.race([drained, new Promise<void>((wake) => resumeWaiters.push(wake))])
    } finally {
      busyCount--
      lastActivityAtMs = clock.nowMs()
    }
  }

  function onPosition(notice: PositionNotice): void {
    if (notice.topic !== topic || !merge?.started(notice.partition)) return
    merge.moved(notice.partition, BigInt(notice.nextOffset), BigInt(notice.highWatermark))
    void drain()
  }

  /** Forwards what the merge allows, one transaction at a time; serialised; an error is fatal (reported here). */
  function drain(): Promise<void> {
    const run = draining.then(async () => {
      busyCount++
      try {
        while (!failed && merge && owned.size === merge.partitions) {
          const next = merge.take(TRANSACTION_RECORDS)
          // Nothing to forward, but a lane moved past deleted records: commit its position alone.
          if (next.length === 0 && skips.size === 0) break
          if (!(await forward(next)) || next.length === 0) break
          // Room made: a consumer waiting with every partition paused goes on fetching meanwhile.
          resumeDrained()
        }
        resumeDrained()
        refreshProgress()
      } finally {
        busyCount--
      }
    })
    draining = run.catch((err: unknown) => {
      logger.error({ err }, 're-key forwarding failed')
      fatal(err)
    })
    return draining
  }

  function resumeDrained(): void {
    const go = [...paused].filter((p) => !merge || merge.queued(p) < perPartitionLimit / 2)
    for (const p of go) paused.delete(p)
    if (go.length > 0) consumer?.resume(go.map((partition) => ({ topic, partition })))
    if (go.length > 0 || paused.size < owned.size) for (const wake of resumeWaiters.splice(0)) wake()
  }

  /** A partition with nothing queued has forwarded (committed) everything up to its read position. */
  function refreshProgress(): void {
    for (const [p, entry] of owned) {
      const position = merge?.position(p)
      if (position !== undefined && merge!.queued(p) === 0) entry.position = position.toString()
    }
  }

  /** One transaction; false when fenced after losing the topic (the new owner redoes it). */
  async function forward(items: readonly Merged<Queued>[]): Promise<boolean> {
    const records: ProduceRecord[] = []
    const deadLetters: DeadLetter[] = []
    // Each partition's last offset forwarded; the next one (a new BigInt) is computed once a partition.
    const last = new Map<number, bigint>()
    for (const { partition, record } of items) {
      const outcome = index === undefined ? record.value : resolveByIndex(plan, record.value, index)
      if (outcome.forwards) for (const copy of outcome.forwards) records.push(copy)
      else deadLetters.push(outcome.deadLetter)
      last.set(partition, record.offset)
    }
    const committing = new Map([...last].map(([partition, offset]) => [partition, offset + 1n]))
    // A lane moved past deleted records is committed at the move at least (a record after it is further on).
    for (const [partition, position] of skips) if (!committing.has(partition) && owned.has(partition)) committing.set(partition, position)
    const offsets: TopicPartitionOffset[] = [...committing].map(([partition, offset]) => ({ topic, partition, offset: offset.toString() }))
    const skipped = [...skips]
    const inTransaction = options.deadLetterTopic !== undefined
    let txn: LogTransaction | undefined
    try {
      txn = await log.transaction(transactionalId)
      // Several sends, one transaction: each partition's batch stays under the broker's message size limit.
      for (const request of bundleRequests(bundleForwards(records, internalPartitions))) await txn.produce(plan.topic, request)
      // The index as of these offsets: a new owner reads it back (onAssigned).
      if (index !== undefined) for (const chunk of chunksOf(index.takeWrites())) await txn.produce(indexTopic, chunk)
      if (inTransaction)
        for (const chunk of chunksOf(deadLetterRecords(deadLetters))) await txn.produce(options.deadLetterTopic!, chunk)
      await txn.sendOffsets(groupId, offsets)
      await txn.commit()
    } catch (err: unknown) {
      await txn?.abort().catch((e: unknown) => logger.debug({ err: e }, 'abort after a failed transaction failed'))
      if (err instanceof FeatureStoreError && err.code === 'COMMIT_CONFLICT' && owned.size < (merge?.partitions ?? 0)) {
        logger.warn(
          { records: items.length },
          're-key transaction fenced after the source topic moved to another member; the new owner redoes it',
        )
        return false
      }
      throw err
    }
    // At least once for dead letters only when the engine gave no topic to write them transactionally.
    if (!inTransaction && deadLetters.length > 0) await options.deadLetters.write(deadLetters)
    countDeadLetters(stats, deadLetters)
    for (const [partition, position] of skipped) if (skips.get(partition) === position) skips.delete(partition)
    stats.rekeyed += records.length
    for (const { partition, offset } of offsets) {
      const entry = owned.get(partition)
      if (entry) entry.position = offset
    }
    return true
  }

  async function onAssigned(assigned: readonly { topic: string; partition: number }[]): Promise<void> {
    lastActivityAtMs = clock.nowMs()
    if (!merge) return
    const keep = new Set(assigned.filter((a) => a.topic === topic).map((a) => a.partition))
    const beyond = [...keep].filter((p) => p >= merge!.partitions)
    // The topic grew while the stage ran: refused, as at every start (source-partitions.ts).
    if (beyond.length > 0) throw partitionCountRefused(plan.source, Math.max(...beyond) + 1, { grown: true, atLeast: true })
    for (const p of [...owned.keys()]) if (!keep.has(p)) release(p)
    const taken = [...keep].filter((p) => !owned.has(p)).sort((a, b) => a - b)
    if (taken.length > 0) {
      // Fence a previous owner first: its last transaction ends (commits or aborts) before we read offsets.
      await (await log.transaction(transactionalId)).abort()
      const [committed, starts, ends] = await Promise.all([log.committedOffsets(groupId, topic), log.startOffsets(topic), log.endOffsets(topic)])
      refuseCommittedBehindForwarded({ groupId, topic, internalTopic: plan.topic }, committed, await forwardedTail(log, plan.topic, groupId))
      if (index !== undefined) await loadRowIndex({ log, plan, groupId, indexTopic, decoder, committed, logger }, index)
      const now = clock.nowMs()
      for (const p of taken) {
        const position = resumedLane(gapDeps.report, { topic, partition: p }, committed[p], starts[p] ?? '0', ends[p] ?? '0')
        merge.start(p, BigInt(position), BigInt(ends[p] ?? '0'))
        consumer?.seek({ topic, partition: p, offset: position })
        owned.set(p, { position, assignedAtMs: now, lastBatchAtMs: undefined })
      }
      logger.info({ partitions: taken.length, owned: owned.size, of: merge.partitions }, 're-key stage took source partitions')
    }
    // Pauses outlive rebalances in the clients: start every owned partition unpaused.
    const wasPaused = [...paused].filter((p) => keep.has(p))
    paused.clear()
    if (wasPaused.length > 0) consumer?.resume(wasPaused.map((partition) => ({ topic, partition })))
    void drain()
  }

  function release(partition: number): void {
    owned.delete(partition)
    skips.delete(partition)
    paused.delete(partition)
    merge?.stop(partition)
  }

  return {
    plan,
    groupId,
    async start() {
      await log.createTopic(plan.topic, plan.internalSource.partitions)
      internalPartitions = await log.partitionCount(plan.topic)
      if (options.deadLetterTopic !== undefined) await log.createTopic(options.deadLetterTopic, 1)
      if (index !== undefined) await log.createTopic(indexTopic, 1, ROW_GROUPS_TOPIC_OPTIONS)
      const partitions = await log.partitionCount(topic)
      merge = new RecordMerge<Queued>(partitions)
      perPartitionLimit =
        options.queuedRecords === undefined
          ? Math.max(MIN_QUEUED_PER_PARTITION, Math.floor(QUEUED_RECORDS / partitions))
          : Math.max(1, Math.floor(options.queuedRecords / partitions))
      consumer = log.consumer({
        groupId,
        topics: [topic],
        readCommitted: true,
        exclusive: true,
        onCrash: (err) => fatal(err),
      })
      await consumer.run({
        eachBatch: (batch) =>
          onBatch(batch).catch((err: unknown) => {
            logger.error({ err, partition: batch.partition }, 're-key batch failed')
            throw fatal(err)
          }),
        // A refused assignment (a committed offset past the log's end, a grown topic) is fatal.
        onAssigned: (assigned) =>
          onAssigned(assigned).catch((err: unknown) => {
            throw fatal(err)
          }),
        onRevoked: async (revoked) => {
          for (const r of revoked) if (r.topic === topic) release(r.partition)
        },
        onPosition,
      })
      logger.info({ source: topic, views: plan.views.map((v) => `${v.name}@${v.version}`) }, 're-key stage started')
      const checkMs = options.deletedCheckMs ?? 5_000
      idleTimer = setInterval(() => void passDeleted(clock.nowMs(), checkMs).catch((err: unknown) => fatal(err)), checkMs)
      idleTimer.unref()
    },
    async stop() {
      clearInterval(idleTimer)
      // A failure before the stop was reported through onFatal; one during it (the last
      // transaction's) is the stop's own, and must not read as a clean stop.
      const failedBefore = failed
      await consumer?.stop()
      await draining
      if (failed && !failedBefore) throw failure!
    },
    progress: () => owned,
    passDeleted,
    get busy() {
      return busyCount > 0
    },
    get lastActivityAtMs() {
      return lastActivityAtMs
    },
  }
}
