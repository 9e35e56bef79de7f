import { test } from 'node:test'
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { Kafka, logLevel } from 'kafkajs'
import { KafkaEventLog } from '../../../adapters/event-log/kafka/kafka-event-log.ts'
import { partitionForKey } from '../../../adapters/event-log/embedded/murmur2.ts'
import { eventually, runEventLogContract } from '../../contracts/event-log.ts'
import { kafkaBrokers } from './kafka-env.ts'

// Short heartbeats so rebalances in the contract settle quickly on a test broker.
const makeLog = async () => new KafkaEventLog({ brokers: kafkaBrokers(), heartbeatIntervalMs: 500, sessionTimeoutMs: 10_000 })

runEventLogContract('kafka', makeLog)

void test('kafka > records produced by kfs sit where a plain kafkajs DefaultPartitioner producer puts the same keys', async () => {
  const log = await makeLog()
  const topic = `kfs-part-${randomUUID().slice(0, 8)}`
  const raw = new Kafka({ brokers: kafkaBrokers(), logLevel: logLevel.NOTHING })
  const producer = raw.producer({ allowAutoTopicCreation: false })
  try {
    await log.createTopic(topic, 5)
    await producer.connect()
    const keys = Array.from({ length: 30 }, (_, i) => `entity-${i}`)
    const theirs = await producer.send({ topic, messages: keys.map((k) => ({ key: k, value: 'x' })) })
    const ours = await log.produce(topic, keys.map((k) => ({ key: k, value: Buffer.from('x') })))
    // kafkajs groups its answer per partition; every partition it wrote to must be one we chose for some key.
    const ourPartitions = new Set(ours.map((o) => o.partition))
    assert.deepEqual(new Set(theirs.map((m) => m.partition)), ourPartitions)
    keys.forEach((k, i) => assert.equal(ours[i]?.partition, partitionForKey(k, 5)))
    const ends = await log.endOffsets(topic)
    assert.equal(ends.reduce((a, b) => a + Number(b), 0), 60)
  } finally {
    await producer.disconnect()
    await log.close()
  }
})

void test('kafka > a failing handler with onCrash stops the consumer and reports the error', async () => {
  const log = await makeLog()
  const topic = `kfs-crash-${randomUUID().slice(0, 8)}`
  try {
    await log.createTopic(topic, 1)
    await log.produce(topic, [{ key: null, value: Buffer.from('x') }])
    const crashes: unknown[] = []
    const consumer = log.consumer({ groupId: `g-${randomUUID()}`, topics: [topic], onCrash: (err) => crashes.push(err) })
    await consumer.run({ eachBatch: async () => { throw new Error('boom') } })
    await eventually(() => crashes.length === 1, 'the crash report')
    assert.equal((crashes[0] as Error).message, 'boom')
  } finally {
    await log.close()
  }
})

void test('kafka > producing to a missing topic is a clear NOT_FOUND error', async () => {
  const log = await makeLog()
  try {
    await assert.rejects(log.produce(`kfs-missing-${randomUUID()}`, [{ key: 'a', value: null }]), (err: unknown) => (err as { code?: string }).code === 'NOT_FOUND')
  } finally {
    await log.close()
  }
})
