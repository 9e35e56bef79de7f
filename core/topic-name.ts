/**
 * What Kafka accepts as a topic name — letters, digits, '.', '_' and '-', 1 to 249 of them, not
 * '.' or '..' — checked once for every place kfs takes or makes one (a source's topic, a re-key
 * stage's internal topic, the served-feature log, the embedded log's topics), so they cannot
 * drift apart.
 */
const LEGAL_TOPIC_NAME = /^[a-zA-Z0-9._-]{1,249}$/

/** How a legal topic name is written, for messages. */
export const TOPIC_NAME_RULE = "letters, digits, '.', '_', '-'; at most 249; not '.' or '..'"

export function isTopicName(name: string): boolean {
  // Kafka refuses '.' and '..' too: as a directory (the embedded log's topics/<name>), they name the parent.
  return LEGAL_TOPIC_NAME.test(name) && name !== '.' && name !== '..'
}
