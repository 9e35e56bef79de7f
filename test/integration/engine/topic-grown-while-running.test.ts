/**
 * On real Kafka, with each client (kafkajs, @platformatic/kafka): partitions added to a source topic
 * while `kfs run` runs (docs/semantics.md §10). A producer that learnt the new count sends keys to
 * other partitions at once — old ones too — while the clients see the new partitions only at their
 * next metadata refresh (kafkajs: 5 minutes). The engine must stop with exit 1 and the message
 * naming the topic and both counts, and the offline table must hold exactly the rows of the records
 * produced before the growth: no row of one produced after it. Before, the run went on silently —
 * the new partitions unread, and entities whose keys moved to another old partition given a second,
 * partial state (wrong rows offline and online).
 */
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { Kafka, logLevel } from 'kafkajs'
import type { FeatureViewDef, SourceDef } from '../../../features/types.ts'
import { KafkaEventLog } from '../../../adapters/event-log/kafka/index.ts'
import { quietKafkajsNegativeTimeouts } from '../../../adapters/event-log/kafka/negative-timeout-warning.ts'
import { stackObjectStore } from '../../support/stack-store.ts'
import { ConfluentSchemaRegistry } from '../../../adapters/schema-registry/confluent/confluent-schema-registry.ts'
import { readFeatureRowsByEntity } from '../../../adapters/offline/iceberg/feature-rows.ts'
import { createEncoder } from '../../../schemas/encoder.ts'
import { runKfs, startKfs, failureExcerpt } from '../../support/kfs-process.ts'
import {
  assertSameRows,
  expectedRowsByEntity,
  generatePurchases,
  produceEvents,
  waitFor,
  type Purchase,
} from '../../support/scenario.ts'
import { newRunId, stackEnv } from '../../support/stack-env.ts'

const DECLARED = 4
const GROWN = 6
// This test's own kafkajs admin, as kfs's clients do (negative-timeout-warning.ts).
quietKafkajsNegativeTimeouts()

for (const client of ['kafkajs', 'platformatic']) {
  void test(`${client} > partitions added while kfs run runs: it stops with exit 1 naming the topic and both counts; offline holds only rows of records produced before`, async () => {
    const base = stackEnv()
    const run = `${newRunId()}${client.slice(0, 2)}`
    // The fixture names its source and view after KFS_TEST_RUN when it is evaluated: once per run.
    process.env.KFS_TEST_RUN = run
    const fixture = (await import(`../../fixtures/features/run-scoped.ts?run=${run}`)) as {
      purchases: SourceDef
      userPurchases: FeatureViewDef
    }
    const { purchases: source, userPurchases: view } = fixture
    assert.equal(source.partitions, DECLARED)
    const dataDir = await mkdtemp(join(tmpdir(), 'kfs-it-grown-'))
    const env = {
      ...base,
      KFS_TEST_RUN: run,
      KFS_FEATURES: 'test/fixtures/features/run-scoped.ts',
      KFS_S3_PREFIX: `it/${run}`,
      KFS_DATA_DIR: dataDir,
      KFS_KAFKA_CLIENT: client,
      KFS_CHECKPOINT_INTERVAL_MS: '500',
    }
    const brokers = base.KFS_KAFKA_BROKERS!.split(',')
    const admin = new Kafka({ clientId: `kfs-it-grown-${run}`, brokers, logLevel: logLevel.NOTHING }).admin()
    const store = stackObjectStore(base, `it/${run}`)
    await admin.connect()
    try {
      await runKfs(['apply'], env)
      const encoder = await createEncoder({
        registry: new ConfluentSchemaRegistry({ url: base.KFS_SCHEMA_REGISTRY_URL! }),
        subject: `${source.topic}-value`,
        schema: source.schema,
      })
      // Each batch from a producer that asks the topic's count afresh, as `kfs produce` does.
      const produce = async (events: readonly Purchase[]) => {
        const log = new KafkaEventLog({ brokers })
        try {
          return await produceEvents(log, source.topic, encoder, events)
        } finally {
          await log.close()
        }
      }
      await admin.createTopics({ topics: [{ topic: source.topic, numPartitions: DECLARED }], waitForLeaders: true })
      const events = generatePurchases({ count: 2_000, users: 100, seed: 41 })
      const before = await produce(events.slice(0, 1_000))
      const expected = expectedRowsByEntity([view], source, before).get(view.name)!
      const engine = startKfs(['run', '--group', `kfs-${run}`], env)
      try {
        await waitFor(
          async () => {
            const rows = await readFeatureRowsByEntity(store, view).catch(() => new Map())
            return (
              [...rows.values()].reduce((n, r) => n + r.length, 0) === [...expected.values()].reduce((n, r) => n + r.length, 0)
            )
          },
          'the rows of the records before the growth checkpointed',
          30_000,
        )
        await admin.createPartitions({ topicPartitions: [{ topic: source.topic, count: GROWN }] })
        const after = await produce(events.slice(1_000))
        assert.ok(
          after.some((r) => r.partition >= DECLARED),
          'some records went to the new partitions',
        )
        const exit = await Promise.race([
          engine.done,
          new Promise<'running'>((resolve) => setTimeout(() => resolve('running'), 30_000).unref()),
        ])
        assert.notEqual(exit, 'running', 'kfs run should have stopped on the grown topic')
        if (exit === 'running') return
        assert.equal(exit.code, 1, failureExcerpt(exit.stderr))
        assert.match(
          exit.stderr,
          new RegExp(
            `engine failed: topic ${source.topic} has ${GROWN} partitions, but source ${source.name} declares ${DECLARED}: .*partitions were added while kfs ran`,
          ),
        )
      } finally {
        if (engine.child.exitCode === null) engine.child.kill('SIGKILL')
        await engine.done
      }
      assertSameRows(
        await readFeatureRowsByEntity(store, view),
        expected,
        'offline table: the rows of the records before the growth, and no other',
      )
      const again = await startKfs(['run', '--group', `kfs-${run}`, '--until-caught-up'], env).done
      assert.equal(again.code, 1)
      assert.match(
        again.stderr,
        new RegExp(`topic ${source.topic} has ${GROWN} partitions, but source ${source.name} declares ${DECLARED}`),
      )
    } finally {
      await admin.disconnect()
      store.close()
      await rm(dataDir, { recursive: true, force: true })
    }
  })
}
