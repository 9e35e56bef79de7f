/**
 * A topic's low and high offsets through kafkajs's admin, around a race in kafkajs 2.2.4: its
 * `fetchTopicOffsets` adds the topic to the client's metadata targets and, when another call has
 * just done so and that metadata refresh is still in flight, reads the topic's partitions from
 * metadata that does not hold them yet — it then asks for no partitions and fails destructuring
 * the empty answer ("Cannot destructure property 'partitions' of 'low.pop(...)'"). Seen in CI in
 * the re-key stage, which reads start and end offsets at once when it takes partitions.
 *
 * Calls are serialised per client (the race needs two at once), and that failure — and a
 * partition whose leader is moving (below) — is retried after refreshing the topic's metadata, a
 * bounded number of times; any other error is thrown as it came.
 */
import type { Admin } from 'kafkajs'
import { isLeaderMoving, leaderBackOffMs, sleep } from './leader-wait.ts'

export type TopicOffsets = Awaited<ReturnType<Admin['fetchTopicOffsets']>>

const ATTEMPTS = 3

/** kafkajs's failure when it read a topic's partitions from metadata that had none for it. */
export function isKafkajsMetadataRace(err: unknown): boolean {
  return err instanceof TypeError && /Cannot destructure property 'partitions' of '(low|high)\.pop\(\.\.\.\)'/.test(err.message)
}

/** kafkajs's admin does not retry ListOffsets on a partition whose leader is moving. */
const LEADER_ATTEMPTS = 8

export async function fetchTopicOffsetsSafely(
  admin: Pick<Admin, 'fetchTopicOffsets' | 'fetchTopicMetadata'>,
  topic: string,
  wait: (ms: number) => Promise<void> = sleep,
): Promise<TopicOffsets> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await admin.fetchTopicOffsets(topic)
    } catch (err: unknown) {
      const race = isKafkajsMetadataRace(err) && attempt < ATTEMPTS
      const moving = isLeaderMoving(err) && attempt < LEADER_ATTEMPTS
      if (!race && !moving) throw err
      if (moving) await wait(leaderBackOffMs(attempt))
      await admin.fetchTopicMetadata({ topics: [topic] })
    }
  }
}

/** One offsets call at a time per client. */
export function createTopicOffsetsQueue(admin: () => Promise<Pick<Admin, 'fetchTopicOffsets' | 'fetchTopicMetadata'>>): (topic: string) => Promise<TopicOffsets> {
  let tail: Promise<unknown> = Promise.resolve()
  return (topic) => {
    const run = tail.then(async () => fetchTopicOffsetsSafely(await admin(), topic))
    tail = run.catch(() => undefined)
    return run
  }
}
