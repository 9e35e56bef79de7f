/**
 * What both Kafka adapters (kafkajs, @platformatic/kafka) must do on a real broker beyond the
 * event-log contract: put keys where other Kafka clients put them, report a crashing handler,
 * name a missing topic, let a new client (a restarted process) take over a transactional id, and
 * create a table source's topic compacted.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import kafkajs, { Kafka, logLevel } from 'kafkajs'
import { partitionForKey } from '../../../core/murmur2.ts'
import type { LogRecord } from '../../../ports/event-log.ts'
import type { TransactionalEventLog } from '../../../ports/event-log-transaction.ts'
import { eventually } from '../../contracts/event-log.ts'
import { kafkaBrokers } from './kafka-env.ts'

const { ConfigResourceTypes } = kafkajs
const enc = (s: string) => Buffer.from(s, 'utf8')

export function runKafkaLogCases(name: string, makeLog: () => Promise<TransactionalEventLog>): void {
  void test(`${name} > records sit on the partition a plain kafkajs DefaultPartitioner producer (Java's murmur2) puts the same key on`, async () => {
    const log = await makeLog()
    const topic = `kfs-part-${randomUUID().slice(0, 8)}`
    const raw = new Kafka({ brokers: kafkaBrokers(), logLevel: logLevel.NOTHING })
    const producer = raw.producer({ allowAutoTopicCreation: false })
    try {
      await log.createTopic(topic, 5)
      await producer.connect()
      const keys = Array.from({ length: 30 }, (_, i) => `entity-${i}`)
      const ours = await log.produce(
        topic,
        keys.map((k) => ({ key: k, value: enc('x') })),
      )
      for (const [i, k] of keys.entries()) {
        const [theirs] = await producer.send({ topic, messages: [{ key: k, value: 'x' }] })
        assert.equal(ours[i]?.partition, theirs?.partition, k)
        assert.equal(ours[i]?.partition, partitionForKey(k, 5), k)
      }
      const ends = await log.endOffsets(topic)
      assert.equal(
        ends.reduce((a, b) => a + Number(b), 0),
        60,
      )
    } finally {
      await producer.disconnect()
      await log.close()
    }
  })

  void test(`${name} > a failing handler with onCrash stops the consumer and reports the error`, async () => {
    const log = await makeLog()
    const topic = `kfs-crash-${randomUUID().slice(0, 8)}`
    try {
      await log.createTopic(topic, 1)
      await log.produce(topic, [{ key: null, value: enc('x') }])
      const crashes: unknown[] = []
      const consumer = log.consumer({ groupId: `g-${randomUUID()}`, topics: [topic], onCrash: (err) => crashes.push(err) })
      await consumer.run({
        eachBatch: async () => {
          throw new Error('boom')
        },
      })
      await eventually(() => crashes.length === 1, 'the crash report')
      assert.equal((crashes[0] as Error).message, 'boom')
    } finally {
      await log.close()
    }
  })

  void test(`${name} > producing to a missing topic is a clear NOT_FOUND error`, async () => {
    const log = await makeLog()
    try {
      await assert.rejects(
        log.produce(`kfs-missing-${randomUUID()}`, [{ key: 'a', value: null }]),
        (err: unknown) => (err as { code?: string }).code === 'NOT_FOUND',
      )
    } finally {
      await log.close()
    }
  })

  void test(`${name} > a new client takes over a transactional id (a restart): the old one's open transaction never shows`, async () => {
    const before = await makeLog()
    const after = await makeLog()
    const topic = `kfs-takeover-${randomUUID().slice(0, 8)}`
    const id = `kfs-takeover-${randomUUID().slice(0, 8)}`
    try {
      await before.createTopic(topic, 1)
      const crashed = await before.transaction(id)
      await crashed.produce(topic, [{ key: null, value: enc('left-open'), partition: 0 }])
      // A second process with the same id, as after a crash: opening a transaction fences the first.
      const txn = await after.transaction(id)
      await txn.produce(topic, [{ key: null, value: enc('taken-over'), partition: 0 }])
      await txn.commit()
      await assert.rejects(crashed.commit())
      const seen: LogRecord[] = []
      const reader = after.consumer({ groupId: `g-${randomUUID()}`, topics: [topic], readCommitted: true })
      await reader.run({ eachBatch: async (batch) => void seen.push(...batch.records) })
      await after.produce(topic, [{ key: null, value: enc('marker'), partition: 0 }])
      await eventually(() => seen.some((r) => r.value !== null && Buffer.from(r.value).toString() === 'marker'), 'the marker')
      await reader.stop()
      assert.deepEqual(
        seen.map((r) => (r.value === null ? null : Buffer.from(r.value).toString())),
        ['taken-over', 'marker'],
      )
    } finally {
      await Promise.all([before.close(), after.close()])
    }
  })

  void test(`${name} > a table source's topic is created compacted and reports no retention limit; a plain topic reports the broker's`, async () => {
    const log = await makeLog()
    const raw = new Kafka({ brokers: kafkaBrokers(), logLevel: logLevel.NOTHING })
    const admin = raw.admin()
    const table = `kfs-table-${randomUUID().slice(0, 8)}`
    const plain = `kfs-plain-${randomUUID().slice(0, 8)}`
    try {
      await log.createTopic(table, 2, { compactAfterMs: 604_800_000 })
      await log.createTopic(table, 2, { compactAfterMs: 604_800_000 })
      await log.createTopic(plain, 2)
      await admin.connect()
      const described = await admin.describeConfigs({ resources: [{ type: ConfigResourceTypes.TOPIC, name: table, configNames: ['cleanup.policy', 'min.compaction.lag.ms'] }], includeSynonyms: false })
      const settings = Object.fromEntries((described.resources[0]?.configEntries ?? []).map((e) => [e.configName, e.configValue]))
      assert.deepEqual(settings, { 'cleanup.policy': 'compact', 'min.compaction.lag.ms': '604800000' })
      assert.equal(await log.retentionLimit?.(table), undefined)
      assert.match((await log.retentionLimit?.(plain)) ?? '', /^cleanup\.policy=delete, retention\.ms=\d+/)
    } finally {
      await Promise.all([log.close(), admin.disconnect()])
    }
  })
}
