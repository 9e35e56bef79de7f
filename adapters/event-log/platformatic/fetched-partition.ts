/**
 * What one partition of a raw Fetch answer holds for a kfs consumer: the data records at or after
 * the offset it asked for, and where its next read starts.
 *
 * `@platformatic/kafka`'s `Consumer.fetch` hands over the broker's record batches as they are:
 * transaction markers (control batches) included, and, read-committed, with aborted batches
 * removed only when their abort marker sits in the same answer — a range whose marker the answer
 * does not reach is kept ("ignored for safety", consumer.js #filterUncommittedMessages), so its
 * records would be delivered although they were aborted. Here aborted records are dropped the way
 * Kafka's Java consumer does it: every batch of a producer listed in `abortedTransactions`, from
 * that transaction's first offset until the producer's abort marker, whether or not the marker is
 * in this answer.
 *
 * `next` is the offset after the last batch of the answer, markers and aborted batches included,
 * so a partition never re-reads entries it cannot deliver; undefined when the answer held nothing.
 */
import { IS_CONTROL, IS_TRANSACTIONAL, type fetchV17, type RecordsBatch } from '@platformatic/kafka'
import type { LogRecord } from '../../../ports/event-log.ts'
import { setOwn } from '../../../core/own-property.ts'

/** One partition of a Fetch answer (the library answers in its latest Fetch shape whatever version it spoke). */
export type FetchResponsePartition = fetchV17.FetchResponsePartition

/** Record batch attribute bit 3: the broker stamped the batch (LogAppendTime); all its records carry maxTimestamp. */
const LOG_APPEND_TIME = 1 << 3
/** A control record's key: version (int16), then type (int16): 0 abort, 1 commit. */
const ABORT_MARKER = 0

export interface FetchedPartition {
  readonly records: LogRecord[]
  readonly next: bigint | undefined
}

export function readFetchedPartition(
  topic: string,
  answer: FetchResponsePartition,
  fetchedFrom: bigint,
  readCommitted: boolean,
): FetchedPartition {
  const batches = answer.records ?? []
  const last = batches.at(-1)
  const next = last === undefined ? undefined : last.firstOffset + BigInt(last.lastOffsetDelta) + 1n
  const aborted = readCommitted ? abortedBatches(batches, answer.abortedTransactions ?? []) : new Set<RecordsBatch>()
  const records: LogRecord[] = []
  for (const batch of batches) {
    if ((batch.attributes & IS_CONTROL) !== 0 || aborted.has(batch)) continue
    const appendTime = (batch.attributes & LOG_APPEND_TIME) !== 0
    for (const record of batch.records) {
      const offset = batch.firstOffset + BigInt(record.offsetDelta)
      // A (compressed) batch may start before the offset asked for: those records were read already.
      if (offset < fetchedFrom) continue
      records.push({
        topic,
        partition: answer.partitionIndex,
        offset: offset.toString(),
        key: record.key,
        value: record.value,
        timestampMs: Number(appendTime ? batch.maxTimestamp : batch.firstTimestamp + record.timestampDelta),
        headers: stringHeaders(record.headers),
      })
    }
  }
  return { records, next }
}

/** Kafka's Java consumer (CompletedFetch): batches of an aborted transaction, up to its producer's abort marker. */
function abortedBatches(
  batches: readonly RecordsBatch[],
  abortedTransactions: readonly { producerId: bigint; firstOffset: bigint }[],
): Set<RecordsBatch> {
  const out = new Set<RecordsBatch>()
  if (abortedTransactions.length === 0) return out
  const pending = [...abortedTransactions].sort((a, b) =>
    a.firstOffset < b.firstOffset ? -1 : a.firstOffset > b.firstOffset ? 1 : 0,
  )
  const abortedProducers = new Set<bigint>()
  for (const batch of batches) {
    const lastOffset = batch.firstOffset + BigInt(batch.lastOffsetDelta)
    while (pending.length > 0 && pending[0]!.firstOffset <= lastOffset) abortedProducers.add(pending.shift()!.producerId)
    if ((batch.attributes & IS_CONTROL) !== 0) {
      if (isAbortMarker(batch)) abortedProducers.delete(batch.producerId)
    } else if ((batch.attributes & IS_TRANSACTIONAL) !== 0 && abortedProducers.has(batch.producerId)) {
      out.add(batch)
    }
  }
  return out
}

function isAbortMarker(batch: RecordsBatch): boolean {
  const key = batch.records[0]?.key
  return key !== null && key !== undefined && key.length >= 4 && key.readInt16BE(2) === ABORT_MARKER
}

function stringHeaders(headers: readonly [Buffer | null, Buffer | null][]): Record<string, string> {
  const out: Record<string, string> = {}
  for (const [name, value] of headers) {
    // Kafka allows repeated header names; the first wins, as in the kafkajs adapter.
    if (name === null) continue
    const key = name.toString('utf8')
    // hasOwn, not `in`: a header named like an Object member (constructor, toString) was dropped.
    if (!Object.hasOwn(out, key)) setOwn(out, key, value === null ? '' : value.toString('utf8'))
  }
  return out
}
