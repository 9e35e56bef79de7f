/**
 * A topic's folder in the embedded log, `topics/<topic>/`, and its `topic.json`:
 * `{"partitions":N,"topic":"<topic>"}` (`topic` absent in files written before it was kept).
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
import { readJson, writeJsonAtomic } from './durable-file.ts'
import { listedOtherwise } from '../../local-disk/file-name.ts'

interface TopicMeta {
  readonly partitions: number
  readonly topic?: string
}

function isTopicMeta(m: unknown): boolean {
  const meta = m as { partitions?: unknown; topic?: unknown } | null
  return (
    Number.isSafeInteger(meta?.partitions) &&
    (meta as { partitions: number }).partitions >= 1 &&
    (meta?.topic === undefined || typeof meta.topic === 'string')
  )
}

export function writeTopicMeta(topicDir: string, topic: string, partitions: number, fsync: boolean): void {
  writeJsonAtomic(join(topicDir, 'topic.json'), { partitions, topic } satisfies TopicMeta, fsync)
}

/**
 * The partition count topic `topic`'s folder `topicDir` holds; undefined while it holds none (not
 * created yet, or not a count). Refused when the folder is another topic's.
 */
export function topicPartitionCount(topicDir: string, topic: string): number | undefined {
  const meta = readJson<TopicMeta>(join(topicDir, 'topic.json'), isTopicMeta)
  if (meta === undefined) return undefined
  checkTopicFolder(topic, topicDir, meta.topic, () => readdirSync(dirname(topicDir)))
  return meta.partitions
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
