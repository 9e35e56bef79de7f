/**
 * A topic's folder in the embedded log, `topics/<topic>/`, and its `topic.json`:
 * `{"partitions":N,"topic":"<topic>","compactAfterMs":M}` (`topic` absent in files written before
 * it was kept; `compactAfterMs` only for a compacted topic, ./compaction.ts).
 *
 * Why the file names its topic: topic names are case-sensitive (Kafka's), file systems often are
 * not (macOS, Windows), so there `topics/Clicks` is the folder `clicks` made, and opening `Clicks`
 * read and appended to `clicks`'s partitions, the two topics' records mixed for good. A folder whose
 * topic.json names another topic is refused, naming both. For a topic.json from before, the folder's
 * spelling in its parent's listing tells the same (on a case-sensitive file system it is always the
 * asked one).
 */
import { readdirSync } from 'node:fs'
import { basename, dirname, join } from 'node:path'
import { SourceError } from '../../../core/errors.ts'
import type { TopicOptions } from '../../../ports/event-log.ts'
import { readJson, writeJsonAtomic } from './durable-file.ts'
import { listedOtherwise } from '../../local-disk/file-name.ts'

interface TopicMeta {
  readonly partitions: number
  readonly topic?: string
  readonly compactAfterMs?: number
}

function isTopicMeta(m: unknown): boolean {
  const meta = m as { partitions?: unknown; topic?: unknown; compactAfterMs?: unknown } | null
  return (
    Number.isSafeInteger(meta?.partitions) &&
    (meta as { partitions: number }).partitions >= 1 &&
    (meta?.topic === undefined || typeof meta.topic === 'string') &&
    (meta?.compactAfterMs === undefined || (Number.isSafeInteger(meta.compactAfterMs) && (meta.compactAfterMs as number) >= 0))
  )
}

export function writeTopicMeta(
  topicDir: string,
  topic: string,
  partitions: number,
  fsync: boolean,
  compactAfterMs?: number,
): void {
  writeJsonAtomic(
    join(topicDir, 'topic.json'),
    { partitions, topic, ...(compactAfterMs === undefined ? {} : { compactAfterMs }) } satisfies TopicMeta,
    fsync,
  )
}

/**
 * A new topic's compaction lag from its options: a whole number of ms, as the Kafka adapters set
 * min.compaction.lag.ms (adapters/event-log/topic-settings.ts); undefined for a topic not compacted.
 */
export function compactionLag(options: TopicOptions | undefined): number | undefined {
  const ms = options?.compactAfterMs
  if (ms === undefined) return undefined
  if (!(ms >= 0)) throw new SourceError('BAD_REQUEST', `compactAfterMs must be a number of ms ≥ 0, got ${ms}`)
  return Math.min(Number.MAX_SAFE_INTEGER, Math.floor(ms))
}

/**
 * The partition count topic `topic`'s folder `topicDir` holds; undefined while it holds none (not
 * created yet, or not a count). Refused when the folder is another topic's.
 */
export function topicPartitionCount(topicDir: string, topic: string): number | undefined {
  return topicSettings(topicDir, topic)?.partitions
}

/** The partition count and compaction setting topic.json holds (as topicPartitionCount). */
export function topicSettings(topicDir: string, topic: string): { partitions: number; compactAfterMs?: number } | undefined {
  const meta = readJson<TopicMeta>(join(topicDir, 'topic.json'), isTopicMeta)
  if (meta === undefined) return undefined
  checkTopicFolder(topic, topicDir, meta.topic, () => readdirSync(dirname(topicDir)))
  return { partitions: meta.partitions, ...(meta.compactAfterMs === undefined ? {} : { compactAfterMs: meta.compactAfterMs }) }
}

/**
 * Refuses the folder `topicDir` opened for `topic` when it is another topic's: its topic.json names
 * another (`stored`), or — a topic.json naming none — the parent's listing (`listing`) spells the
 * folder otherwise.
 */
export function checkTopicFolder(
  topic: string,
  topicDir: string,
  stored: string | undefined,
  listing: () => readonly string[],
): void {
  const other = stored ?? listedOtherwise(basename(topicDir), listing())
  if (other === undefined || other === topic) return
  throw new SourceError(
    'BAD_REQUEST',
    `topic '${topic}' and topic '${other}' are one folder ${topicDir} on this file system (it does not tell upper from lower case): their records would mix, so '${topic}' is refused; use one spelling for both, or names that differ in more than case`,
    { context: { topic, storedTopic: other, path: topicDir } },
  )
}
