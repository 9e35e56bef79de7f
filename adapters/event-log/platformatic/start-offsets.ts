/**
 * Where newly assigned partitions start reading: the group's committed offset, else the earliest
 * (fromBeginning) or the latest offset — Kafka's auto.offset.reset. Read-committed consumers get
 * the last stable offset as "latest" (the library asks with the consumer's isolation level).
 */
import { ListOffsetTimestamps, type Consumer } from '@platformatic/kafka'

type TP = { readonly topic: string; readonly partition: number }

/** The key kfs's Kafka adapters give a topic-partition in their maps. */
export const partitionKey = (tp: TP): string => `${tp.partition}\u0000${tp.topic}`

export async function startOffsets(
  consumer: Consumer,
  partitions: readonly TP[],
  fromBeginning: boolean,
  options: { ignoreCommitted?: boolean } = {},
): Promise<Map<string, bigint>> {
  const out = new Map<string, bigint>()
  if (partitions.length === 0) return out
  const committed =
    options.ignoreCommitted === true
      ? new Map<string, bigint[]>()
      : await consumer.listCommittedOffsets({ topics: byTopic(partitions) })
  const missing: TP[] = []
  for (const tp of partitions) {
    const offset = committed.get(tp.topic)?.[tp.partition]
    // Kafka answers -1 for a partition the group never committed.
    if (offset !== undefined && offset >= 0n) out.set(partitionKey(tp), offset)
    else missing.push(tp)
  }
  if (missing.length === 0) return out
  const groups = byTopic(missing)
  const listed = await consumer.listOffsets({
    topics: groups.map((g) => g.topic),
    partitions: Object.fromEntries(groups.map((g) => [g.topic, g.partitions])),
    timestamp: fromBeginning ? ListOffsetTimestamps.EARLIEST : ListOffsetTimestamps.LATEST,
  })
  for (const tp of missing) {
    const offset = listed.get(tp.topic)?.[tp.partition]
    if (offset !== undefined && offset >= 0n) out.set(partitionKey(tp), offset)
  }
  return out
}

function byTopic(partitions: readonly TP[]): { topic: string; partitions: number[] }[] {
  const grouped = new Map<string, number[]>()
  for (const tp of partitions) (grouped.get(tp.topic) ?? grouped.set(tp.topic, []).get(tp.topic)!).push(tp.partition)
  return [...grouped].map(([topic, ps]) => ({ topic, partitions: ps.sort((a, b) => a - b) }))
}
