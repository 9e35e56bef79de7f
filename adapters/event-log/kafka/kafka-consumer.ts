/**
 * A kfs `LogConsumer` over a kafkajs consumer (eager rebalancing, autoCommit off).
 *
 * Rebalances. kafkajs reports a finished join (`GROUP_JOIN`, with this member's assignment) but
 * has no revocation callback. So on every join this consumer compares the new assignment with
 * the previous one: `onRevoked(lost)` first, then `onAssigned(full new assignment)`. Because the
 * partitions were already released to the group when `onRevoked` runs, another member may
 * already be reading them: revocation is a notice, not a fence. That is safe in kfs because
 * offsets are committed only by the engine at checkpoints (docs/design.md §7), never here.
 * Batches wait behind the join handling (a gate), so a handler that seeks in `onAssigned` (after
 * restoring a checkpoint) never sees a batch fetched from the old position.
 *
 * Positions. After each successful batch the offsets of the records the handler took (all, or
 * the prefix it reports) are resolved, so kafkajs fetches the rest again and a kafkajs restart
 * refetches nothing already handled, and the next offset is remembered; when a join
 * keeps a partition this member already had, it is re-seeked to that position, because a
 * kafkajs restart would otherwise rewind it to the last committed offset. Each batch says where
 * it was read from (`span.from`): read-committed, transaction markers and aborted records take
 * offsets that are never handed over, and a batch after them continues from the last record taken.
 *
 * Failure. An `eachBatch` error, with `onCrash` given, stops the consumer and reports
 * `onCrash(err)`; without it kafkajs retries and restarts the consumer (same batch again). A
 * kafkajs `CRASH` with `restart: false` (non-retriable error) is reported to `onCrash`, or logged
 * at `error` when there is none — never silent. A batch no codec can decompress is one of those,
 * named by partition, offsets and codec (`#named`, batch-codecs.ts).
 */
import type { Consumer, EachBatchPayload, IHeaders, Kafka } from 'kafkajs'
import { SourceError } from '../../../core/errors.ts'
import type { Logger } from '../../../core/logger.ts'
import type { ConsumerHandlers, LogConsumer, LogRecord, TopicPartitionOffset } from '../../../ports/event-log.ts'
import { consumedCount } from '../embedded/batch-outcome.ts'
import type { ConsumerCrashHandler } from '../../../ports/event-log-transaction.ts'
import { exclusiveAssigner } from './exclusive-assigner.ts'
import { undecodableBatchIn } from './batch-codecs.ts'
import { setOwn } from '../../../core/own-property.ts'

export interface KafkaConsumerRequest {
  readonly groupId: string
  readonly topics: readonly string[]
  /** Default true (kafkajs's default): transactional records appear only once committed. */
  readonly readCommitted?: boolean
  /** Where a partition without a committed offset starts. Default true (earliest). */
  readonly fromBeginning?: boolean
  readonly onCrash?: ConsumerCrashHandler
  /** Every partition to one member of the group (exclusive-assigner.ts). */
  readonly exclusive?: boolean
}

export interface KafkaConsumerSettings {
  readonly sessionTimeoutMs: number
  readonly heartbeatIntervalMs: number
  readonly rebalanceTimeoutMs: number
  readonly maxBytesPerPartition: number
  /** kafkajs's default is 5 s: every stop waited that long for the fetch in flight (KafkaLogOptions). */
  readonly maxWaitTimeMs: number
  readonly retry: { retries: number; initialRetryTime: number; maxRetryTime: number }
}

type TP = { topic: string; partition: number }
const key = (tp: TP) => `${tp.partition}\u0000${tp.topic}`

export class KafkaConsumer implements LogConsumer {
  readonly #consumer: Consumer
  readonly #request: KafkaConsumerRequest
  readonly #settings: KafkaConsumerSettings
  readonly #logger: Logger
  #handlers: ConsumerHandlers | undefined
  #assigned: TP[] = []
  readonly #positions = new Map<string, string>()
  /** Where kafkajs fetches next when that is past `#positions` only by entries that are not data. */
  readonly #fetchNext = new Map<string, bigint>()
  readonly #paused = new Set<string>()
  #gate: Promise<void> = Promise.resolve()
  #crashed = false
  #stopping: Promise<void> | undefined

  constructor(kafka: Kafka, request: KafkaConsumerRequest, settings: KafkaConsumerSettings, logger: Logger) {
    this.#request = request
    this.#settings = settings
    this.#logger = logger.child({ groupId: request.groupId })
    this.#consumer = kafka.consumer({
      groupId: request.groupId,
      readUncommitted: request.readCommitted === false,
      sessionTimeout: settings.sessionTimeoutMs,
      heartbeatInterval: settings.heartbeatIntervalMs,
      rebalanceTimeout: settings.rebalanceTimeoutMs,
      maxBytesPerPartition: settings.maxBytesPerPartition,
      maxWaitTimeInMs: settings.maxWaitTimeMs,
      allowAutoTopicCreation: false,
      retry: { ...settings.retry, restartOnFailure: async () => true },
      ...(request.exclusive === true ? { partitionAssigners: [exclusiveAssigner(() => this.#assigned.length > 0)] } : {}),
    })
    const { GROUP_JOIN, CRASH, START_BATCH_PROCESS } = this.#consumer.events
    this.#consumer.on(GROUP_JOIN, (event) => {
      const assignment = Object.entries(event.payload.memberAssignment).flatMap(([topic, partitions]) =>
        partitions.map((partition) => ({ topic, partition })),
      )
      this.#gate = this.#gate.then(() => this.#onJoin(assignment))
    })
    // kafkajs moves past a fetch holding only transaction markers or aborted records without
    // calling eachBatch; this event (batchSize 0) is the only trace of it. It moves where the next
    // batch continues from (`span.from`) and is reported as a position (`onPosition`).
    this.#consumer.on(START_BATCH_PROCESS, (event) => {
      const { topic, partition, batchSize, lastOffset, highWatermark } = event.payload
      if (batchSize !== 0) return
      const k = key(event.payload)
      const next = this.#fetchNext.get(k)
      // firstOffset is null when compaction left nothing at or after the fetched offset.
      const first = event.payload.firstOffset as string | null
      if (next !== undefined && first !== null && BigInt(first) >= next) this.#fetchNext.set(k, BigInt(lastOffset) + 1n)
      if (this.#handlers?.onPosition === undefined) return
      const notice = { topic, partition, nextOffset: (BigInt(lastOffset) + 1n).toString(), highWatermark }
      this.#gate = this.#gate.then(() => {
        if (!this.#crashed && this.#assigned.some((a) => key(a) === key(notice))) this.#handlers?.onPosition?.(notice)
      })
    })
    this.#consumer.on(CRASH, (event) => {
      if (event.payload.restart) {
        this.#logger.warn({ err: event.payload.error }, 'kafka consumer crashed; kafkajs restarts it')
        return
      }
      this.#crash(this.#named(event.payload.error))
    })
  }

  async run(handlers: ConsumerHandlers): Promise<void> {
    if (this.#handlers) throw new TypeError('this consumer is already running')
    this.#handlers = handlers
    try {
      await this.#consumer.connect()
      await this.#consumer.subscribe({ topics: [...this.#request.topics], fromBeginning: this.#request.fromBeginning ?? true })
      await this.#consumer.run({
        autoCommit: false,
        eachBatchAutoResolve: false,
        eachBatch: (payload) => this.#eachBatch(payload),
      })
    } catch (err: unknown) {
      const retriable = (err as { retriable?: boolean }).retriable !== false
      throw new SourceError(retriable ? 'SOURCE_UNAVAILABLE' : 'BAD_REQUEST', 'kafka consumer could not join its group', {
        cause: err,
        context: { groupId: this.#request.groupId },
      })
    }
    // kafkajs resolves run() after the first join; wait for its assignment to be handed over too.
    await this.#gate
  }

  async commit(offsets: readonly TopicPartitionOffset[]): Promise<void> {
    // Committed offsets are advisory here (lag tools); checkpoints are the record of progress. A
    // stopping or crashed consumer has left its group and cannot commit: the next run's first
    // checkpoint commits again.
    if (offsets.length === 0 || this.#stopping !== undefined || this.#crashed) return
    await this.#consumer.commitOffsets(offsets.map((o) => ({ topic: o.topic, partition: o.partition, offset: o.offset })))
  }

  seek(position: TopicPartitionOffset): void {
    if (!/^\d+$/.test(position.offset)) throw new RangeError(`seek offset '${position.offset}' is not a valid offset`)
    this.#positions.set(key(position), position.offset)
    this.#fetchNext.delete(key(position))
    this.#consumer.seek({ topic: position.topic, partition: position.partition, offset: position.offset })
  }

  pause(partitions: readonly TP[]): void {
    for (const tp of partitions) this.#paused.add(key(tp))
    this.#consumer.pause(groupByTopic(partitions))
  }

  resume(partitions: readonly TP[]): void {
    for (const tp of partitions) this.#paused.delete(key(tp))
    this.#consumer.resume(groupByTopic(partitions))
  }

  stop(): Promise<void> {
    this.#stopping ??= this.#stop()
    return this.#stopping
  }

  async #onJoin(assignment: TP[]): Promise<void> {
    try {
      const now = new Set(assignment.map(key))
      const revoked = this.#assigned.filter((tp) => !now.has(key(tp)))
      for (const tp of revoked) {
        this.#positions.delete(key(tp))
        this.#fetchNext.delete(key(tp))
      }
      if (revoked.length > 0) await this.#handlers?.onRevoked?.(revoked)
      // Kept partitions continue where this member left off, even if kafkajs restarted from the committed offset.
      for (const tp of assignment) {
        const position = this.#positions.get(key(tp))
        if (position !== undefined) this.#consumer.seek({ ...tp, offset: position })
      }
      this.#assigned = assignment
      this.#logger.info({ count: assignment.length }, 'partitions assigned')
      await this.#handlers?.onAssigned?.(assignment)
    } catch (err: unknown) {
      this.#crash(err)
    }
  }

  async #eachBatch(payload: EachBatchPayload): Promise<void> {
    // kafkajs heartbeats only between batches: while a batch waits behind a join's handling (a
    // checkpoint restore in onAssigned) or its handler works, heartbeat from here, or a short
    // session timeout would expire a live member.
    const waiting = setInterval(() => void payload.heartbeat().catch(() => undefined), this.#settings.heartbeatIntervalMs)
    await this.#gate.finally(() => clearInterval(waiting))
    const { batch, isRunning, isStale, resolveOffset, heartbeat } = payload
    const tp = { topic: batch.topic, partition: batch.partition }
    if (this.#crashed || !isRunning() || isStale() || !this.#assigned.some((a) => key(a) === key(tp))) return
    // Fetched before a pause from an earlier batch's handler: left unresolved, so it is fetched again on resume.
    if (this.#paused.has(key(tp))) return
    if (batch.messages.length === 0) return
    // Read-committed, a transaction's commit marker (and an aborted record) takes an offset but is
    // never handed over, and kafkajs resolves past a trailing one: when this fetch starts where
    // such entries ended, the batch continues from the last record taken, and that is no gap.
    const fetchedOffset = String((batch as typeof batch & { fetchedOffset: string | number }).fetchedOffset)
    const fromOffset = this.#fetchNext.get(key(tp)) === BigInt(fetchedOffset) ? (this.#positions.get(key(tp)) ?? fetchedOffset) : fetchedOffset
    const records: LogRecord[] = batch.messages.map((m) => ({
      topic: batch.topic,
      partition: batch.partition,
      offset: m.offset,
      key: m.key,
      value: m.value,
      timestampMs: Number(m.timestamp),
      headers: stringHeaders(m.headers),
    }))
    const beat = setInterval(() => void heartbeat().catch(() => undefined), this.#settings.heartbeatIntervalMs)
    let consumed: number
    // lastOffset() counts a trailing transaction marker, which the records do not show.
    const nextOffset = (BigInt(batch.lastOffset()) + 1n).toString()
    try {
      const outcome = await (this.#handlers as ConsumerHandlers).eachBatch({ topic: batch.topic, partition: batch.partition, records, highWatermark: batch.highWatermark, span: { from: fromOffset, next: nextOffset } })
      consumed = consumedCount(outcome, records.length)
    } catch (err: unknown) {
      if (!this.#request.onCrash) throw err
      this.#crash(err)
      return
    } finally {
      clearInterval(beat)
    }
    // A seek during the handler wins: resolving now would overwrite it.
    if (isStale()) return
    // kafkajs fetches from the offset after the last resolved one: the records not taken come again.
    // Resolving overwrites the partition's resolved offset (offsetManager), so resolving the last
    // record taken is resolving them all — without parsing each offset into a Long.
    const last = batch.messages[consumed - 1]
    if (last) {
      resolveOffset(last.offset)
      this.#positions.set(key(tp), (BigInt(last.offset) + 1n).toString())
      // Resolving a batch's last record resolves the entries after it too (kafkajs runner.js).
      this.#fetchNext.set(key(tp), consumed === records.length ? BigInt(batch.lastOffset()) + 1n : BigInt(last.offset) + 1n)
    }
    await heartbeat().catch((err: unknown) => this.#logger.debug({ err }, 'heartbeat after batch failed'))
  }

  /**
   * A batch no codec could decompress, named where it sits. kafkajs decodes a whole Fetch answer at
   * once and tells a codec nothing of the partition: the batch's offsets come from its header, and
   * the partitions are those of this member whose position does not lie past the batch (one, unless
   * several partitions sit at the same offsets). Not retriable: the same bytes fail the same way.
   */
  #named(err: unknown): unknown {
    const undecodable = undecodableBatchIn(err)
    if (undecodable === undefined) return err
    const last = undecodable.offsets === undefined ? undefined : BigInt(undecodable.offsets.last)
    const candidates = this.#assigned.filter((tp) => {
      const position = this.#positions.get(key(tp))
      return last === undefined || position === undefined || BigInt(position) <= last
    })
    const partitions = candidates.map((tp) => `${tp.topic}/${tp.partition}`).join(', ')
    const { codec, offsets, reason } = undecodable
    const at = offsets === undefined ? 'at its read position' : `offsets ${offsets.first}–${offsets.last}`
    const where = candidates.length === 1 ? `partition ${partitions}` : `one of the partitions ${partitions}`
    return new SourceError('SOURCE_REJECTED', `kafka consumer of group ${this.#request.groupId} cannot read a ${codec}-compressed record batch (${where}, ${at}): ${reason}. It stops rather than skip the batch's records`, {
      cause: err,
      context: { groupId: this.#request.groupId, codec, partitions, firstOffset: offsets?.first, lastOffset: offsets?.last },
    })
  }

  #crash(err: unknown): void {
    if (this.#crashed) return
    this.#crashed = true
    this.#logger.error({ err }, 'kafka consumer stopped after an error')
    const onCrash = this.#request.onCrash
    void this.#consumer.disconnect().catch((e: unknown) => this.#logger.error({ err: e }, 'disconnect after crash failed'))
    if (onCrash) queueMicrotask(() => onCrash(err))
  }

  async #stop(): Promise<void> {
    await this.#consumer.stop()
    const held = this.#assigned
    this.#assigned = []
    if (held.length > 0 && !this.#crashed) await this.#handlers?.onRevoked?.(held)
    await this.#consumer.disconnect()
  }
}

function groupByTopic(partitions: readonly TP[]): { topic: string; partitions: number[] }[] {
  const byTopic = new Map<string, number[]>()
  for (const tp of partitions) (byTopic.get(tp.topic) ?? byTopic.set(tp.topic, []).get(tp.topic)!).push(tp.partition)
  return [...byTopic].map(([topic, ps]) => ({ topic, partitions: ps }))
}

/** The headers of every record that has none: shared (records' headers are read-only), one object fewer a record. */
const NO_HEADERS: Readonly<Record<string, string>> = Object.freeze({})

function stringHeaders(headers: IHeaders | undefined): Readonly<Record<string, string>> {
  if (headers === undefined) return NO_HEADERS
  let out: Record<string, string> | undefined
  // for…in rather than Object.entries: no array per record, and most records have no header.
  for (const name in headers) {
    if (!Object.hasOwn(headers, name)) continue
    const value = headers[name]
    if (value === undefined) continue
    // kafkajs folds repeated names into an array, starting from what the object already has — for
    // a name like constructor, toString or __proto__ an inherited Object member: skip to the bytes.
    const first = Array.isArray(value) ? value.find((v) => Buffer.isBuffer(v) || typeof v === 'string') : value
    if (first !== undefined) setOwn((out ??= {}), name, Buffer.isBuffer(first) ? first.toString('utf8') : String(first))
  }
  return out ?? NO_HEADERS
}
