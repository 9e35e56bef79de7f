/**
 * A compressed batch that cannot be decompressed (corrupt bytes, a codec binding that does not
 * load, zstd on a Node without it), for every compression codec and both Kafka adapters: the
 * consumer hands over no more than the records before it, then stops once — non-retriable SOURCE_REJECTED naming
 * the topic, partition, offset and codec — and hands over nothing at or after it: no silent skip,
 * and no fetching the same bytes again and again (the codec is called once by kafkajs; by
 * @platformatic/kafka once, plus once to find the partition).
 *
 * A broker validates what it is sent, so the failure is injected in the client: kafkajs's codec
 * table gets kfs's codec wrapper around an implementation that fails; @platformatic/kafka's codec
 * table a decompression that fails, which the adapter wraps when a log is made.
 */
import { before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import kafkajs from 'kafkajs'
import { compressionsAlgorithms } from '@platformatic/kafka'
import { KafkaEventLog } from '../../../adapters/event-log/kafka/index.ts'
import { batchCodec, registerBatchCodecs, type BatchCodecName } from '../../../adapters/event-log/kafka/batch-codecs.ts'
import { PlatformaticEventLog } from '../../../adapters/event-log/platformatic/index.ts'
import { FeatureStoreError } from '../../../core/errors.ts'
import type { EventLog, LogRecord } from '../../../ports/event-log.ts'
import { produceWithJava, type TextRecord } from '../../support/java-producer.ts'
import { kafkaBrokers } from './kafka-env.ts'

const CODECS: readonly BatchCodecName[] = ['gzip', 'snappy', 'lz4', 'zstd']
const KAFKAJS_TYPES: Record<BatchCodecName, number> = { gzip: 1, snappy: 2, lz4: 3, zstd: 4 }
const INJECTED = 'corrupt input (injected)'

const batch = (name: string, n: number): TextRecord[] =>
  Array.from({ length: n }, (_, i) => ({ key: `k${i}`, value: `${name}-${i}` }))

/** The codec fails in the client under test only while `fn` runs; returns how often it was called. */
async function failingCodec(client: string, codec: BatchCodecName, fn: () => Promise<void>): Promise<number> {
  let calls = 0
  const fail = (): never => {
    calls++
    throw new Error(INJECTED)
  }
  if (client === 'kafkajs') {
    registerBatchCodecs()
    const table = kafkajs.CompressionCodecs as Record<number, () => unknown>
    const kept = table[KAFKAJS_TYPES[codec]]!
    const broken = batchCodec(codec, { compress: async (b) => b, decompress: async () => fail() })
    table[KAFKAJS_TYPES[codec]] = () => broken
    try {
      await fn()
    } finally {
      table[KAFKAJS_TYPES[codec]] = kept
    }
  } else {
    const algorithm = compressionsAlgorithms[codec] as unknown as { decompressSync: (b: Buffer) => Buffer }
    const kept = algorithm.decompressSync
    algorithm.decompressSync = () => fail()
    try {
      await fn()
    } finally {
      algorithm.decompressSync = kept
    }
  }
  return calls
}

const clients: ReadonlyArray<readonly [string, () => EventLog]> = [
  ['kafkajs', () => new KafkaEventLog({ brokers: kafkaBrokers() })],
  ['platformatic', () => new PlatformaticEventLog({ brokers: kafkaBrokers() })],
]

/** Per codec: a topic holding 5 plain records, a batch of 20 compressed with the codec, 5 plain records. */
const topics = new Map<BatchCodecName, string>()

void describe('a compressed batch that cannot be decompressed', () => {
  before(async () => {
    const setup = new KafkaEventLog({ brokers: kafkaBrokers() })
    try {
      for (const codec of CODECS) {
        const topic = `kfs-undecodable-${codec}-${randomUUID().slice(0, 8)}`
        await setup.createTopic(topic, 1)
        await produceWithJava(kafkaBrokers(), topic, 'none', batch('before', 5))
        await produceWithJava(kafkaBrokers(), topic, codec, batch(codec, 20))
        await produceWithJava(kafkaBrokers(), topic, 'none', batch('after', 5))
        topics.set(codec, topic)
      }
    } finally {
      await setup.close()
    }
  })

  for (const codec of CODECS) {
    for (const [client, makeLog] of clients) {
      void test(`${client}, ${codec}: nothing at or after it is handed over; one clear non-retriable error names topic, partition, offset and codec`, async (t) => {
        const topic = topics.get(codec)!
        const seen: LogRecord[] = []
        const crashes: unknown[] = []
        const calls = await failingCodec(client, codec, async () => {
          const log = makeLog()
          try {
            let crashed: () => void = () => undefined
            const stopped = new Promise<void>((resolve) => (crashed = resolve))
            const consumer = log.consumer({
              groupId: `g-${randomUUID()}`,
              topics: [topic],
              onCrash: (err) => {
                crashes.push(err)
                crashed()
              },
            })
            await consumer.run({ eachBatch: async (b) => void seen.push(...b.records) })
            await stopped
          } finally {
            await log.close()
          }
        })
        // One Fetch answer may hold the plain records and the batch: they are lost with it, and read again on restart.
        const read = seen.map((r) => `${r.offset}:${Buffer.from(r.value!).toString()}`)
        assert.deepEqual(
          read,
          batch('before', 5)
            .slice(0, read.length)
            .map((r, i) => `${i}:${r.value}`),
          'a prefix of the records before the batch, none at or after it',
        )
        assert.equal(crashes.length, 1)
        const err = crashes[0]
        assert.ok(err instanceof FeatureStoreError, String(err))
        assert.equal(err.code, 'SOURCE_REJECTED')
        assert.equal(err.retriable, false)
        for (const named of [`${topic}/0`, `${codec}-compressed`, INJECTED])
          assert.ok(err.message.includes(named), `'${named}' in: ${err.message}`)
        assert.match(err.message, /offsets? 5\b/, 'the offset of the batch (the first after the 5 plain records)')
        assert.equal(err.context?.codec, codec)
        t.diagnostic(err.message)
        assert.equal(calls, client === 'kafkajs' ? 1 : 2, 'decompressions of the batch: no retries of the same bytes')
      })
    }
  }
})
