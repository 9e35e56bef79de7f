/**
 * On real Kafka, partitions added between runs to the topics of re-keyed views (docs/semantics.md
 * §10): an operator grows a re-key internal topic, then the source topic a stage reads. Each
 * `kfs run` after a growth must exit 1 naming the grown topic and both counts before it forwards,
 * archives or checkpoints anything: the internal topics, the stages' committed offsets and the
 * offline rows stay as the last good run left them, though new records wait in the source.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { Kafka, logLevel } from 'kafkajs'
import { rekeyGroupId } from '../../../engine/rekey-stage.ts'
import { createEncoder } from '../../../schemas/encoder.ts'
import { ConfluentSchemaRegistry } from '../../../adapters/schema-registry/confluent/confluent-schema-registry.ts'
import { readFeatureRowsByEntity } from '../../../adapters/offline/iceberg/feature-rows.ts'
import { generateClicks, produceClicks } from '../../fixtures/features/rekey-clicks.ts'
import { runKfs, startKfs } from '../../support/kfs-process.ts'
import { rekeyStackRun } from '../../support/rekey-stack-run.ts'

void test('partitions added between runs to a re-key internal topic, then to its source: each run exits 1 naming the topic and both counts, writing nothing', async () => {
  const { base, run, env, groupId, log, store, fixtures, close } = await rekeyStackRun('rekey-grown')
  const { clicks, item, userCategory, itemClicks, userClicks } = fixtures
  const runArgs = ['run', '--group', groupId, '--until-caught-up', '--idle', '1s']
  const admin = new Kafka({
    clientId: `kfs-it-grown-${run}`,
    brokers: base.KFS_KAFKA_BROKERS!.split(','),
    logLevel: logLevel.NOTHING,
  }).admin()
  await admin.connect()
  try {
    await runKfs(['apply'], env)
    const registry = new ConfluentSchemaRegistry({ url: base.KFS_SCHEMA_REGISTRY_URL! })
    const encoder = await createEncoder({ registry, subject: `${clicks.topic}-value`, schema: clicks.schema })
    await log.createTopic(clicks.topic, clicks.partitions)
    const events = generateClicks({ count: 2_000, users: 80, items: 200, seed: 17, stepMs: 40 })
    await produceClicks(log, clicks.topic, encoder, events.slice(0, 1_500), { batch: 500 })
    await runKfs(runArgs, env)

    const itemTopic = `kfs.${clicks.topic}.by-item`
    const categoryTopic = `kfs.${clicks.topic}.by-user_category`
    const stageGroups = [
      rekeyGroupId(groupId, { source: clicks, entity: item }),
      rekeyGroupId(groupId, { source: clicks, entity: userCategory }),
    ]
    const state = async () => ({
      internal: await Promise.all([itemTopic, categoryTopic].map((t) => log.endOffsets(t))),
      committed: await Promise.all(stageGroups.map((g) => log.committedOffsets(g, clicks.topic))),
      rows: await Promise.all(
        [itemClicks, userClicks].map(async (v) =>
          [...(await readFeatureRowsByEntity(store, v)).values()].reduce((n, r) => n + r.length, 0),
        ),
      ),
    })
    const left = await state()
    assert.ok(
      left.rows.every((n) => n > 0),
      'the first run wrote rows',
    )
    await produceClicks(log, clicks.topic, encoder, events.slice(1_500), { batch: 500 })

    const grow = [
      { topic: itemTopic, from: clicks.partitions, to: clicks.partitions + 1 },
      { topic: clicks.topic, from: clicks.partitions, to: clicks.partitions + 2 },
    ]
    for (const { topic, from, to } of grow) {
      await admin.createPartitions({ topicPartitions: [{ topic, count: to }] })
      const refused = await startKfs(runArgs, env).done
      assert.equal(refused.code, 1, `after ${topic} grew: ${refused.stderr.slice(-1500)}`)
      const escaped = topic.replace(/[.]/g, '\\.')
      assert.match(
        refused.stderr,
        new RegExp(`topic ${escaped} has ${to} partitions, but (source \\S+ declares|kfs created it with) ${from}`),
      )
      const now = await state()
      assert.deepEqual(
        { internal: now.internal.map((ends) => ends.slice(0, clicks.partitions)), committed: now.committed, rows: now.rows },
        left,
        `after ${topic} grew: nothing forwarded, committed or written`,
      )
    }
  } finally {
    await admin.disconnect()
    await close()
  }
})
