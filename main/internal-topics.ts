/**
 * The topics kfs keeps for itself, by the names the engine and the re-drive give them: the
 * dead-letter topic, the markers `kfs dead-letters redrive` writes beside it, and each re-key
 * stage's internal topic (engine/plan-sources.ts) — plus Kafka's own `__` topics. A topic a user
 * names for kfs to write other records to (the served-feature log) must be none of these: its
 * records would be read as dead letters, re-drive markers or re-keyed events.
 */
import { isTopicName, TOPIC_NAME_RULE } from '../core/topic-name.ts'
import { isInternalTopicName } from '../engine/plan-sources.ts'
import { markerTopicOf } from '../replay/dead-letters/redrive.ts'

/** Where kfs run sends the records it cannot apply; kfs dead-letters and the catalog read it. */
export const DEAD_LETTER_TOPIC = 'kfs.dead-letters'

/** What `topic` is to kfs or Kafka, when it is one of their own topics; undefined otherwise. */
function internalTopicRole(topic: string): string | undefined {
  if (topic === DEAD_LETTER_TOPIC) return "kfs's dead-letter topic, which kfs run writes and kfs dead-letters reads"
  if (topic === markerTopicOf(DEAD_LETTER_TOPIC)) return 'where kfs dead-letters redrive marks the letters it re-drove'
  if (isInternalTopicName(topic))
    return "a re-key stage's internal topic (kfs.<source topic>.by-<entity>), which kfs run fills and its views read"
  if (isInternalTopicName(topic.replace(/\.row-groups$/, '')) && topic.endsWith('.row-groups'))
    return "a re-key stage's row index (kfs.<source topic>.by-<entity>.row-groups), which kfs run writes and reads back"
  if (topic.startsWith('__')) return "one of Kafka's internal topics (__ names are Kafka's own)"
  return undefined
}

/**
 * Why `topic` cannot take the served-feature records (`kfs serve --log-topic`,
 * KFS_SERVE_LOG_TOPIC) — what it is instead — or undefined when it can. In one of kfs's own topics
 * those records would be read as what that topic holds (dead letters, re-drive markers, re-keyed
 * events).
 */
export function servedLogTopicProblem(topic: string): string | undefined {
  if (!isTopicName(topic)) return `not a Kafka topic name (${TOPIC_NAME_RULE})`
  return internalTopicRole(topic)
}
