/**
 * Reads a topic whole as it stands now — every committed record from each partition's first
 * offset to the end offset measured when the scan starts — handing each partition's records to
 * `onRecords` in offset order, batch by batch, without keeping them. The event-log port has no
 * random-access read, so this joins a throw-away consumer group (never committed) and stops once
 * every partition's position has reached its end. (replay/dead-letters/read-to-end.ts does the
 * same for whole topics it keeps; ingest may not import replay/, and must not keep a table's log.)
 */
import { randomUUID } from 'node:crypto'
import { FeatureStoreError } from '../core/errors.ts'
import type { EventLog, LogRecord } from '../ports/event-log.ts'

export interface ScanOptions {
  /** Prefix of the throw-away group's id; a random suffix keeps concurrent scans apart. */
  readonly groupPrefix: string
  /** Give up after this long without progress (default 120 s): an open transaction that never ends, a broker gone. */
  readonly stallTimeoutMs?: number
}

export async function scanTopic(
  log: EventLog,
  topic: string,
  onRecords: (records: readonly LogRecord[]) => Promise<void> | void,
  options: ScanOptions,
): Promise<void> {
  const [starts, ends] = await Promise.all([log.startOffsets(topic), log.endOffsets(topic)])
  // Partition → end offset still to reach; a partition leaves the map once it is read to its end.
  const remaining = new Map<number, bigint>()
  ends.forEach((end, partition) => {
    if (BigInt(end) > BigInt(starts[partition] ?? '0')) remaining.set(partition, BigInt(end))
  })
  if (remaining.size === 0) return
  const positions = new Map<number, bigint>()
  let finish!: () => void
  const done = new Promise<void>((resolve) => (finish = resolve))
  let crashed: unknown
  let lastProgress = Date.now()
  const reached = (partition: number, next: bigint): void => {
    lastProgress = Date.now()
    const end = remaining.get(partition)
    if (end !== undefined && next >= end) remaining.delete(partition)
    if (remaining.size === 0) finish()
  }
  const consumer = log.consumer({
    groupId: `${options.groupPrefix}-${randomUUID()}`,
    topics: [topic],
    readCommitted: true,
    fromBeginning: true,
    onCrash: (err) => {
      crashed = err
      finish()
    },
  })
  const stallMs = options.stallTimeoutMs ?? 120_000
  let timer: NodeJS.Timeout | undefined
  try {
    await consumer.run({
      eachBatch: async (batch) => {
        const end = remaining.get(batch.partition)
        if (end === undefined) return
        // A rebalance of an uncommitted group starts a partition over: take each offset once.
        let position = positions.get(batch.partition) ?? -1n
        const fresh: LogRecord[] = []
        for (const r of batch.records) {
          const offset = BigInt(r.offset)
          if (offset < end && offset > position) fresh.push(r)
          if (offset > position) position = offset
        }
        positions.set(batch.partition, position)
        if (fresh.length > 0) await onRecords(fresh)
        const last = batch.records.at(-1)
        const next = batch.span !== undefined ? BigInt(batch.span.next) : last !== undefined ? BigInt(last.offset) + 1n : undefined
        if (next !== undefined) reached(batch.partition, next)
      },
      onPosition: (notice) => reached(notice.partition, BigInt(notice.nextOffset)),
    })
    await Promise.race([
      done,
      new Promise<void>((_, reject) => {
        timer = setInterval(() => {
          if (Date.now() - lastProgress > stallMs)
            reject(new FeatureStoreError('SOURCE_UNAVAILABLE', `reading ${topic} to its end stalled for ${stallMs / 1000} s (${remaining.size} partitions unfinished)`))
        }, 1_000)
        timer.unref()
      }),
    ])
  } finally {
    clearInterval(timer)
    await consumer.stop()
  }
  if (crashed !== undefined) throw crashed
}
