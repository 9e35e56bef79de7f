/**
 * EmbeddedLogReader: the embedded event log read beside its one writer, by another process
 * (`kfs serve`'s catalog — progress and dead letters — while `kfs run` owns the log, or before it
 * starts). The writer (./embedded-event-log.ts) owns the directory and its LOCK; a reader takes no
 * lock and never creates, writes, truncates, renames or removes anything: no recovery of a torn
 * tail (it is not read), no transaction journal finished (the writer's next open does that), no
 * pending records moved in (./pending-records.ts: they wait for the writer), no group file
 * written. Every write — createTopic, produce, a consumer's commit — is refused.
 *
 * What it reads is what was acknowledged: each partition up to the end its acknowledged-end file
 * records (./acked-end.ts, written after every append returns), read again at every call — so
 * endOffsets follows the writer, and each consumer reads its partitions as they stood when it was
 * assigned them. Bytes past that end (an append in flight, a torn one) are never read as records.
 * A partition whose file records nothing (a log written before the file existed, or one not
 * appended to since its writer opened it) counts its whole records only while no live process
 * holds the LOCK: with one, those could be its first append, still in flight, so none are read.
 * A transaction's records are appended partition by partition from a durable journal: a reader
 * may see one partition's before another's, but never one that is later withdrawn.
 *
 * A directory that does not exist is a log without topics: every topic is NOT_FOUND, as in a new log.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { systemClock, type Clock } from '../../../core/clock.ts'
import { SourceError } from '../../../core/errors.ts'
import { silentLogger, type Logger } from '../../../core/logger.ts'
import { isTopicName } from '../../../core/topic-name.ts'
import type { EventLog, LogConsumer, ProduceRecord } from '../../../ports/event-log.ts'
import { liveOwnerOf } from '../../local-disk/directory-lock.ts'
import { AckedEnd } from './acked-end.ts'
import type { EmbeddedConsumerRequest } from './embedded-event-log.ts'
import { topicPartitionCount, topicSettings } from './topic-meta.ts'
import { deliverySettings, EmbeddedConsumer } from './embedded-consumer.ts'
import { GroupCoordinator } from './group-coordinator.ts'
import { PartitionLog, SEGMENT_NAME } from './partition-log.ts'
import { SegmentHandles } from './segment-handles.ts'
import { decodeRecord } from './record-format.ts'
import { logFileReadFailure } from './durable-file.ts'

export interface EmbeddedLogReaderOptions {
  /** The writer's log directory. */
  readonly dir: string
  readonly clock?: Clock
  readonly logger?: Logger
  /** How long a consumer that has read everything waits before looking again. Default 100 ms. */
  readonly pollIntervalMs?: number
  readonly maxBatchRecords?: number
  readonly maxBatchBytes?: number
  /** Most sealed segments open at once across the reader (./segment-handles.ts); default 64. */
  readonly openSegments?: number
}

export class EmbeddedLogReader implements EventLog {
  readonly #dir: string
  readonly #clock: Clock
  readonly #logger: Logger
  readonly #options: EmbeddedLogReaderOptions
  readonly #consumers = new Set<LogConsumer>()
  /** The sealed segments open across every consumer's partitions, bounded as the writer's are (./segment-handles.ts). */
  readonly #handles: SegmentHandles
  #closed = false

  constructor(options: EmbeddedLogReaderOptions) {
    this.#dir = options.dir
    this.#clock = options.clock ?? systemClock
    this.#logger = (options.logger ?? silentLogger).child({ component: 'pipeline.embedded_log_reader' })
    this.#options = options
    this.#handles = new SegmentHandles(options.openSegments)
  }

  /** The bound on sealed segments open at once (option `openSegments`). */
  get openSegmentsLimit(): number {
    return this.#handles.limit
  }

  async createTopic(topic: string, _partitions: number): Promise<void> {
    throw this.#refused(`create topic '${topic}'`)
  }

  async produce(topic: string, _records: readonly ProduceRecord[]): Promise<readonly { partition: number; offset: string }[]> {
    throw this.#refused(`append to topic '${topic}'`)
  }

  async partitionCount(topic: string): Promise<number> {
    return this.#requirePartitions(topic)
  }

  /** 0 for every partition: no record is deleted by time or size, and compaction keeps each segment's last record. */
  async startOffsets(topic: string): Promise<string[]> {
    return Array.from({ length: this.#requirePartitions(topic) }, () => '0')
  }

  async endOffsets(topic: string): Promise<string[]> {
    const partitions = this.#requirePartitions(topic)
    return Array.from({ length: partitions }, (_, p) => String(this.#readableEnd(topic, p)))
  }

  async committedOffsets(groupId: string, topic: string): Promise<(string | undefined)[]> {
    const group = this.#coordinator(groupId)
    return Array.from({ length: this.#requirePartitions(topic) }, (_, p) => {
      const offset = group.committed(topic, p)
      return offset === undefined ? undefined : String(offset)
    })
  }

  /** A member of a group of this reader's own (the writer's members are not seen); its commits are refused. */
  consumer(options: EmbeddedConsumerRequest): LogConsumer {
    this.#check()
    const bad = options.topics.find((t) => !isTopicName(t))
    if (bad !== undefined) throw new SourceError('BAD_REQUEST', `'${bad}' is not a valid topic name`)
    // Each partition opened once, when first assigned, up to its end then; closed when the consumer stops.
    const opened = new Map<string, PartitionLog | undefined>()
    const partition = (topic: string, p: number): PartitionLog | undefined => {
      const k = `${p}\u0000${topic}`
      if (!opened.has(k)) {
        const count = this.#partitions(topic)
        opened.set(
          k,
          count === undefined || p >= count
            ? undefined
            : PartitionLog.openReadOnly(
                this.#partitionDir(topic, p),
                this.#readableEnd(topic, p),
                topicSettings(join(this.#dir, 'topics', topic), topic)?.compactAfterMs !== undefined,
                this.#handles,
              ),
        )
      }
      return opened.get(k)
    }
    const waiters = new Set<() => void>()
    const inner = new EmbeddedConsumer(
      {
        coordinator: this.#coordinator(options.groupId),
        partition,
        waitForData: (timeoutMs) =>
          new Promise<void>((resolve) => {
            const done = () => {
              clearTimeout(timer)
              waiters.delete(done)
              resolve()
            }
            const timer = setTimeout(done, timeoutMs)
            waiters.add(done)
          }),
        wake: () => [...waiters].forEach((w) => w()),
        clock: this.#clock,
        logger: this.#logger,
      },
      { ...options, ...deliverySettings(this.#options) },
    )
    const consumer: LogConsumer = {
      run: (handlers) => inner.run(handlers),
      commit: (offsets) => inner.commit(offsets),
      seek: (position) => inner.seek(position),
      pause: (partitions) => inner.pause(partitions),
      resume: (partitions) => inner.resume(partitions),
      stop: async () => {
        await inner.stop()
        for (const log of opened.values()) log?.close()
        opened.clear()
        this.#consumers.delete(consumer)
      },
    }
    this.#consumers.add(consumer)
    return consumer
  }

  async close(): Promise<void> {
    this.#closed = true
    await Promise.all([...this.#consumers].map((c) => c.stop()))
  }

  /**
   * Where a reader may read partition `p` up to: the acknowledged end; without one, the whole
   * records on disk while no process holds the log (none can be in flight), else none.
   */
  #readableEnd(topic: string, p: number): number {
    const dir = this.#partitionDir(topic, p)
    const acked = AckedEnd.read(dir)
    if (acked !== undefined) return acked
    const whole = wholeRecordsEnd(dir)
    if (whole === 0) return 0
    // Acknowledged meanwhile (or a 12-byte write caught half done before): every record below it is whole on disk.
    const after = AckedEnd.read(dir)
    if (after !== undefined) return Math.min(after, whole)
    return liveOwnerOf(this.#dir) === undefined ? whole : 0
  }

  #coordinator(groupId: string): GroupCoordinator {
    this.#check()
    return new GroupCoordinator({
      dir: join(this.#dir, 'groups'),
      groupId,
      fsync: false,
      partitionCount: (topic) => this.#partitions(topic) ?? 0,
      beforeCommit: () => {
        throw this.#refused(`commit offsets of group '${groupId}'`)
      },
    })
  }

  /** The topic's partition count from its topic.json; undefined while it has none (not created, or not yet). */
  #partitions(topic: string): number | undefined {
    return isTopicName(topic) ? topicPartitionCount(join(this.#dir, 'topics', topic), topic) : undefined
  }

  #requirePartitions(topic: string): number {
    this.#check()
    const partitions = this.#partitions(topic)
    if (partitions === undefined)
      throw new SourceError('NOT_FOUND', `topic '${topic}' does not exist in the embedded log ${this.#dir}`, {
        context: { topic },
      })
    return partitions
  }

  #partitionDir(topic: string, p: number): string {
    return join(this.#dir, 'topics', topic, String(p))
  }

  #check(): void {
    if (this.#closed) throw new SourceError('BAD_REQUEST', 'this embedded log reader has been closed')
  }

  #refused(what: string): SourceError {
    return new SourceError(
      'BAD_REQUEST',
      `the embedded log ${this.#dir} is open read-only here (read beside its writer, which owns it): cannot ${what}`,
      { context: { dir: this.#dir } },
    )
  }
}

/** The offset after the last whole record of the partition's last segment (a torn tail is not one); 0 without segments. */
function wholeRecordsEnd(dir: string): number {
  const last = (existsSync(dir) ? readdirSync(dir) : [])
    .filter((n) => SEGMENT_NAME.test(n))
    .sort()
    .at(-1)
  if (last === undefined) return 0
  const base = Number(last.slice(0, 20))
  let buf: Buffer
  try {
    buf = readFileSync(join(dir, last))
  } catch (err: unknown) {
    throw logFileReadFailure(err, join(dir, last), 'embedded log segment', 'restore the partition from a copy')
  }
  let count = 0
  for (let pos = 0; pos < buf.length;) {
    const decoded = decodeRecord(buf, pos)
    if (typeof decoded === 'string' || decoded.record.offset !== base + count) break
    count++
    pos = decoded.next
  }
  return base + count
}
