/**
 * On real Kafka, an operator resets or deletes the committed offsets of a re-key stage's consumer
 * group between runs (`kafka-consumer-groups.sh --reset-offsets --to-earliest`, `--delete`). Those
 * offsets are the stage's only record of what it forwarded (docs/semantics.md §16): forwarding again
 * from there would put every event in the internal topic twice, and every re-keyed view would count
 * it twice, online and offline. `kfs run` must stop naming the group, forward nothing, and go on
 * exactly once after the offsets are set back.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { Kafka, logLevel } from 'kafkajs'
import { consumedView } from '../../../engine/plan-sources.ts'
import { rekeyGroupId } from '../../../engine/rekey-stage.ts'
import { createEncoder } from '../../../schemas/encoder.ts'
import { ConfluentSchemaRegistry } from '../../../adapters/schema-registry/confluent/confluent-schema-registry.ts'
import { readFeatureRowsByEntity } from '../../../adapters/offline/iceberg/feature-rows.ts'
import {
  assertExactlyOnce,
  generateClicks,
  internalEvents,
  produceClicks,
  readInternalTopic,
  referenceByEntity,
  type Click,
  type SourceRecord,
} from '../../fixtures/features/rekey-clicks.ts'
import { runKfs, startKfs } from '../../support/kfs-process.ts'
import { assertSameRows } from '../../support/scenario.ts'
import { rekeyStackRun } from '../../support/rekey-stack-run.ts'

void test('a re-key group whose offsets were deleted or reset to earliest stops kfs run before it forwards anything; set back, it goes on exactly once', async () => {
  const { base, run, env, groupId, log, store, fixtures, close } = await rekeyStackRun('rekey-reset')
  const { clicks, item, userCategory, itemClicks, userClicks } = fixtures
  const runArgs = ['run', '--group', groupId, '--until-caught-up', '--idle', '1s']
  const kafka = new Kafka({
    clientId: `kfs-it-reset-${run}`,
    brokers: base.KFS_KAFKA_BROKERS!.split(','),
    logLevel: logLevel.NOTHING,
  })
  const admin = kafka.admin()
  await admin.connect()
  try {
    await runKfs(['apply'], env)
    const registry = new ConfluentSchemaRegistry({ url: base.KFS_SCHEMA_REGISTRY_URL! })
    const encoder = await createEncoder({ registry, subject: `${clicks.topic}-value`, schema: clicks.schema })
    await log.createTopic(clicks.topic, clicks.partitions)
    const events = generateClicks({ count: 2_000, users: 100, items: 250, seed: 31, stepMs: 40 })
    const produced: SourceRecord[] = await produceClicks(log, clicks.topic, encoder, events.slice(0, 1_500), { batch: 500 })
    await runKfs(runArgs, env)

    // The operator's two ways of losing a group's progress: the item stage's group deleted, the
    // user × category stage's reset to the topic's first records.
    const itemGroup = rekeyGroupId(groupId, { source: clicks, entity: item })
    const categoryGroup = rekeyGroupId(groupId, { source: clicks, entity: userCategory })
    const saved = new Map<string, { partition: number; offset: string }[]>()
    for (const g of [itemGroup, categoryGroup]) {
      const [offsets] = await admin.fetchOffsets({ groupId: g, topics: [clicks.topic] })
      assert.ok(
        offsets!.partitions.every((p) => Number(p.offset) > 0),
        `${g} committed its progress: ${JSON.stringify(offsets)}`,
      )
      saved.set(g, offsets!.partitions)
    }
    await admin.deleteGroups([itemGroup])
    await admin.resetOffsets({ groupId: categoryGroup, topic: clicks.topic, earliest: true })
    produced.push(...(await produceClicks(log, clicks.topic, encoder, events.slice(1_500), { batch: 500 })))

    const refused = await startKfs(runArgs, env).done
    assert.notEqual(refused.code, 0, 'kfs run must not forward again what its re-key stage already forwarded')
    assert.match(refused.stderr + refused.stdout, /committed offset/)
    assert.match(
      refused.stderr + refused.stdout,
      new RegExp(`${itemGroup.replace(/\./g, '\\.')}|${categoryGroup.replace(/\./g, '\\.')}`),
    )

    // Set back as a transaction's offsets (TxnOffsetCommit, no group membership): kafkajs's
    // admin.setOffsets joins the group with a consumer and commits on its first fetch, which under
    // load left a group with no offsets at all.
    for (const [g, partitions] of saved) {
      const txn = await log.transaction(`kfs-it-set-back-${run}`)
      await txn.sendOffsets(
        g,
        partitions.map((p) => ({ topic: clicks.topic, ...p })),
      )
      await txn.commit()
      // Visible once the commit's markers are written, after EndTxn returns.
      const want = partitions.map((p) => p.offset)
      let back: (string | undefined)[] = []
      for (let asks = 0; asks < 500; asks++) {
        back = await log.committedOffsets(g, clicks.topic)
        if (partitions.every((p, i) => back[p.partition] === want[i])) break
        await new Promise((r) => setTimeout(r, 20))
      }
      assert.deepEqual(
        partitions.map((p) => back[p.partition]),
        want,
        `${g} set back`,
      )
    }
    await runKfs(runArgs, env)

    const decodable = produced.filter((r) => r.event !== undefined)
    const keyable = decodable.filter((r) => r.event!.item_id !== '')
    const itemInternal = await readInternalTopic(log, `kfs.${clicks.topic}.by-item`, `check-item-${run}`, keyable.length)
    assertExactlyOnce(itemInternal, keyable, (c: Click) => c.item_id, 'item topic')
    const categoryInternal = await readInternalTopic(
      log,
      `kfs.${clicks.topic}.by-user_category`,
      `check-category-${run}`,
      decodable.length,
    )
    assertExactlyOnce(categoryInternal, decodable, (c: Click) => `${c.user_id}\u001f${c.category}`, 'user_category topic')
    const items = consumedView(itemClicks)
    const expected = referenceByEntity([items], items.source, internalEvents(itemInternal, produced))
    assertSameRows(await readFeatureRowsByEntity(store, items), expected.get(items.name)!, 'item view')
    const direct = referenceByEntity(
      [userClicks],
      clicks,
      decodable.map((r) => ({ ...r, event: r.event! })),
    )
    assertSameRows(await readFeatureRowsByEntity(store, userClicks), direct.get(userClicks.name)!, 'user view')
  } finally {
    await admin.disconnect()
    await close()
  }
})
