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
import { isLeaderMoving, kafkaErrorType, leaderBackOffMs, sleep } from './leader-wait.ts'

const WAIT_ATTEMPTS = 10

type CreateAdmin = Pick<Admin, 'createTopics' | 'fetchTopicMetadata'>

/** A failure of kafkajs's wait for leaders, after the topic was accepted. */
export function isLeaderWaitFailure(err: unknown): boolean {
  // A topic that exists on the controller but not yet on the asked broker, or has no leader yet.
  const type = kafkaErrorType(err)
  if (type !== undefined) return type === 'UNKNOWN_TOPIC_OR_PARTITION' || isLeaderMoving(err)
  return err instanceof Error && err.name === 'KafkaJSTimeout' && /waiting for topic leaders/.test(err.message)
}

export async function createTopicSafely(
  admin: CreateAdmin,
  topic: ITopicConfig,
  wait: (ms: number) => Promise<void> = sleep,
): Promise<void> {
  try {
    await admin.createTopics({ topics: [topic], waitForLeaders: true })
    return
  } catch (err: unknown) {
    if (!isLeaderWaitFailure(err)) throw err
    await waitForLeaders(admin, topic, err, wait)
  }
}

async function waitForLeaders(
  admin: CreateAdmin,
  topic: ITopicConfig,
  first: unknown,
  wait: (ms: number) => Promise<void>,
): Promise<void> {
  let last = first
  for (let attempt = 1; attempt <= WAIT_ATTEMPTS; attempt++) {
    await wait(leaderBackOffMs(attempt))
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
