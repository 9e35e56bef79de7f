/**
 * A kfs `LogConsumer` on `@platformatic/kafka` (classic group protocol, eager rebalancing, no
 * autocommit).
 *
 * Why not the library's `MessagesStream`: it hands over one message at a time, pauses only the
 * whole stream, cannot seek a running stream (a new stream in MANUAL mode is the documented way),
 * and has no revocation callback. The port needs batches a handler may take in part, per-partition
 * pause and seek, and where a fetch moved past entries it never delivers. So this consumer uses
 * the library's group membership (`joinGroup`, its heartbeat timer, which rejoins by itself when
 * the group rebalances) and its raw `Consumer.fetch`, and keeps the positions itself.
 *
 * Rebalances. The library emits `consumer:group:rebalance` when a heartbeat learns of one (fetching
 * stops here until the rejoin) and `consumer:group:join` with the new assignment: `onRevoked(lost)`
 * first, then `onAssigned(full assignment)`, as the kafkajs adapter does; a partition already
 * released to the group may be read by another member while `onRevoked` runs (a notice, not a
 * fence: offsets are committed by the engine at checkpoints only). A new partition starts at the
 * group's committed offset, else the earliest (fromBeginning) or latest offset; a seek in
 * `onAssigned` wins. Heartbeats run on the library's timer, whatever a handler is doing.
 *
 * Positions. Each assigned partition has a read position (the next offset to fetch) and `spanFrom`
 * (the offset after the last record a handler took, or the seek): a batch's `span` runs from
 * `spanFrom` to the offset after the fetched entries, markers and aborted records included
 * (fetched-partition.ts). A seek, a pause or a rebalance while a fetch is in flight makes its
 * answer for that partition stale; it is dropped and fetched again.
 *
 * Failure. A handler error with `onCrash` stops the consumer and reports it; without, the batch is
 * delivered again. A batch no codec can decompress stops it too, naming the partition
 * (batch-decoding.ts). Fetch errors are retried by the library (`retries`), then here after a pause;
 * an offset out of range restarts the partition at its earliest (fromBeginning) or latest offset;
 * a rejoin the library gives up on is retried while the error is retriable, else it is a crash.
 */
import { Consumer, ConnectionPool, FetchIsolationLevels } from '@platformatic/kafka'
import { SourceError } from '../../../core/errors.ts'
import type { Logger } from '../../../core/logger.ts'
import type { ConsumerHandlers, EventLog, LogConsumer, TopicPartitionOffset } from '../../../ports/event-log.ts'
import { consumedCount } from '../embedded/batch-outcome.ts'
import { EXCLUSIVE_PROTOCOL, exclusiveAssignments, ownershipClaim } from './exclusive-assigner.ts'
import {
  fetchRequestsByLeader,
  outOfRangePartitions,
  Waker,
  type FetchRequestTopic,
  type FetchResponse,
  type FetchWanted,
  type TP,
} from './fetch-requests.ts'
import { readFetchedPartition } from './fetched-partition.ts'
import { undecodableFetch } from './batch-decoding.ts'
import { isRetriable } from './platformatic-errors.ts'
import { partitionKey as key, startOffsets } from './start-offsets.ts'

/** The port's consumer options (`EventLog.consumer`); `readCommitted` defaults to true, `fromBeginning` to true (earliest). */
export type PlatformaticConsumerRequest = Parameters<EventLog['consumer']>[0]

export interface PlatformaticConsumerSettings {
  readonly clientId: string
  readonly brokers: readonly string[]
  readonly sessionTimeoutMs: number
  readonly heartbeatIntervalMs: number
  readonly rebalanceTimeoutMs: number
  readonly maxBytesPerPartition: number
  /** How long the broker holds a fetch with nothing to return; also how late a resume or seek is noticed at most. */
  readonly maxWaitTimeMs: number
  readonly retries: number
  readonly retryDelayMs: number
  readonly connectTimeoutMs: number
}

interface PartitionState {
  /** Next offset to fetch; undefined until the start offset is known. */
  position: bigint | undefined
  /** Offset after the last record taken (or the seek): where the next batch's span starts. */
  spanFrom: bigint
  /** Bumped by a seek or reassignment: a fetch made before it answers for a position no longer wanted. */
  version: number
}

const IDLE_WAIT_MS = 200

export class PlatformaticConsumer implements LogConsumer {
  readonly #consumer: Consumer
  readonly #fetchPool: ConnectionPool
  readonly #request: PlatformaticConsumerRequest
  readonly #settings: PlatformaticConsumerSettings
  readonly #logger: Logger
  readonly #readCommitted: boolean
  #handlers: ConsumerHandlers | undefined
  #assigned: TP[] = []
  readonly #states = new Map<string, PartitionState>()
  /** Seeks of partitions not (yet) assigned: applied when they are. */
  readonly #pendingSeeks = new Map<string, bigint>()
  readonly #paused = new Set<string>()
  #rebalancing = false
  /** Join handling, batches and position notices, one at a time, in order. */
  #gate: Promise<void> = Promise.resolve()
  readonly #waker = new Waker()
  #loop: Promise<void> | undefined
  #crashed = false
  #stopping: Promise<void> | undefined

  constructor(request: PlatformaticConsumerRequest, settings: PlatformaticConsumerSettings, logger: Logger) {
    this.#request = request
    this.#settings = settings
    this.#logger = logger.child({ groupId: request.groupId })
    this.#readCommitted = request.readCommitted !== false
    const connection = {
      clientId: settings.clientId,
      bootstrapBrokers: [...settings.brokers],
      connectTimeout: settings.connectTimeoutMs,
    }
    this.#consumer = new Consumer({
      ...connection,
      groupId: request.groupId,
      autocommit: false,
      sessionTimeout: settings.sessionTimeoutMs,
      heartbeatInterval: settings.heartbeatIntervalMs,
      rebalanceTimeout: settings.rebalanceTimeoutMs,
      isolationLevel: this.#readCommitted ? FetchIsolationLevels.READ_COMMITTED : FetchIsolationLevels.READ_UNCOMMITTED,
      maxWaitTime: settings.maxWaitTimeMs,
      retries: settings.retries,
      retryDelay: settings.retryDelayMs,
      ...(request.exclusive === true
        ? {
            protocols: [EXCLUSIVE_PROTOCOL],
            partitionAssigner: exclusiveAssignments,
            protocolsMetadata: () => ownershipClaim(this.#assigned.length > 0),
          }
        : {}),
    })
    // Fetches hold their connection for up to maxWaitTime: their own pool keeps heartbeats and joins off it.
    this.#fetchPool = new ConnectionPool(settings.clientId, { connectTimeout: settings.connectTimeoutMs })
    this.#consumer.on('consumer:group:rebalance', () => {
      this.#rebalancing = true
    })
    this.#consumer.on('consumer:group:join', (payload) => {
      const assignment = (payload.assignments ?? []).flatMap(({ topic, partitions }) =>
        partitions.map((partition) => ({ topic, partition })),
      )
      // #onJoin reports its own failures (a crash).
      void this.#serially(() => this.#onJoin(assignment))
    })
    // The heartbeat's own rejoin failed (after the library's retries): the member is out of the group.
    this.#consumer.on('error', (err: Error) => this.#onGroupError(err))
  }

  async run(handlers: ConsumerHandlers): Promise<void> {
    if (this.#handlers) throw new TypeError('this consumer is already running')
    this.#handlers = handlers
    for (const topic of this.#request.topics) this.#consumer.topics.track(topic)
    try {
      await this.#consumer.joinGroup({})
    } catch (err: unknown) {
      throw joinFailure(err, this.#request.groupId)
    }
    // The join event was emitted before joinGroup resolved: wait for its assignment to be handed over too.
    await this.#gate
    this.#loop = this.#fetchLoop()
  }

  async commit(offsets: readonly TopicPartitionOffset[]): Promise<void> {
    // Progress markers only (checkpoints are the record); a stopping or crashed member has left its group.
    if (offsets.length === 0 || this.#stopping !== undefined || this.#crashed) return
    await this.#consumer.commit({
      offsets: offsets.map((o) => ({ topic: o.topic, partition: o.partition, offset: BigInt(o.offset), leaderEpoch: -1 })),
    })
  }

  seek(position: TopicPartitionOffset): void {
    if (!/^\d+$/.test(position.offset)) throw new RangeError(`seek offset '${position.offset}' is not a valid offset`)
    const offset = BigInt(position.offset)
    const state = this.#states.get(key(position))
    if (state === undefined) this.#pendingSeeks.set(key(position), offset)
    else Object.assign(state, { position: offset, spanFrom: offset, version: state.version + 1 })
    this.#waker.wake()
  }

  pause(partitions: readonly TP[]): void {
    for (const tp of partitions) this.#paused.add(key(tp))
  }

  resume(partitions: readonly TP[]): void {
    for (const tp of partitions) this.#paused.delete(key(tp))
    this.#waker.wake()
  }

  stop(): Promise<void> {
    this.#stopping ??= this.#stop()
    return this.#stopping
  }

  async #onJoin(assignment: TP[]): Promise<void> {
    if (this.#crashed || this.#stopping !== undefined) return
    try {
      this.#rebalancing = false
      const now = new Set(assignment.map(key))
      const revoked = this.#assigned.filter((tp) => !now.has(key(tp)))
      for (const tp of revoked) {
        this.#states.delete(key(tp))
        this.#paused.delete(key(tp))
      }
      if (revoked.length > 0) await this.#handlers?.onRevoked?.(revoked)
      const added = assignment.filter((tp) => !this.#states.has(key(tp)))
      const starts = await startOffsets(this.#consumer, added, this.#request.fromBeginning ?? true)
      for (const tp of added) {
        const seek = this.#pendingSeeks.get(key(tp))
        this.#pendingSeeks.delete(key(tp))
        const start = seek ?? starts.get(key(tp))
        if (start === undefined) throw new Error(`no start offset for ${tp.topic}[${tp.partition}]`)
        this.#states.set(key(tp), { position: start, spanFrom: start, version: 0 })
      }
      this.#assigned = assignment
      this.#logger.info({ count: assignment.length }, 'partitions assigned')
      await this.#handlers?.onAssigned?.(assignment)
      this.#waker.wake()
    } catch (err: unknown) {
      this.#crash(err)
    }
  }

  async #fetchLoop(): Promise<void> {
    while (this.#stopping === undefined && !this.#crashed) {
      const wanted = this.#fetchable()
      if (wanted.length === 0) {
        await this.#waker.sleep(IDLE_WAIT_MS)
        continue
      }
      try {
        await this.#fetchOnce(wanted)
      } catch (err: unknown) {
        if (this.#stopping !== undefined || this.#crashed) return
        if (!isRetriable(err)) {
          this.#crash(err)
          return
        }
        this.#logger.warn({ err }, 'kafka fetch failed; retrying')
        await this.#waker.sleep(this.#settings.retryDelayMs)
      }
    }
  }

  /** Assigned, unpaused partitions with a known position, unless the group is rebalancing. */
  #fetchable(): FetchWanted[] {
    if (this.#rebalancing) return []
    return this.#assigned.flatMap((tp) => {
      const state = this.#states.get(key(tp))
      if (state?.position === undefined || this.#paused.has(key(tp))) return []
      return [{ ...tp, position: state.position, version: state.version }]
    })
  }

  async #fetchOnce(wanted: FetchWanted[]): Promise<void> {
    const metadata = await this.#consumer.metadata({ topics: [...new Set(wanted.map((w) => w.topic))] })
    const { byNode, names } = fetchRequestsByLeader(metadata, wanted, this.#settings.maxBytesPerPartition)
    const asked = new Map(wanted.map((w) => [key(w), w]))
    await Promise.all(
      [...byNode].map(async ([node, topics]) => {
        let answer: FetchResponse
        try {
          answer = await this.#consumer.fetch({
            node,
            topics,
            maxWaitTime: this.#settings.maxWaitTimeMs,
            connectionPool: this.#fetchPool,
          })
        } catch (err: unknown) {
          if (await this.#resetOutOfRange(outOfRangePartitions(err, names))) return
          const fetchAlone = (topic: FetchRequestTopic) =>
            this.#consumer.fetch({ node, topics: [topic], maxWaitTime: 0, maxBytes: 1, connectionPool: this.#fetchPool })
          throw (await undecodableFetch(err, topics, names, this.#request.groupId, fetchAlone)) ?? err
        }
        await this.#serially(() => this.#deliver(answer, names, asked))
      }),
    )
  }

  async #deliver(answer: FetchResponse, names: Map<string, string>, asked: Map<string, FetchWanted>): Promise<void> {
    for (const topicAnswer of answer.responses) {
      const topic = names.get(topicAnswer.topicId)
      if (topic === undefined) continue
      for (const partitionAnswer of topicAnswer.partitions) {
        const tp = { topic, partition: partitionAnswer.partitionIndex }
        const request = asked.get(key(tp))
        const state = this.#states.get(key(tp))
        // Not asked (a lingering fetch-session entry), seeked or reassigned since, or paused by an earlier batch's handler.
        if (request === undefined || state === undefined || state.version !== request.version || this.#paused.has(key(tp)))
          continue
        const { records, next } = readFetchedPartition(topic, partitionAnswer, request.position, this.#readCommitted)
        if (next === undefined || this.#crashed || this.#stopping !== undefined) continue
        const highWatermark = partitionAnswer.highWatermark.toString()
        if (records.length === 0) {
          if (next > request.position) {
            state.position = next
            this.#handlers?.onPosition?.({ ...tp, nextOffset: next.toString(), highWatermark })
          }
          continue
        }
        let consumed: number
        try {
          const outcome = await (this.#handlers as ConsumerHandlers).eachBatch({
            ...tp,
            records,
            highWatermark,
            span: { from: state.spanFrom.toString(), next: next.toString() },
          })
          consumed = consumedCount(outcome, records.length)
        } catch (err: unknown) {
          if (this.#request.onCrash) {
            this.#crash(err)
            return
          }
          this.#logger.error({ err, ...tp }, 'batch handler failed; the batch is delivered again')
          continue
        }
        // A seek (or rebalance) during the handler wins over what the handler took.
        if (this.#states.get(key(tp)) !== state || state.version !== request.version || consumed === 0) continue
        state.spanFrom = BigInt(records[consumed - 1]!.offset) + 1n
        state.position = consumed === records.length ? next : state.spanFrom
      }
    }
  }

  /** OFFSET_OUT_OF_RANGE (retention passed the position): restart those partitions as a new assignment would. */
  async #resetOutOfRange(lost: TP[]): Promise<boolean> {
    if (lost.length === 0) return false
    const starts = await startOffsets(this.#consumer, lost, this.#request.fromBeginning ?? true, { ignoreCommitted: true })
    for (const tp of lost) {
      const state = this.#states.get(key(tp))
      const start = starts.get(key(tp))
      if (state === undefined || start === undefined) continue
      this.#logger.warn(
        { ...tp, from: state.position?.toString(), to: start.toString() },
        'offset out of range; restarting the partition',
      )
      Object.assign(state, { position: start, spanFrom: start, version: state.version + 1 })
    }
    return true
  }

  #onGroupError(err: Error): void {
    if (this.#stopping !== undefined || this.#crashed) return
    if (!isRetriable(err)) {
      this.#crash(err)
      return
    }
    this.#logger.warn({ err }, 'kafka consumer could not rejoin its group; retrying')
    setTimeout(() => {
      if (this.#stopping === undefined && !this.#crashed)
        this.#consumer.joinGroup({}).catch((e: unknown) => this.#onGroupError(e as Error))
    }, this.#settings.retryDelayMs)
  }

  #serially(work: () => Promise<void>): Promise<void> {
    const run = this.#gate.then(work)
    this.#gate = run.catch(() => undefined)
    return run
  }

  #crash(err: unknown): void {
    if (this.#crashed) return
    this.#crashed = true
    this.#waker.wake()
    this.#logger.error({ err }, 'kafka consumer stopped after an error')
    void this.#close().catch((e: unknown) => this.#logger.error({ err: e }, 'closing after a crash failed'))
    const onCrash = this.#request.onCrash
    if (onCrash) queueMicrotask(() => onCrash(err))
  }

  async #stop(): Promise<void> {
    this.#waker.wake()
    await this.#loop
    await this.#gate
    const held = this.#assigned
    this.#assigned = []
    if (held.length > 0 && !this.#crashed) await this.#handlers?.onRevoked?.(held)
    if (!this.#crashed) await this.#close()
  }

  async #close(): Promise<void> {
    await this.#consumer.close(true)
    await this.#fetchPool.close()
  }
}

function joinFailure(err: unknown, groupId: string): SourceError {
  return new SourceError(isRetriable(err) ? 'SOURCE_UNAVAILABLE' : 'BAD_REQUEST', 'kafka consumer could not join its group', {
    cause: err,
    context: { groupId },
  })
}
