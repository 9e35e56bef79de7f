/**
 * Issue #8 acceptance on the real stack (Kafka, schema registry, Redis, MinIO): a clicks topic
 * keyed by user with 4 partitions feeds a user view and item views (and a user × category view).
 * The `kfs run` process is SIGKILLed twice while it re-keys; afterwards every keyable source record
 * is in the internal topic exactly once (origin headers, read-committed), the item views' offline
 * rows equal the reference model run over the internal topic per partition in offset order, the
 * user view's equal it over the source, and verify-parity passes for the item view.
 */
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { consumedView } from '../../../engine/plan-sources.ts'
import { KafkaEventLog } from '../../../adapters/event-log/kafka/index.ts'
import { verifyParity } from '../../../replay/verify-parity.ts'
import { createDecoder } from '../../../schemas/decoder.ts'
import { createEncoder } from '../../../schemas/encoder.ts'
import { ConfluentSchemaRegistry } from '../../../adapters/schema-registry/confluent/confluent-schema-registry.ts'
import { readFeatureRowsByEntity } from '../../../adapters/offline/iceberg/feature-rows.ts'
import { IcebergOfflineSink } from '../../../adapters/offline/iceberg/offline-sink.ts'
import { MemoryObjectStore } from '../../../adapters/object-store/index.ts'
import { stackObjectStore } from '../../support/stack-store.ts'
import { assertExactlyOnce, generateClicks, internalEvents, produceClicks, readInternalTopic, referenceByEntity, type Click, type SourceRecord } from '../../fixtures/features/rekey-clicks.ts'
import { runKfs, startKfs } from '../../support/kfs-process.ts'
import { assertSameRows, prng } from '../../support/scenario.ts'
import { newRunId, stackEnv } from '../../support/stack-env.ts'

const EVENTS = Number(process.env.KFS_TEST_REKEY_EVENTS ?? 60_000)

void test(`re-keying on Kafka survives 2 SIGKILLs: ${EVENTS} clicks, exactly once, item rows equal the reference`, async () => {
  const base = stackEnv()
  const run = newRunId()
  process.env.KFS_TEST_RUN = run
  const { clicks, itemClicks, itemDwell, userCategoryClicks, userClicks } = await import('../../fixtures/features/rekey-scoped.ts')
  const dataDir = await mkdtemp(join(tmpdir(), 'kfs-rekey-it-'))
  const env = {
    ...base,
    KFS_TEST_RUN: run,
    KFS_FEATURES: 'test/fixtures/features/rekey-scoped.ts',
    KFS_S3_PREFIX: `it/${run}`,
    KFS_DATA_DIR: dataDir,
    KFS_CHECKPOINT_INTERVAL_MS: '1000',
    KFS_CHECKPOINT_MAX_RECORDS: '10000',
  }
  const groupId = `kfs-${run}`
  const runArgs = ['run', '--group', groupId]
  const log = new KafkaEventLog({ brokers: base.KFS_KAFKA_BROKERS!.split(',') })
  const store = stackObjectStore(base, `it/${run}`)
  try {
    await runKfs(['apply'], env)
    const registry = new ConfluentSchemaRegistry({ url: base.KFS_SCHEMA_REGISTRY_URL! })
    const encoder = await createEncoder({ registry, subject: `${clicks.topic}-value`, schema: clicks.schema })
    await log.createTopic(clicks.topic, 4)
    // 20 ms apart on average (~20 min of event time): the re-key stage keeps the source partitions
    // it owns within (5 s + 1 m) / 2 of event time of each other, so each of its transactions
    // forwards about that much event time per partition; a sparser backlog takes many more.
    const events = generateClicks({ count: EVENTS, users: 800, items: 3_000, seed: 21, stepMs: 40 })
    const produced: SourceRecord[] = []
    const half = Math.floor(EVENTS / 2)
    produced.push(...(await produceClicks(log, clicks.topic, encoder, events.slice(0, half), { batch: 2_000 })))

    const rand = prng(9)
    for (let i = 0; i < 2; i++) {
      const engine = startKfs(runArgs, env)
      // Long enough to be past start-up and inside the re-keying, short enough to interrupt it.
      await new Promise((r) => setTimeout(r, 5_000 + Math.floor(rand() * 3_000)))
      assert.equal(engine.child.exitCode, null, 'the engine was still running when killed')
      engine.child.kill('SIGKILL')
      const result = await engine.done
      assert.equal(result.signal, 'SIGKILL', `engine run ${i} ended badly:\n${result.stderr.slice(-2000)}`)
      if (i === 0) produced.push(...(await produceClicks(log, clicks.topic, encoder, events.slice(half), { batch: 2_000 })))
    }
    await runKfs([...runArgs, '--until-caught-up'], env)

    assert.equal(new Set(produced.map((p) => p.partition)).size, 4, 'clicks spread over 4 partitions')
    const decodable = produced.filter((r) => r.event !== undefined)
    const keyable = decodable.filter((r) => r.event!.item_id !== '')
    const itemTopic = `kfs.${clicks.topic}.by-item`
    const itemInternal = await readInternalTopic(log, itemTopic, `check-item-${run}`, keyable.length)
    assertExactlyOnce(itemInternal, keyable, (c: Click) => c.item_id, 'item topic')
    assert.equal(new Set(itemInternal.map((r) => r.partition)).size, 4, 'the item topic has the source partition count')
    const compositeInternal = await readInternalTopic(log, `kfs.${clicks.topic}.by-user_category`, `check-composite-${run}`, decodable.length)
    assertExactlyOnce(compositeInternal, decodable, (c: Click) => `${c.user_id}\u001f${c.category}`, 'user_category topic')

    const direct = referenceByEntity([userClicks], clicks, decodable.map((r) => ({ ...r, event: r.event! })))
    assertSameRows(await readFeatureRowsByEntity(store, userClicks), direct.get(userClicks.name)!, 'user view')
    const items = [consumedView(itemClicks), consumedView(itemDwell)]
    const expected = referenceByEntity(items, items[0]!.source, internalEvents(itemInternal, produced))
    for (const v of items) assertSameRows(await readFeatureRowsByEntity(store, v), expected.get(v.name)!, v.name)
    const composite = consumedView(userCategoryClicks)
    const compositeExpected = referenceByEntity([composite], composite.source, internalEvents(compositeInternal, produced))
    assertSameRows(await readFeatureRowsByEntity(store, composite), compositeExpected.get(composite.name)!, 'user × category view')

    const parity = await verifyParity({
      offline: new IcebergOfflineSink(store),
      decoder: createDecoder({ registry, readerSchema: clicks.schema }),
      view: consumedView(itemClicks),
      groupId,
      scratch: new MemoryObjectStore(),
    })
    assert.equal(parity.ok, true, JSON.stringify(parity.differences.slice(0, 2)))
    assert.equal(parity.liveRows, [...expected.get(itemClicks.name)!.values()].reduce((n, rows) => n + rows.length, 0))
  } finally {
    await log.close()
    store.close()
    await rm(dataDir, { recursive: true, force: true })
  }
})
