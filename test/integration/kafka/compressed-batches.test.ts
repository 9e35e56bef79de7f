/**
 * Batches other producers compressed, read by both Kafka adapters (kafkajs, @platformatic/kafka):
 * for every compression Kafka defines (none, gzip, snappy, lz4, zstd), Kafka's own Java producer
 * publishes keyed records with headers — small ones batched together, and one large enough to span
 * several snappy blocks (xerial framing) and several lz4 blocks — and each adapter's consumer must
 * hand over every record exactly as produced, in offset order, with no gap. A guard reads the
 * batches' attribute bits back, so a producer that silently sent them uncompressed fails the test
 * instead of passing it.
 */
import { before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { Consumer } from '@platformatic/kafka'
import { KafkaEventLog } from '../../../adapters/event-log/kafka/index.ts'
import { PlatformaticEventLog } from '../../../adapters/event-log/platformatic/index.ts'
import { fetchRequestsByLeader } from '../../../adapters/event-log/platformatic/fetch-requests.ts'
import type { EventLog, LogRecord } from '../../../ports/event-log.ts'
import { KAFKA_CODECS, produceWithJava, type KafkaCodec, type TextRecord } from '../../support/java-producer.ts'
import { kafkaBrokers } from './kafka-env.ts'

const PARTITIONS = 2
const CODEC_IDS: Record<KafkaCodec, number> = { none: 0, gzip: 1, snappy: 2, lz4: 3, zstd: 4 }
const clients: ReadonlyArray<readonly [string, () => EventLog]> = [
  ['kafkajs', () => new KafkaEventLog({ brokers: kafkaBrokers() })],
  ['platformatic', () => new PlatformaticEventLog({ brokers: kafkaBrokers() })],
]

/** Compressible but not uniform text: words drawn by a fixed sequence, so every run is the same. */
function text(seed: number, words: number): string {
  const vocabulary = ['order', 'user', 'click', 'view', 'cart', 'price', 'item', 'session', 'page', 'search']
  let x = seed * 2654435761
  const out: string[] = []
  for (let i = 0; i < words; i++) {
    x = (x * 1103515245 + 12345) % 2147483648
    out.push(`${vocabulary[x % vocabulary.length]}${x % 97}`)
  }
  return out.join('-')
}

function corpus(codec: KafkaCodec): TextRecord[] {
  const records: TextRecord[] = Array.from({ length: 300 }, (_, i) => ({
    key: `k${i % 37}`,
    value: `${codec}|${i}|${text(i, 5 + (i % 40))}`,
    headers: { i: String(i) },
  }))
  // ~150 KB: several 32 KiB snappy blocks and 64 KiB lz4 blocks in one batch.
  records.splice(150, 0, { key: 'k-large', value: `${codec}|large|${text(7, 18_000)}`, headers: { i: 'large' } })
  return records
}

const produced = new Map<KafkaCodec, { topic: string; records: TextRecord[] }>()

/** The compression of every batch of a topic, from the attribute bits of a raw fetch. */
async function batchCodecIds(topic: string): Promise<Set<number>> {
  const consumer = new Consumer({
    clientId: 'kfs-codec-guard',
    bootstrapBrokers: kafkaBrokers(),
    groupId: `guard-${randomUUID()}`,
  })
  try {
    const metadata = await consumer.metadata({ topics: [topic] })
    const wanted = Array.from({ length: PARTITIONS }, (_, partition) => ({ topic, partition, position: 0n, version: 0 }))
    const { byNode } = fetchRequestsByLeader(metadata, wanted, 4 * 1024 * 1024)
    const ids = new Set<number>()
    for (const [node, topics] of byNode) {
      const answer = await consumer.fetch({ node, topics, maxWaitTime: 100 })
      for (const t of answer.responses)
        for (const p of t.partitions) for (const batch of p.records ?? []) ids.add(batch.attributes & 0x07)
    }
    return ids
  } finally {
    await consumer.close(true)
  }
}

/** Every record of the topic through the adapter's consumer, or the crash that stopped it. */
async function readAll(log: EventLog, topic: string, expected: number): Promise<LogRecord[]> {
  const seen: LogRecord[] = []
  let crashed: (err: unknown) => void = () => undefined
  const crash = new Promise<never>((_, reject) => (crashed = reject))
  let done: () => void = () => undefined
  const complete = new Promise<void>((resolve) => (done = resolve))
  const consumer = log.consumer({ groupId: `g-${randomUUID()}`, topics: [topic], onCrash: (err) => crashed(err) })
  await consumer.run({
    eachBatch: async (batch) => {
      seen.push(...batch.records)
      if (seen.length >= expected) done()
    },
  })
  const limit = new Promise<never>((_, reject) =>
    setTimeout(() => reject(new Error(`read ${seen.length} of ${expected} records in 60 s`)), 60_000).unref(),
  )
  try {
    await Promise.race([complete, crash, limit])
  } finally {
    await consumer.stop()
  }
  return seen
}

const asText = (b: Uint8Array | null) => (b === null ? null : Buffer.from(b).toString('utf8'))

void describe('batches compressed by another producer', () => {
  before(async () => {
    const setup = new KafkaEventLog({ brokers: kafkaBrokers() })
    try {
      for (const codec of KAFKA_CODECS) {
        const topic = `kfs-codec-${codec}-${randomUUID().slice(0, 8)}`
        await setup.createTopic(topic, PARTITIONS)
        const records = corpus(codec)
        await produceWithJava(kafkaBrokers(), topic, codec, records)
        produced.set(codec, { topic, records })
      }
    } finally {
      await setup.close()
    }
  })

  for (const codec of KAFKA_CODECS) {
    void test(`the Java producer's batches on the ${codec} topic are ${codec}-compressed (the guard of the cases below)`, async () => {
      const { topic } = produced.get(codec)!
      assert.deepEqual([...(await batchCodecIds(topic))], [CODEC_IDS[codec]])
    })

    for (const [client, makeLog] of clients) {
      void test(`${client} reads every ${codec}-compressed record as produced: key, value, headers, offsets without gaps`, async () => {
        const { topic, records } = produced.get(codec)!
        const log = makeLog()
        try {
          const seen = await readAll(log, topic, records.length)
          assert.equal(seen.length, records.length, 'records read')
          for (let partition = 0; partition < PARTITIONS; partition++) {
            const offsets = seen.filter((r) => r.partition === partition).map((r) => Number(r.offset))
            assert.deepEqual(
              offsets,
              offsets.map((_, i) => i),
              `partition ${partition}: offsets in order from 0, no gap, none twice`,
            )
          }
          const byIndex = new Map(seen.map((r) => [r.headers.i, r]))
          for (const expected of records) {
            const got = byIndex.get(expected.headers!.i!)
            assert.ok(got, `record ${expected.headers!.i} read`)
            assert.deepEqual(
              { key: asText(got.key), value: asText(got.value), headers: { ...got.headers } },
              { key: expected.key, value: expected.value, headers: { codec, ...expected.headers } },
            )
          }
        } finally {
          await log.close()
        }
      })
    }
  }
})
