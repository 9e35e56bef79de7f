/**
 * Where a produced record goes on a Kafka topic, for both Kafka adapters (kafka/ on kafkajs,
 * platformatic/ on @platformatic/kafka): the explicit partition when given (it must exist), else
 * Kafka's default partitioner — murmur2 of the key as the Java client computes it (the function
 * the embedded log uses too), round-robin for a null key. The adapters send every record with
 * its partition chosen here, so neither client's own partitioner is ever used: @platformatic/kafka's
 * default differs from Java's for about half the keys (its murmur2 result is not masked to a
 * positive int, platformatic/kafka#121).
 */
import { SourceError } from '../../core/errors.ts'
import type { ProduceRecord } from '../../ports/event-log.ts'
import { partitionForKey } from '../../core/murmur2.ts'

export interface RoutedRecord {
  readonly partition: number
  readonly key: Buffer | null
  readonly value: Buffer | null
  readonly headers: Record<string, string> | undefined
  /** The producer-given CreateTime; undefined: the time of the produce. */
  readonly timestampMs: number | undefined
}

export class RecordRouter {
  readonly #roundRobin = new Map<string, number>()

  route(topic: string, record: ProduceRecord, partitions: number): RoutedRecord {
    let partition = record.partition
    if (partition === undefined) {
      if (record.key === null) {
        partition = (this.#roundRobin.get(topic) ?? 0) % partitions
        this.#roundRobin.set(topic, partition + 1)
      } else partition = partitionForKey(record.key, partitions)
    } else if (!Number.isInteger(partition) || partition < 0 || partition >= partitions) {
      throw new SourceError('BAD_REQUEST', `partition ${partition} does not exist in '${topic}' (${partitions} partitions)`)
    }
    return {
      partition,
      key:
        typeof record.key === 'string' ? Buffer.from(record.key, 'utf8') : record.key === null ? null : Buffer.from(record.key),
      value: record.value === null ? null : Buffer.from(record.value),
      headers: record.headers ? { ...record.headers } : undefined,
      timestampMs: record.timestampMs === undefined ? undefined : validTimestamp(record.timestampMs),
    }
  }
}

/** A producer-given record timestamp (Kafka CreateTime): a non-negative integer of ms. */
function validTimestamp(timestampMs: number): number {
  if (!Number.isSafeInteger(timestampMs) || timestampMs < 0)
    throw new SourceError('BAD_REQUEST', `a record timestamp must be a non-negative integer of ms, got ${timestampMs}`)
  return timestampMs
}

/**
 * Each record's offset from a produce answer that gives the first offset written per partition:
 * records of one partition are written in order, so the n-th is base + n.
 */
export function offsetsOfProduced(
  routed: readonly { partition: number }[],
  baseOffsets: ReadonlyMap<number, bigint>,
): { partition: number; offset: string }[] {
  const seen = new Map<number, bigint>()
  return routed.map((m) => {
    const index = seen.get(m.partition) ?? 0n
    seen.set(m.partition, index + 1n)
    return { partition: m.partition, offset: ((baseOffsets.get(m.partition) ?? 0n) + index).toString() }
  })
}

/**
 * Partition counts of topics, remembered once known (partitions are only ever added, and kfs
 * never adds any): `of` asks Kafka (`lookup`) the first time and refuses a topic with none.
 */
export class PartitionCounts {
  readonly #known = new Map<string, number>()
  readonly #lookup: (topic: string) => Promise<number>

  constructor(lookup: (topic: string) => Promise<number>) {
    this.#lookup = lookup
  }

  remember(topic: string, partitions: number): void {
    this.#known.set(topic, partitions)
  }

  async of(topic: string): Promise<number> {
    const known = this.#known.get(topic)
    if (known !== undefined && known > 0) return known
    const n = await this.#lookup(topic)
    if (n === 0) throw new SourceError('NOT_FOUND', `topic '${topic}' does not exist; create it first`, { context: { topic } })
    return n
  }
}
