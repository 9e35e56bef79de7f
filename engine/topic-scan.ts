/**
 * Reads topics whole as they stand now: every committed record from each partition's first offset
 * up to the end offset measured when the scan starts, handed to `onRecords` per (topic, partition)
 * in offset order, batch by batch. The event-log port has no random-access read, so this joins a
 * throw-away consumer group (never committed: it leaves no progress behind) and stops once every
 * partition's read position has reached its end.
 *
 * Read-committed: a record of a transaction that is still open is waited for (it becomes readable,
 * or is skipped, when the transaction ends — within the producer's transaction timeout), and a
 * record of an aborted one is never handed over. Records appended after the start are left out, so
 * a topic that keeps growing cannot keep the scan going. Callers: the dead-letter reader
 * (replay/dead-letters/read-to-end.ts keeps what it reads) and `kfs ingest` (ingest/scan-topic.ts
 * keeps nothing of a table's log).
 */
import { randomUUID } from 'node:crypto'
import { FeatureStoreError } from '../core/errors.ts'
import type { EventLog, LogRecord } from '../ports/event-log.ts'

export interface TopicScanOptions {
  /** Prefix of the throw-away group's id; a random suffix keeps concurrent scans apart. */
  readonly groupPrefix: string
  /** Give up once the whole scan has taken this long (an open transaction that never ends, a broker gone). */
  readonly timeoutMs?: number
  /** Give up after this long without progress: for scans whose length grows with the topic. */
  readonly stallTimeoutMs?: number
  /**
   * The first offset to read of a partition (default: the log's first). A reader that keeps what
   * it read scans only what is new since (replay/dead-letters/dead-letter-follower.ts). One at or
   * past the log's start is sought, the start too: a client left to its own reset rule may begin
   * elsewhere (a reset to the end would deliver nothing, and the scan never end).
   */
  readonly from?: (topic: string, partition: number) => bigint | undefined
}

/** Where a scan stopped: per topic, each partition's end offset measured at the start (index = partition). */
export type ScannedTo = Map<string, bigint[]>

/** Scans `topics` (each must exist); see the module comment. */
export async function scanTopics(
  log: EventLog,
  topics: readonly string[],
  onRecords: (topic: string, records: readonly LogRecord[]) => Promise<void> | void,
  options: TopicScanOptions,
): Promise<ScannedTo> {
  // `partition/topic` → end offset still to reach; a partition leaves the map once it is read to its end.
  const remaining = new Map<string, bigint>()
  const scannedTo: ScannedTo = new Map()
  // `partition/topic` → the offset to read from, where it is past the log's start.
  const seekTo = new Map<string, bigint>()
  // `partition/topic` → the last offset handed over or skipped: the scan takes each offset once.
  const positions = new Map<string, bigint>()
  for (const topic of topics) {
    const [starts, ends] = await Promise.all([log.startOffsets(topic), log.endOffsets(topic)])
    scannedTo.set(topic, ends.map(BigInt))
    ends.forEach((end, partition) => {
      const key = `${partition}/${topic}`
      const start = BigInt(starts[partition] ?? '0')
      const from = options.from?.(topic, partition)
      if (from !== undefined && from >= start) {
        seekTo.set(key, from)
        positions.set(key, from - 1n)
      }
      if (BigInt(end) > (from !== undefined && from >= start ? from : start)) remaining.set(key, BigInt(end))
    })
  }
  if (remaining.size === 0) return scannedTo

  let finish!: () => void
  const done = new Promise<void>((resolve) => (finish = resolve))
  let crashed: unknown
  let lastProgressMs = Date.now()
  const reached = (key: string, nextOffset: bigint): void => {
    lastProgressMs = Date.now()
    const end = remaining.get(key)
    if (end !== undefined && nextOffset >= end) remaining.delete(key)
    if (remaining.size === 0) finish()
  }
  const consumer = log.consumer({
    groupId: `${options.groupPrefix}-${randomUUID()}`,
    topics,
    readCommitted: true,
    fromBeginning: true,
    onCrash: (err) => {
      crashed = err
      finish()
    },
  })
  const startedMs = Date.now()
  let timer: NodeJS.Timeout | undefined
  // Retention may delete every record a partition had left while the scan runs: the client's fetch
  // goes out of range and restarts at the log's start, which is its end, and no batch ever reaches
  // it (docs/semantics.md §17). After a quiet second the log's start is read again (once a second
  // at most, never per batch); a partition whose start reached the end it is scanned to is done.
  let startsReadAtMs = Date.now()
  const passDeleted = async (): Promise<void> => {
    for (const topic of topics) {
      const starts = await log.startOffsets(topic)
      starts.forEach((start, partition) => {
        const key = `${partition}/${topic}`
        const end = remaining.get(key)
        if (end !== undefined && BigInt(start) >= end) reached(key, BigInt(start))
      })
    }
  }
  try {
    await consumer.run({
      eachBatch: async (batch) => {
        const key = `${batch.partition}/${batch.topic}`
        const end = remaining.get(key)
        if (end === undefined) return
        // A rebalance of an uncommitted group starts a partition over: take each offset once.
        let position = positions.get(key) ?? -1n
        const fresh: LogRecord[] = []
        for (const r of batch.records) {
          const offset = BigInt(r.offset)
          if (offset < end && offset > position) fresh.push(r)
          if (offset > position) position = offset
        }
        positions.set(key, position)
        if (fresh.length > 0) await onRecords(batch.topic, fresh)
        const last = batch.records.at(-1)
        const next = batch.span !== undefined ? BigInt(batch.span.next) : last !== undefined ? BigInt(last.offset) + 1n : undefined
        if (next !== undefined) reached(key, next)
      },
      // Kafka: a fetch that held only transaction markers or aborted records still moves the position.
      onPosition: (notice) => reached(`${notice.partition}/${notice.topic}`, BigInt(notice.nextOffset)),
      onAssigned: async (assigned) => {
        for (const { topic, partition } of assigned) {
          const from = seekTo.get(`${partition}/${topic}`)
          if (from !== undefined) consumer.seek({ topic, partition, offset: String(from) })
        }
      },
    })
    await Promise.race([
      done,
      new Promise<void>((_, reject) => {
        timer = setInterval(() => {
          const now = Date.now()
          const names = topics.join(', ')
          if (options.timeoutMs !== undefined && now - startedMs > options.timeoutMs)
            reject(new FeatureStoreError('SOURCE_UNAVAILABLE', `reading ${names} to its end took over ${options.timeoutMs / 1000} s (${remaining.size} partitions unfinished)`))
          else if (options.stallTimeoutMs !== undefined && now - lastProgressMs > options.stallTimeoutMs)
            reject(new FeatureStoreError('SOURCE_UNAVAILABLE', `reading ${names} to its end stalled for ${options.stallTimeoutMs / 1000} s (${remaining.size} partitions unfinished)`))
          else if (now - lastProgressMs >= 1_000 && now - startsReadAtMs >= 1_000) {
            startsReadAtMs = now
            passDeleted().catch((err: unknown) => reject(err instanceof Error ? err : new Error(String(err))))
          }
        }, 250)
        timer.unref()
      }),
    ])
  } finally {
    clearInterval(timer)
    await consumer.stop()
  }
  if (crashed !== undefined) throw crashed
  return scannedTo
}
