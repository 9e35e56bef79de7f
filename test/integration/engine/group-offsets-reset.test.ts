/**
 * On real Kafka, an operator resets the live group's committed offsets to the topic's first records,
 * then deletes the group, between runs (`kafka-consumer-groups.sh --reset-offsets --to-earliest`,
 * `--delete`). The engine resumes each partition from its checkpoint, not from the group's offsets
 * (docs/semantics.md §10–§11), so each event is still counted once: the rows online and offline
 * equal the reference model over every record, whichever Kafka client each run uses.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { Kafka, logLevel } from 'kafkajs'
import { createEngineScenario } from '../../support/engine-scenario.ts'
import { runKfs } from '../../support/kfs-process.ts'
import { generatePurchases, type ProducedRecord } from '../../support/scenario.ts'

void test("the live group's offsets reset to earliest, then the group deleted, between runs: every event counted once", async () => {
  const scenario = await createEngineScenario()
  const { source, env } = scenario
  const admin = new Kafka({
    clientId: `kfs-it-reset-${scenario.run}`,
    brokers: env.KFS_KAFKA_BROKERS!.split(','),
    logLevel: logLevel.NOTHING,
  }).admin()
  await admin.connect()
  try {
    const groupId = scenario.runArgs.at(-1)!
    const runArgs = [...scenario.runArgs, '--until-caught-up', '--idle', '1s']
    const events = generatePurchases({ count: 2_000, users: 60, seed: 53 })
    const produced: ProducedRecord[] = []
    produced.push(...(await scenario.produce(events.slice(0, 800))))
    await runKfs(runArgs, env)

    const earliest = [...Array(source.partitions).keys()].map((partition) => ({ partition, offset: '0' }))
    await admin.setOffsets({ groupId, topic: source.topic, partitions: earliest })
    const [reset] = await admin.fetchOffsets({ groupId, topics: [source.topic] })
    assert.deepEqual(
      reset!.partitions.map((p) => p.offset),
      earliest.map(() => '0'),
      'the group points at the first records',
    )
    produced.push(...(await scenario.produce(events.slice(800, 1_500))))
    await runKfs(runArgs, { ...env, KFS_KAFKA_CLIENT: 'platformatic' })

    await admin.deleteGroups([groupId])
    produced.push(...(await scenario.produce(events.slice(1_500))))
    await runKfs(runArgs, env)

    await scenario.assertMatchesReference(produced)
  } finally {
    await admin.disconnect()
    await scenario.close()
  }
})
