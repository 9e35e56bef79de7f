/**
 * A topic created through kafkajs's admin, around the gap in kafkajs 2.2.4's `waitForLeaders`: after
 * the controller accepted the topic, kafkajs polls one broker's metadata and retries only
 * LEADER_NOT_AVAILABLE. A KRaft broker that has not yet applied the new topic from the metadata log
 * answers UNKNOWN_TOPIC_OR_PARTITION instead, and kafkajs gives up — the call fails although the
 * topic now exists (seen under load: the caller's next step, or its retry, then finds a topic that
 * "failed" to be made). Here such a failure of the wait is followed by our own wait: the topic's
 * metadata is asked again (kafkajs refreshes the cluster's metadata for it) until every partition
 * has a leader, with a back-off, a bounded number of times. Errors of the creation itself (invalid
 * settings, not authorised, a controller that never answers) are thrown as they came.
 */
import type { Admin, ITopicConfig } from 'kafkajs'

/** The metadata answers of a topic that exists on the controller but not yet on the asked broker. */
const NOT_YET_VISIBLE = new Set(['UNKNOWN_TOPIC_OR_PARTITION', 'LEADER_NOT_AVAILABLE', 'NOT_LEADER_FOR_PARTITION'])
const WAIT_ATTEMPTS = 10

type CreateAdmin = Pick<Admin, 'createTopics' | 'fetchTopicMetadata'>

function errorType(err: unknown): string | undefined {
  const type = (err as { type?: unknown } | undefined)?.type
  return typeof type === 'string' ? type : undefined
}

/** A failure of kafkajs's wait for leaders, after the topic was accepted. */
export function isLeaderWaitFailure(err: unknown): boolean {
  const type = errorType(err)
  if (type !== undefined) return NOT_YET_VISIBLE.has(type)
  return err instanceof Error && err.name === 'KafkaJSTimeout' && /waiting for topic leaders/.test(err.message)
}

export async function createTopicSafely(
  admin: CreateAdmin,
  topic: ITopicConfig,
  sleep: (ms: number) => Promise<void> = (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
): Promise<void> {
  try {
    await admin.createTopics({ topics: [topic], waitForLeaders: true })
    return
  } catch (err: unknown) {
    if (!isLeaderWaitFailure(err)) throw err
    await waitForLeaders(admin, topic, err, sleep)
  }
}

async function waitForLeaders(
  admin: CreateAdmin,
  topic: ITopicConfig,
  first: unknown,
  sleep: (ms: number) => Promise<void>,
): Promise<void> {
  let last = first
  for (let attempt = 1; attempt <= WAIT_ATTEMPTS; attempt++) {
    await sleep(Math.min(1_000, 50 * 2 ** (attempt - 1)))
    try {
      const metadata = await admin.fetchTopicMetadata({ topics: [topic.topic] })
      const partitions = metadata.topics.find((t) => t.name === topic.topic)?.partitions ?? []
      const wanted = Math.max(1, topic.numPartitions ?? 1)
      if (partitions.length >= wanted && partitions.every((p) => p.leader >= 0)) return
      last = new Error(
        `topic '${topic.topic}': ${partitions.filter((p) => p.leader >= 0).length} of ${wanted} partitions have a leader`,
      )
    } catch (err: unknown) {
      if (!isLeaderWaitFailure(err)) throw err
      last = err
    }
  }
  throw last
}
