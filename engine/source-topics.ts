/**
 * How kfs creates a source's topic. A table source's log is compacted: `kfs ingest` reads it whole
 * to learn which rows it holds, so a record deleted by time retention would make the next ingest
 * append its row again — every night, once the table's rows are older than the retention, the
 * whole table. Compaction keeps each primary key's latest record for good; older versions stay
 * at least `TABLE_TOPIC_COMPACT_AFTER_MS` (Kafka's default retention), so a `kfs run` that reads
 * within a week still sees every version (the archive keeps them after that).
 */
import type { SourceDef } from '../features/types.ts'
import type { EventLog, TopicOptions } from '../ports/event-log.ts'
import { isRekeyedSource } from './plan-sources.ts'
import { requireDeclaredPartitions } from './source-partitions.ts'

export const TABLE_TOPIC_COMPACT_AFTER_MS = 7 * 24 * 3_600_000

/** A re-keyed source's internal topic is never compacted: its records are keyed by the group, many rows to a key. */
export function topicOptionsOf(source: SourceDef): TopicOptions | undefined {
  return source.changes?.kind === 'table' && !isRekeyedSource(source)
    ? { compactAfterMs: TABLE_TOPIC_COMPACT_AFTER_MS }
    : undefined
}

/**
 * Creates `source`'s topic unless it exists, with the settings its kind needs; an existing topic
 * must hold the partitions the source declares (./source-partitions.ts).
 */
export async function createSourceTopic(log: EventLog, source: SourceDef): Promise<void> {
  await log.createTopic(source.topic, source.partitions, topicOptionsOf(source))
  await requireDeclaredPartitions(log, [source])
}
