/**
 * On real Kafka, with each client (kafkajs, @platformatic/kafka): records deleted past the engine's
 * position while it runs behind (docs/semantics.md §17). The consumer is paused — a slow engine —
 * while more records arrive and DeleteRecords (what retention does) removes records it has not
 * read; resumed, its fetch is out of range and the client restarts the partition. The engine must
 * read exactly the records left (never restart at the log's end), count the deleted ones once
 * (a restart counts nothing again), and checkpoint the rows a reference computes over the records
 * it read. Before, kafkajs read on past the gap without counting it and @platformatic/kafka's
 * consumer crashed.
 */
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { Kafka, logLevel } from 'kafkajs'
import { systemClock } from '../../../core/clock.ts'
import { silentLogger } from '../../../core/logger.ts'
import { purchases as examplePurchases, user } from '../../../examples/features.ts'
import { featureView, source } from '../../../features/index.ts'
import { createDeadLetterTopicSink } from '../../../engine/dead-letter-topic.ts'
import { createLiveEngine, type LiveEngine } from '../../../engine/live-engine.ts'
import { KafkaEventLog } from '../../../adapters/event-log/kafka/index.ts'
import { PlatformaticEventLog } from '../../../adapters/event-log/platformatic/index.ts'
import type { EventLog, LogConsumer } from '../../../ports/event-log.ts'
import type { TransactionalEventLog } from '../../../ports/event-log-transaction.ts'
import { createDecoder } from '../../../schemas/decoder.ts'
import { createEncoder } from '../../../schemas/encoder.ts'
import { EmbeddedSchemaRegistry } from '../../../adapters/schema-registry/embedded/embedded-schema-registry.ts'
import { EmbeddedOnlineStore } from '../../../adapters/online-store/embedded/embedded-online-store.ts'
import { readFeatureRowsByEntity } from '../../../adapters/offline/iceberg/feature-rows.ts'
import { IcebergOfflineSink } from '../../../adapters/offline/iceberg/offline-sink.ts'
import { LocalObjectStore } from '../../../adapters/object-store/index.ts'
import { kafkaBrokers } from '../kafka/kafka-env.ts'
import { newRunId } from '../../support/stack-env.ts'
import { assertSameRows, expectedRowsByEntity, generatePurchases, produceEvents, waitFor } from '../../support/scenario.ts'

const clients: [string, () => TransactionalEventLog][] = [
  ['kafkajs', () => new KafkaEventLog({ brokers: kafkaBrokers(), heartbeatIntervalMs: 500 })],
  ['platformatic', () => new PlatformaticEventLog({ brokers: kafkaBrokers(), heartbeatIntervalMs: 500 })],
]

/** The log, with a hold on the consumers it makes (to pause them: an engine running behind). */
function holding(log: EventLog): { log: EventLog; consumers: LogConsumer[] } {
  const consumers: LogConsumer[] = []
  const wrapped = new Proxy(log, {
    get(target, name, receiver) {
      if (name === 'consumer')
        return (options: Parameters<EventLog['consumer']>[0]) => {
          const consumer = log.consumer(options)
          consumers.push(consumer)
          return consumer
        }
      const value: unknown = Reflect.get(target, name, receiver)
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value
    },
  })
  return { log: wrapped, consumers }
}

for (const [client, makeLog] of clients) {
  void test(`${client} > records deleted past a running engine's position: it reads exactly the records left and counts the deleted once`, async () => {
    const run = `${newRunId()}-${client}`
    const purchases = source({
      name: `purchases_${run.replaceAll('-', '_')}`,
      topic: `purchases-mid-run-${run}`,
      schema: examplePurchases.schema,
      eventTimeField: 'ts',
      keyedBy: user,
      partitions: 4,
      description: 'Completed checkouts (this test run)',
    })
    const view = featureView({
      name: `user_purchases_${run.replaceAll('-', '_')}`,
      version: 1,
      entity: user,
      source: purchases,
      aggregations: [
        { op: 'sum', field: 'amount', windows: ['1h', '7d'] },
        { op: 'count', windows: ['1h', 'lifetime'] },
        { op: 'last', field: 'item_id', windows: ['1d'] },
      ],
      ttl: '30d',
      freshnessSla: '1m',
      owner: 'risk@shop.example',
      description: 'Spend per user (this test run)',
    })
    const dir = await mkdtemp(join(tmpdir(), 'kfs-it-mid-run-'))
    const log = makeLog()
    const admin = new Kafka({ clientId: `kfs-it-mid-run-${run}`, brokers: kafkaBrokers(), logLevel: logLevel.NOTHING }).admin()
    await admin.connect()
    try {
      const registry = new EmbeddedSchemaRegistry({ dir: join(dir, 'schemas') })
      const store = new LocalObjectStore(join(dir, 'warehouse'))
      const encoder = await createEncoder({ registry, subject: `${purchases.topic}-value`, schema: purchases.schema })
      const engineOn = (on: EventLog): LiveEngine =>
        createLiveEngine({
          log: on,
          stateStore: store,
          offline: new IcebergOfflineSink(store),
          online: new EmbeddedOnlineStore(),
          deadLetters: createDeadLetterTopicSink(log, `kfs-dead-letters-${run}`),
          decoderFor: (s) => createDecoder({ registry, readerSchema: s.schema }),
          views: [view],
          groupId: `kfs-it-mid-run-${run}`,
          clock: systemClock,
          logger: silentLogger,
          checkpointIntervalMs: 500,
          tickMs: 50,
        })
      await log.createTopic(purchases.topic, purchases.partitions)
      const events = generatePurchases({ count: 2_400, users: 60, seed: 29 })
      const early = await produceEvents(log, purchases.topic, encoder, events.slice(0, 800))
      const held = holding(log)
      const engine = engineOn(held.log)
      await engine.start()
      await waitFor(() => engine.stats.consumed >= early.length, 'the first records read')
      const reached = (await engine.positions()) as Record<string, string>
      const at = (p: number) => Number(reached[`${purchases.topic}/${p}`] ?? '0')

      // Behind: the consumer stops fetching while records arrive and retention deletes past its position.
      const partitions = Array.from({ length: purchases.partitions }, (_, partition) => ({ topic: purchases.topic, partition }))
      for (const consumer of held.consumers) consumer.pause(partitions)
      const late = await produceEvents(log, purchases.topic, encoder, events.slice(800))
      const ends = (await log.endOffsets(purchases.topic)).map(Number)
      const cut = ends.map((end, p) => Math.min(end, at(p) + 150))
      await admin.fetchTopicMetadata({ topics: [purchases.topic] })
      await admin.deleteTopicRecords({
        topic: purchases.topic,
        partitions: cut.map((offset, partition) => ({ partition, offset: String(offset) })),
      })
      await waitFor(
        async () => (await log.startOffsets(purchases.topic)).every((s, p) => Number(s) === cut[p]),
        'the records deleted',
      )
      for (const consumer of held.consumers) consumer.resume(partitions)

      const gone = cut.reduce((n, c, p) => n + c - at(p), 0)
      const left = [...early, ...late].filter((r) => Number(r.offset) < at(r.partition) || Number(r.offset) >= cut[r.partition]!)
      assert.ok(
        gone > 0 && left.length > early.length,
        `a gap and records after it (read to ${JSON.stringify(reached)}, cut at ${cut.join(',')})`,
      )
      await waitFor(async () => {
        const now = await engine.positions()
        return ends.every((end, p) => now[`${purchases.topic}/${p}`] === String(end))
      }, 'every partition read to its end')
      await engine.checkpointAll()
      await engine.stop()
      assert.equal(engine.failure, undefined, String(engine.failure))
      assert.equal(engine.stats.consumed, left.length, 'exactly the records left, each once: no restart at the end')
      assert.deepEqual(engine.stats.deletedBeforeRead, { [purchases.topic]: gone }, 'the deleted records counted once')
      const expected = expectedRowsByEntity([view], purchases, left).get(view.name)!
      assertSameRows(await readFeatureRowsByEntity(store, view), expected, 'offline table')

      // The checkpoints resume past the gap: a restart reads nothing and counts nothing.
      const again = engineOn(log)
      await again.start()
      await waitFor(() => again.isCaughtUp(300), 'the restart caught up')
      await again.stop()
      assert.equal(again.stats.consumed, 0)
      assert.deepEqual(again.stats.deletedBeforeRead, {})
    } finally {
      await admin.deleteTopics({ topics: [purchases.topic] }).catch(() => undefined)
      await admin.disconnect()
      await log.close()
      await rm(dir, { recursive: true, force: true })
    }
  })
}
