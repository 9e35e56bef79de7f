/**
 * Reads whole topics as they stand now: every committed record from each partition's first offset
 * up to the end offset measured when the read starts. The event-log port has no random-access
 * read, so this joins a throw-away consumer group (never committed: it leaves no progress behind)
 * and stops once every partition's read position has reached its end.
 *
 * Read-committed: a record of a transaction that is still open is waited for (it becomes readable,
 * or is skipped, when the transaction ends — within the producer's transaction timeout), and a
 * record of an aborted one is never returned. Records appended after the start are left out, so
 * the result is a snapshot as of the start (a topic that keeps growing cannot keep the read going).
 */
import { randomUUID } from 'node:crypto'
import { FeatureStoreError } from '../../core/errors.ts'
import type { EventLog, LogRecord } from '../../ports/event-log.ts'

export interface ReadToEndOptions {
  /** Prefix of the throw-away group's id; a random suffix keeps concurrent readers apart. */
  readonly groupPrefix: string
  /** Give up after this long (default 120 s): an open transaction that never ends, a broker gone. */
  readonly timeoutMs?: number
}

/** False when the topic does not exist (it is created on first use by whoever writes it). */
export async function topicExists(log: EventLog, topic: string): Promise<boolean> {
  try {
    return (await log.partitionCount(topic)) > 0
  } catch (err: unknown) {
    if (err instanceof FeatureStoreError && err.code === 'NOT_FOUND') return false
    throw err
  }
}

/** Every committed record of `topics` (those that exist), per topic in partition and offset order. */
export async function readToEnd(log: EventLog, topics: readonly string[], options: ReadToEndOptions): Promise<Map<string, LogRecord[]>> {
  const out = new Map<string, LogRecord[]>(topics.map((t) => [t, []]))
  // Partition → end offset still to reach; a partition leaves the map once it is read to its end.
  const remaining = new Map<string, bigint>()
  const present: string[] = []
  for (const topic of topics) {
    if (!(await topicExists(log, topic))) continue
    present.push(topic)
    const [starts, ends] = await Promise.all([log.startOffsets(topic), log.endOffsets(topic)])
    ends.forEach((end, partition) => {
      if (BigInt(end) > BigInt(starts[partition] ?? '0')) remaining.set(`${partition}/${topic}`, BigInt(end))
    })
  }
  if (remaining.size === 0) return out

  const positions = new Map<string, bigint>()
  let finish!: () => void
  const done = new Promise<void>((resolve) => (finish = resolve))
  let crashed: unknown
  const reached = (topic: string, partition: number, nextOffset: bigint): void => {
    const key = `${partition}/${topic}`
    const end = remaining.get(key)
    if (end !== undefined && nextOffset >= end) remaining.delete(key)
    if (remaining.size === 0) finish()
  }
  const consumer = log.consumer({
    groupId: `${options.groupPrefix}-${randomUUID()}`,
    topics: present,
    readCommitted: true,
    fromBeginning: true,
    onCrash: (err) => {
      crashed = err
      finish()
    },
  })
  const timeoutMs = options.timeoutMs ?? 120_000
  let timer: NodeJS.Timeout | undefined
  try {
    await consumer.run({
      eachBatch: async (batch) => {
        const end = remaining.get(`${batch.partition}/${batch.topic}`)
        if (end === undefined) return
        const records = out.get(batch.topic)!
        // A rebalance of an uncommitted group starts a partition over: keep each offset once.
        const key = `${batch.partition}/${batch.topic}`
        let position = positions.get(key) ?? -1n
        for (const r of batch.records) {
          const offset = BigInt(r.offset)
          if (offset < end && offset > position) records.push(r)
          if (offset > position) position = offset
        }
        positions.set(key, position)
        const last = batch.records.at(-1)
        const next = batch.span !== undefined ? BigInt(batch.span.next) : last !== undefined ? BigInt(last.offset) + 1n : undefined
        if (next !== undefined) reached(batch.topic, batch.partition, next)
      },
      // Kafka: a fetch that held only transaction markers or aborted records still moves the position.
      onPosition: (notice) => reached(notice.topic, notice.partition, BigInt(notice.nextOffset)),
    })
    await Promise.race([
      done,
      new Promise<void>((_, reject) => {
        timer = setTimeout(
          () => reject(new FeatureStoreError('SOURCE_UNAVAILABLE', `reading ${present.join(', ')} to its end took over ${timeoutMs / 1000} s (${remaining.size} partitions unfinished)`)),
          timeoutMs,
        )
      }),
    ])
  } finally {
    clearTimeout(timer)
    await consumer.stop()
  }
  if (crashed !== undefined) throw crashed
  for (const records of out.values()) records.sort((a, b) => a.partition - b.partition || (BigInt(a.offset) < BigInt(b.offset) ? -1 : 1))
  return out
}
