/**
 * The dead-letter follower (replay/dead-letters/dead-letter-follower.ts) on the stack's Kafka, with
 * both clients: the second read starts where the first stopped (its seek lands before any batch),
 * reads what is new and the record it stopped at, and answers as a whole read — re-drive markers
 * written in a transaction (commit markers between them) included.
 */
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { test } from 'node:test'
import { KafkaEventLog } from '../../../adapters/event-log/kafka/kafka-event-log.ts'
import { PlatformaticEventLog } from '../../../adapters/event-log/platformatic/index.ts'
import { deadLetterRecords } from '../../../engine/dead-letter-topic.ts'
import type { DeadLetter } from '../../../ports/dead-letters.ts'
import type { TransactionalEventLog } from '../../../ports/event-log-transaction.ts'
import { positionId } from '../../../replay/dead-letters/dead-letter-entry.ts'
import { followDeadLetters } from '../../../replay/dead-letters/dead-letter-follower.ts'
import { markerTopicOf, readDeadLetters } from '../../../replay/dead-letters/redrive.ts'
import { kafkaBrokers } from './kafka-env.ts'

const clients: [string, () => TransactionalEventLog][] = [
  ['kafka', () => new KafkaEventLog({ brokers: kafkaBrokers(), heartbeatIntervalMs: 500 })],
  ['platformatic', () => new PlatformaticEventLog({ brokers: kafkaBrokers(), heartbeatIntervalMs: 500 })],
]

let serial = 0
function letters(n: number): DeadLetter[] {
  return Array.from({ length: n }, (_, i) => {
    const offset = String(serial++)
    return {
      topic: 'purchases',
      partition: 0,
      offset,
      key: Buffer.from(`k${offset}`),
      value: new Uint8Array([i]),
      reason: i % 2 === 0 ? 'late' : 'undecodable',
      detail: 't',
      view: 'spend',
    }
  })
}

const pendingLines = (pending: readonly { reason: string; view: string | undefined; topic: string }[]): string[] =>
  pending.map((l) => `${l.reason} ${l.view ?? '-'} ${l.topic}`).sort()

for (const [name, makeLog] of clients) {
  void test(`${name} > dead letters followed: the second read hands over only what is new and answers as a whole read`, async () => {
    const log = makeLog()
    const topic = `kfs-dl-follow-${randomUUID()}`
    const markers = markerTopicOf(topic)
    try {
      await log.createTopic(topic, 2)
      await log.createTopic(markers, 1)
      await log.produce(topic, deadLetterRecords(letters(30)))
      const follower = followDeadLetters(topic, { timeoutMs: 30_000 })
      const first = await follower.read(log)
      assert.equal(first.stats.delivered.get(topic), 30)
      assert.equal(first.pending.length, 30)

      await log.produce(topic, deadLetterRecords(letters(4)))
      const snapshot = await readDeadLetters(log, topic)
      const target = positionId(snapshot.entries[0]!.target)
      const txn = await log.transaction(`kfs-dl-follow-${randomUUID()}`)
      await txn.produce(markers, [
        {
          key: target,
          value: Buffer.from(
            JSON.stringify({ target, letter: positionId(snapshot.entries[0]!.at), reason: 'late', redrivenAtMs: 0 }),
          ),
          partition: 0,
        },
      ])
      await txn.commit()

      const second = await follower.read(log)
      const whole = await readDeadLetters(log, topic)
      const expected = whole.entries
        .filter((e) => !whole.redriven.has(positionId(e.target)))
        .map((e) => ({ reason: e.reason, view: e.view, topic: e.target.topic }))
      assert.deepEqual(pendingLines(second.pending), pendingLines(expected))
      assert.equal(second.pending.length, 33)
      // The four new letters and, per partition, the letter the first read stopped at.
      assert.equal(second.stats.delivered.get(topic), 4 + 2)
      assert.equal(second.stats.restarted, 0)
    } finally {
      await log.close()
    }
  })
}
