/**
 * Deletes a topic and makes it again with the same partitions, empty — what an operator's
 * `kafka-topics.sh --delete` then `--create` does. The broker deletes asynchronously: creating
 * again is retried until it succeeds, or until the topic reads back empty (another retry's
 * create landed, or the deletion finished with the topic re-created by auto-creation).
 */
import { Kafka, logLevel, type Admin } from 'kafkajs'
import type { EventLog } from '../../ports/event-log.ts'
import { waitFor } from './scenario.ts'

export async function recreateTopic(
  admin: Admin,
  log: Pick<EventLog, 'endOffsets'>,
  source: { readonly topic: string; readonly partitions: number },
): Promise<void> {
  await admin.deleteTopics({ topics: [source.topic] })
  await waitFor(async () => {
    const made = await admin
      .createTopics({
        topics: [{ topic: source.topic, numPartitions: source.partitions, replicationFactor: 1 }],
        waitForLeaders: true,
      })
      .catch(() => false)
    return (
      made ||
      (await log
        .endOffsets(source.topic)
        .then((e) => e.every((o) => o === '0'))
        .catch(() => false))
    )
  }, 'the topic re-created')
}

/** A connected kafkajs admin on the scenario's brokers (the caller disconnects it). */
export async function connectedAdmin(env: Readonly<Record<string, string | undefined>>, clientId: string): Promise<Admin> {
  const admin = new Kafka({ clientId, brokers: env.KFS_KAFKA_BROKERS!.split(','), logLevel: logLevel.NOTHING }).admin()
  await admin.connect()
  return admin
}
