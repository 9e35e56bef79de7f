/**
 * The re-key stage (DESIGN §2): consumes a source topic, keys every record by an entity the topic
 * is not keyed by, and produces it to the internal topic `<prefix>.<source>.by-<entity>`, exactly
 * once — Kafka's consume-transform-produce: each forwarded batch (prefix, see below) of a source
 * partition is one transaction holding its produced records, its dead letters and the consumed offsets
 * (`sendOffsets` to the stage's own consumer group), so records and progress commit together or
 * not at all. Views consume the internal topic with read-committed isolation, so they never see a
 * record of an aborted (e.g. killed mid-way) transaction.
 *
 * What it forwards: the ORIGINAL record bytes (so the views decode them exactly as from the source,
 * and the internal topic's archive replays them), the original headers plus the record's origin
 * (`kfs-source-topic`, `kfs-source-partition`, `kfs-source-offset`), keyed by the canonical entity
 * key (core/entity-key.ts) — hence partitioned by Kafka's murmur2 of that key.
 *
 * What it refuses: a record it cannot decode, or whose raw event lacks a valid join key, goes to
 * the dead-letter topic (in the same transaction when the engine names that topic), never to the
 * internal topic. The stage applies no view's filter or map: it is shared by every view needing
 * the same entity (see plan-sources.ts).
 *
 * Event-time alignment (docs/semantics.md §16, rekey-alignment.ts): an internal partition
 * interleaves all source partitions in commit order, so on a backlog forwarding whole batches one
 * source partition after the other would make its event time jump back by a batch's span and the
 * views would dead-letter good events as late. So a batch of source partition p forwards only the
 * prefix of records with event time ≤ (smallest head — first record not yet forwarded — of the
 * other owned partitions with pending records) + `alignmentSkewMs` (default: half of the source's
 * outOfOrderness + allowedLateness); records without an event time never stop the prefix. The rest of the batch is
 * left to the consumer (`{ consumed: n }`), which delivers it again; a batch of which nothing may
 * go pauses p until the frontier passes its head (re-checked after every forwarded batch and every
 * assignment change); right after an assignment, a partition's first batch is only looked at while
 * others have shown none yet, so the one with the smallest head starts. The partition with the smallest head always goes, so it cannot deadlock;
 * caught-up partitions hold nothing back, and partitions not seen yet or whose next record is not
 * seen yet only slow the others to skew per batch, never stop them. Each forwarded prefix is one
 * transaction whose `sendOffsets` is the offset after the prefix, so exactly-once is unchanged.
 * Decode results of the records left are kept until they come back (one batch per partition).
 *
 * Failure: any error of a transaction aborts it and is fatal for the engine (the process restarts
 * from the committed offsets) — retrying in place could repeat a commit whose outcome is unknown.
 * The one exception is being fenced after losing the partition to another member, which is the
 * normal end of a zombie's batch. Transactional ids are per source partition
 * (`<stage group>.<partition>`): whoever owns a partition next fences the previous owner.
 */
import type { Clock } from '../../core/clock.ts'
import { FeatureStoreError } from '../../core/errors.ts'
import type { Logger } from '../../core/logger.ts'
import type { SourceDef } from '../../operators/define/types.ts'
import { entityKeyOf, eventTimeOf } from '../../operators/task/event-fields.ts'
import type { Decoder, DecodeResult } from '../../schemas/decoder.ts'
import type { LogTransaction, TransactionalEventLog } from '../embedded-log/log-transaction.ts'
import type { BatchOutcome, DeadLetter, DeadLetterSink, EventLog, LogBatch, LogConsumer, LogRecord, ProduceRecord } from '../ports.ts'
import { chunksOf, deadLetterRecords } from './dead-letter-topic.ts'
import type { EngineStats } from './engine-stats.ts'
import type { RekeyPlan } from './plan-sources.ts'
import { EventTimeAlignment } from './rekey-alignment.ts'

/** Headers every internal-topic record carries: where it came from. */
export const REKEY_HEADERS = {
  topic: 'kfs-source-topic',
  partition: 'kfs-source-partition',
  offset: 'kfs-source-offset',
} as const

export function rekeyGroupId(engineGroupId: string, plan: Pick<RekeyPlan, 'source' | 'entity'>): string {
  return `${engineGroupId}.rekey.${plan.source.name}.by-${plan.entity.name}`
}

export function isTransactional(log: EventLog): log is TransactionalEventLog {
  return typeof (log as Partial<TransactionalEventLog>).transaction === 'function'
}

export interface RekeyedBatch {
  /** For the internal topic, in source offset order. */
  readonly records: ProduceRecord[]
  readonly deadLetters: DeadLetter[]
}

/** Pure: one source batch and its decode results → internal-topic records and dead letters. */
export function rekeyRecords(plan: RekeyPlan, records: readonly LogRecord[], decoded: readonly DecodeResult[]): RekeyedBatch {
  const out: RekeyedBatch = { records: [], deadLetters: [] }
  const view = plan.views.length === 1 ? plan.views[0]!.name : undefined
  for (let i = 0; i < records.length; i++) {
    const record = records[i] as LogRecord
    const result = decoded[i] as DecodeResult
    const letter = (reason: DeadLetter['reason'], detail: string): DeadLetter => ({
      topic: record.topic,
      partition: record.partition,
      offset: record.offset,
      key: record.key,
      value: record.value,
      reason,
      detail: `re-key by ${plan.entity.name}: ${detail}`,
      ...(view ? { view } : {}),
    })
    if (!result.ok) {
      out.deadLetters.push(letter(result.reason, result.detail))
      continue
    }
    const key = entityKeyOf(plan.entity, result.event)
    if (!key.ok) {
      out.deadLetters.push(letter(key.reason, key.detail))
      continue
    }
    out.records.push({
      key: key.key,
      value: record.value,
      headers: {
        ...record.headers,
        [REKEY_HEADERS.topic]: record.topic,
        [REKEY_HEADERS.partition]: String(record.partition),
        [REKEY_HEADERS.offset]: record.offset,
      },
    })
  }
  return out
}

/**
 * Half the source's lateness budget, (outOfOrderness + allowedLateness) / 2: an event out of order
 * by d in its own partition is out of order by at most d + skew in the internal topic, so every
 * event within outOfOrderness + half the allowed lateness stays on time there. A smaller skew
 * costs throughput on a sparse backlog: each transaction forwards at most about skew of event time.
 */
export function defaultAlignmentSkewMs(source: Pick<SourceDef, 'outOfOrdernessMs' | 'allowedLatenessMs'>): number {
  return Math.floor((source.outOfOrdernessMs + source.allowedLatenessMs) / 2)
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
  /**
   * How far (event time) one owned source partition may run ahead of the slowest pending one
   * (rekey-alignment.ts). Default: `defaultAlignmentSkewMs`.
   */
  readonly alignmentSkewMs?: number
}

export interface RekeyPartitionProgress {
  /** Next source offset to re-key, known once this process committed a batch of the partition. */
  readonly position: string | undefined
  readonly assignedAtMs: number
  readonly lastBatchAtMs: number | undefined
}

export interface RekeyStage {
  readonly plan: RekeyPlan
  readonly groupId: string
  start(): Promise<void>
  stop(): Promise<void>
  /** Per owned source partition. */
  progress(): ReadonlyMap<number, RekeyPartitionProgress>
  /** True while a batch is being re-keyed. */
  readonly busy: boolean
  /** When the stage last finished a batch or got an assignment (wall clock). */
  readonly lastActivityAtMs: number
}

export function createRekeyStage(options: RekeyStageOptions): RekeyStage {
  const { log, plan, decoder, stats, clock } = options
  const groupId = rekeyGroupId(options.groupId, plan)
  const logger = options.logger.child({ component: 'pipeline.rekey', topic: plan.topic })
  const owned = new Map<number, { position: string | undefined; assignedAtMs: number; lastBatchAtMs: number | undefined }>()
  let consumer: LogConsumer | undefined
  const alignment = new EventTimeAlignment(options.alignmentSkewMs ?? defaultAlignmentSkewMs(plan.source))
  /** Per partition: decode results of the records the last batch left, redelivered next. */
  const remembered = new Map<number, Map<string, DecodeResult>>()
  let busy = false
  let lastActivityAtMs = clock.nowMs()

  async function onBatch(batch: LogBatch): Promise<BatchOutcome | void> {
    if (batch.records.length === 0) return
    busy = true
    try {
      const decoded = await decodeRemembered(batch)
      const timesMs = decoded.map(eventTimeOfResult)
      const n = alignment.allowed(batch.partition, timesMs)
      if (n > 0 && !(await rekeyBatch(batch, decoded, n))) return { consumed: 0 }
      const next = n > 0 ? BigInt((batch.records[n - 1] as LogRecord).offset) + 1n : BigInt(batch.records[0]!.offset)
      const pause = alignment.record(batch.partition, timesMs, n, next < BigInt(batch.highWatermark))
      remembered.set(batch.partition, new Map(batch.records.slice(n).map((r, i) => [r.offset, decoded[n + i] as DecodeResult])))
      if (pause) {
        logger.debug({ partition: batch.partition, offset: batch.records[0]!.offset }, 're-key partition held back: its next record is ahead of another partition')
        consumer?.pause([{ topic: plan.source.topic, partition: batch.partition }])
      } else if (n > 0) release()
      return { consumed: n }
    } finally {
      busy = false
      lastActivityAtMs = clock.nowMs()
    }
  }

  /** Decodes a batch, reusing what a previous batch of the partition decoded for the records it left. */
  async function decodeRemembered(batch: LogBatch): Promise<DecodeResult[]> {
    const known = remembered.get(batch.partition)
    const out: (DecodeResult | undefined)[] = batch.records.map((r) => known?.get(r.offset))
    const missing = out.flatMap((d, i) => (d === undefined ? [i] : []))
    if (missing.length > 0) {
      const fresh = await decoder.decodeBatch(missing.map((i) => (batch.records[i] as LogRecord).value))
      missing.forEach((i, j) => (out[i] = fresh[j]))
    }
    return out as DecodeResult[]
  }

  function eventTimeOfResult(result: DecodeResult): number | undefined {
    return result.ok ? eventTimeOf(result.event[plan.source.eventTimeField]) : undefined
  }

  function release(): void {
    const go = alignment.releasable()
    if (go.length > 0) consumer?.resume(go.map((partition) => ({ topic: plan.source.topic, partition })))
  }

  /** One transaction for the first `count` records; false when fenced after losing the partition. */
  async function rekeyBatch(batch: LogBatch, allDecoded: readonly DecodeResult[], count: number): Promise<boolean> {
    const { records, deadLetters } = rekeyRecords(plan, batch.records.slice(0, count), allDecoded.slice(0, count))
    const next = (BigInt((batch.records[count - 1] as LogRecord).offset) + 1n).toString()
    const inTransaction = options.deadLetterTopic !== undefined
    let txn: LogTransaction | undefined
    try {
      txn = await log.transaction(`${groupId}.${batch.partition}`)
      // Several sends, one transaction: each request stays under the broker's message size limit.
      for (const chunk of chunksOf(records)) await txn.produce(plan.topic, chunk)
      if (inTransaction) for (const chunk of chunksOf(deadLetterRecords(deadLetters))) await txn.produce(options.deadLetterTopic!, chunk)
      await txn.sendOffsets(groupId, [{ topic: batch.topic, partition: batch.partition, offset: next }])
      await txn.commit()
    } catch (err: unknown) {
      await txn?.abort().catch((e: unknown) => logger.debug({ err: e }, 'abort after a failed transaction failed'))
      if (err instanceof FeatureStoreError && err.code === 'COMMIT_CONFLICT' && !owned.has(batch.partition)) {
        logger.warn({ partition: batch.partition }, 're-key batch fenced after its partition moved to another member; the new owner redoes it')
        return false
      }
      throw err
    }
    // At least once for dead letters only when the engine gave no topic to write them transactionally.
    if (!inTransaction && deadLetters.length > 0) await options.deadLetters.write(deadLetters)
    for (const letter of deadLetters) stats.deadLettered[letter.reason] = (stats.deadLettered[letter.reason] ?? 0) + 1
    stats.rekeyed += records.length
    const entry = owned.get(batch.partition)
    if (entry) {
      entry.position = next
      entry.lastBatchAtMs = clock.nowMs()
    }
    return true
  }

  function resumeAll(partitions: readonly number[]): void {
    if (partitions.length > 0) consumer?.resume(partitions.map((partition) => ({ topic: plan.source.topic, partition })))
  }

  /** Source partitions holding no record at all: they can never hold the others back. */
  async function emptyPartitions(): Promise<Set<number>> {
    try {
      const ends = await log.endOffsets(plan.source.topic)
      return new Set(ends.flatMap((end, p) => (end === '0' ? [p] : [])))
    } catch (err: unknown) {
      logger.debug({ err }, 'end offsets unavailable at assignment; every partition counts as unseen')
      return new Set()
    }
  }

  return {
    plan,
    groupId,
    async start() {
      await log.createTopic(plan.topic, plan.internalSource.partitions)
      if (options.deadLetterTopic !== undefined) await log.createTopic(options.deadLetterTopic, 1)
      consumer = log.consumer({
        groupId,
        topics: [plan.source.topic],
        readCommitted: true,
        onCrash: (err) => options.onFatal(err instanceof Error ? err : new Error(String(err))),
      })
      await consumer.run({
        eachBatch: (batch) =>
          onBatch(batch).catch((err: unknown) => {
            logger.error({ err, partition: batch.partition }, 're-key batch failed')
            options.onFatal(err instanceof Error ? err : new Error(String(err)))
            throw err
          }),
        onAssigned: async (assigned) => {
          lastActivityAtMs = clock.nowMs()
          const keep = new Set(assigned.filter((a) => a.topic === plan.source.topic).map((a) => a.partition))
          for (const p of [...owned.keys()]) if (!keep.has(p)) owned.delete(p)
          for (const p of keep) if (!owned.has(p)) owned.set(p, { position: undefined, assignedAtMs: clock.nowMs(), lastBatchAtMs: undefined })
          // Pauses outlive rebalances in the clients: start every owned partition unpaused and unseen.
          resumeAll(alignment.reset(keep, await emptyPartitions()))
          remembered.clear()
        },
        onRevoked: async (revoked) => {
          const wasPaused: number[] = []
          for (const r of revoked) {
            owned.delete(r.partition)
            remembered.delete(r.partition)
            if (alignment.remove(r.partition)) wasPaused.push(r.partition)
          }
          resumeAll(wasPaused)
          release()
        },
      })
      logger.info({ source: plan.source.topic, views: plan.views.map((v) => `${v.name}@${v.version}`) }, 're-key stage started')
    },
    async stop() {
      await consumer?.stop()
    },
    progress: () => owned,
    get busy() {
      return busy
    },
    get lastActivityAtMs() {
      return lastActivityAtMs
    },
  }
}
