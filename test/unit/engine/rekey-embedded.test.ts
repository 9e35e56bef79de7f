/**
 * Re-keying on the embedded log (issue #8): the same plan as on Kafka in one process. A clicks
 * topic keyed by user feeds a user view (direct), two item views (one shared re-key stage) and a
 * user × category view (composite key, its own stage). Checked: every record reaches each internal
 * topic exactly once (origin headers), a transaction left open by a "crashed" owner stays
 * invisible, bad records are dead-lettered instead of forwarded, each view's offline rows equal
 * the reference model over the topic it consumes, and verify-parity passes for an item view.
 */
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import { systemClock } from '../../../core/clock.ts'
import { silentLogger } from '../../../core/logger.ts'
import { createDeadLetterTopicSink, DEAD_LETTER_HEADERS } from '../../../engine/dead-letter-topic.ts'
import { createLiveEngine } from '../../../engine/live-engine.ts'
import { consumedView, planRekeys, planSources } from '../../../engine/plan-sources.ts'
import { rekeyGroupId, rekeyRecords, REKEY_HEADERS } from '../../../engine/rekey-stage.ts'
import { EmbeddedEventLog } from '../../../adapters/event-log/embedded/index.ts'
import type { LogRecord } from '../../../ports/event-log.ts'
import { verifyParity } from '../../../replay/verify-parity.ts'
import { createDecoder } from '../../../schemas/decoder.ts'
import { createEncoder } from '../../../schemas/encoder.ts'
import { EmbeddedSchemaRegistry } from '../../../adapters/schema-registry/embedded/embedded-schema-registry.ts'
import { EmbeddedOnlineStore } from '../../../adapters/online-store/embedded/embedded-online-store.ts'
import { readFeatureRowsByEntity } from '../../../adapters/offline/iceberg/feature-rows.ts'
import { IcebergOfflineSink } from '../../../adapters/offline/iceberg/offline-sink.ts'
import { LocalObjectStore, MemoryObjectStore } from '../../../adapters/object-store/index.ts'
import { clicks, itemClicks, itemDwell, userCategoryClicks, userClicks } from '../../fixtures/features/rekey-scoped.ts'
import { assertExactlyOnce, generateClicks, internalEvents, produceClicks, readInternalTopic, referenceByEntity, type Click } from '../../fixtures/features/rekey-clicks.ts'
import { assertSameRows, waitFor } from '../../support/scenario.ts'

const views = [userClicks, itemClicks, itemDwell, userCategoryClicks]
const byItem = (c: Click) => c.item_id
const byUserCategory = (c: Click) => `${c.user_id}\u001f${c.category}`

void describe('re-key plan', () => {
  void test('one stage per (source, entity), shared by the views of that entity; re-keyed views consume the internal topic', () => {
    const rekeys = planRekeys(views)
    assert.deepEqual(
      rekeys.map((r) => [r.topic, r.views.map((v) => v.name)]),
      [
        [`kfs.${clicks.topic}.by-item`, [itemClicks.name, itemDwell.name].sort()],
        [`kfs.${clicks.topic}.by-user_category`, [userCategoryClicks.name]],
      ],
    )
    assert.equal(rekeys[0]!.internalSource.partitions, clicks.partitions)
    assert.equal(planRekeys(views, { prefix: 'x', partitions: 7 })[0]!.internalSource.partitions, 7)
    assert.equal(planRekeys(views, { prefix: 'x' })[0]!.topic, `x.${clicks.topic}.by-item`)
    const sources = planSources(views)
    assert.deepEqual(sources.map((s) => s.topic).sort(), [clicks.topic, `kfs.${clicks.topic}.by-item`, `kfs.${clicks.topic}.by-user_category`].sort())
    assert.equal(consumedView(userClicks), userClicks)
    assert.equal(consumedView(itemClicks).source.keyedBy, 'item')
    assert.equal(consumedView(itemClicks).name, itemClicks.name)
  })

  void test('keys the raw event canonically, forwards the original bytes with their origin, refuses what it cannot key', async () => {
    const [item, composite] = planRekeys(views)
    const value = new Uint8Array([1, 2, 3])
    const record = (offset: string): LogRecord => ({ topic: clicks.topic, partition: 2, offset, key: null, value, timestampMs: 0, headers: { trace: 't1' } })
    const decoded = [
      { ok: true as const, schemaId: 1, event: { user_id: 'u\u00e91', item_id: 'i9', category: 'a\\b', dwell_ms: null, ts: 5 } },
      { ok: true as const, schemaId: 1, event: { user_id: 'u2', item_id: '', category: 'c', dwell_ms: 100, ts: 6 } },
      { ok: false as const, reason: 'undecodable' as const, detail: 'bad bytes' },
    ]
    const records = [record('10'), record('11'), record('12')]
    const byItemOut = rekeyRecords(item!, records, decoded)
    assert.equal(byItemOut.records.length, 1)
    assert.equal(byItemOut.records[0]!.key, 'i9')
    assert.equal(byItemOut.records[0]!.value, value, 'original bytes, not re-encoded')
    assert.deepEqual(byItemOut.records[0]!.headers, { trace: 't1', [REKEY_HEADERS.topic]: clicks.topic, [REKEY_HEADERS.partition]: '2', [REKEY_HEADERS.offset]: '10' })
    assert.deepEqual(byItemOut.deadLetters.map((d) => [d.offset, d.reason]), [['11', 'invalid_key'], ['12', 'undecodable']])
    // Composite keys: parts in join-key order, separated by U+001F, backslashes escaped.
    const compositeOut = rekeyRecords(composite!, records, decoded)
    assert.deepEqual(compositeOut.records.map((r) => r.key), ['u\u00e91\u001fa\\\\b', 'u2\u001fc'])
    assert.deepEqual(compositeOut.deadLetters.map((d) => [d.offset, d.reason, d.view]), [['12', 'undecodable', userCategoryClicks.name]])
  })
})

void test('embedded log: re-keyed views equal the reference over their internal topics, exactly once, across a restart', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'kfs-rekey-'))
  try {
    const log = new EmbeddedEventLog({ dir: join(dir, 'log'), fsync: 'never' })
    const registry = new EmbeddedSchemaRegistry({ dir: join(dir, 'schemas') })
    const store = new LocalObjectStore(join(dir, 'warehouse'))
    const online = new EmbeddedOnlineStore()
    const offline = new IcebergOfflineSink(store)
    const groupId = 'kfs-engine'
    await log.createTopic(clicks.topic, clicks.partitions)
    const encoder = await createEncoder({ registry, subject: `${clicks.topic}-value`, schema: clicks.schema })
    const events = generateClicks({ count: 4_000, users: 50, items: 120, seed: 3 })
    const makeEngine = () =>
      createLiveEngine({
        log,
        stateStore: store,
        offline,
        online,
        deadLetters: createDeadLetterTopicSink(log, 'kfs.dead-letters'),
        deadLetterTopic: 'kfs.dead-letters',
        decoderFor: (s) => createDecoder({ registry, readerSchema: s.schema }),
        views,
        groupId,
        clock: systemClock,
        logger: silentLogger,
        checkpointMaxRecords: 900,
        checkpointIntervalMs: 200,
        tickMs: 50,
      })

    const first = await produceClicks(log, clicks.topic, encoder, events.slice(0, 2_000))
    const engine1 = makeEngine()
    await engine1.start()
    await waitFor(() => engine1.isCaughtUp(300), 'first half re-keyed and consumed')
    await engine1.stop()

    // An owner that died mid-transaction (one transactional id per stage): its records were never committed and must stay invisible.
    const [itemStage] = planRekeys(views)
    const zombie = await log.transaction(rekeyGroupId(groupId, itemStage!))
    await zombie.produce(itemStage!.topic, [{ key: 'i1', value: new Uint8Array([9]), headers: { [REKEY_HEADERS.partition]: '0', [REKEY_HEADERS.offset]: '999999' } }])

    const second = await produceClicks(log, clicks.topic, encoder, events.slice(2_000))
    const engine2 = makeEngine()
    await engine2.start()
    await waitFor(() => engine2.isCaughtUp(300), 'second half re-keyed and consumed')
    await engine2.stop()
    await assert.rejects(zombie.commit(), /fenced/)

    const produced = [...first, ...second]
    const decodable = produced.filter((r) => r.event !== undefined)
    const keyable = decodable.filter((r) => r.event!.item_id !== '')
    assert.ok(keyable.length < decodable.length && decodable.length < produced.length, 'the stream has unkeyable and undecodable records')

    const itemTopic = `kfs.${clicks.topic}.by-item`
    const compositeTopic = `kfs.${clicks.topic}.by-user_category`
    const itemInternal = await readInternalTopic(log, itemTopic, 'check-item', keyable.length, 300)
    assertExactlyOnce(itemInternal, keyable, byItem, 'item topic')
    const compositeInternal = await readInternalTopic(log, compositeTopic, 'check-composite', decodable.length, 300)
    assertExactlyOnce(compositeInternal, decodable, byUserCategory, 'user_category topic')

    // Direct view: reference over the source; re-keyed views: reference over their internal topic.
    const direct = referenceByEntity([userClicks], clicks, decodable.map((r) => ({ ...r, event: r.event! })))
    assertSameRows(await readFeatureRowsByEntity(store, userClicks), direct.get(userClicks.name)!, 'user view')
    const items = [consumedView(itemClicks), consumedView(itemDwell)]
    const itemExpected = referenceByEntity(items, items[0]!.source, internalEvents(itemInternal, produced))
    for (const v of items) assertSameRows(await readFeatureRowsByEntity(store, v), itemExpected.get(v.name)!, v.name)
    const composite = consumedView(userCategoryClicks)
    const compositeExpected = referenceByEntity([composite], composite.source, internalEvents(compositeInternal, produced))
    assertSameRows(await readFeatureRowsByEntity(store, composite), compositeExpected.get(composite.name)!, 'user × category view')
    assert.ok([...compositeExpected.get(composite.name)!.keys()].every((k) => k.includes('\u001f')), 'composite keys')

    // Refused records went to the dead-letter topic, once per stage that refused them.
    const letters = await readDeadLetters(log)
    const fromSource = letters.filter((l) => l.topic === clicks.topic)
    const unkeyable = decodable.length - keyable.length
    assert.equal(fromSource.filter((l) => l.reason === 'invalid_key').length, unkeyable, 'item stage refuses empty item ids')
    const garbage = produced.length - decodable.length
    assert.equal(fromSource.filter((l) => l.reason !== 'invalid_key' && l.reason !== 'late').length, 3 * garbage, 'undecodable: user view, item stage, user × category stage')

    const parity = await verifyParity({
      offline,
      decoder: createDecoder({ registry, readerSchema: clicks.schema }),
      view: consumedView(itemClicks),
      groupId,
      scratch: new MemoryObjectStore(),
    })
    assert.equal(parity.ok, true, JSON.stringify(parity.differences.slice(0, 2)))
    assert.ok(parity.liveRows > 0)
    await log.close()
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
})

async function readDeadLetters(log: EmbeddedEventLog): Promise<{ topic: string; reason: string }[]> {
  const out: { topic: string; reason: string }[] = []
  const end = Number((await log.endOffsets('kfs.dead-letters'))[0])
  const consumer = log.consumer({ groupId: 'check-dead-letters', topics: ['kfs.dead-letters'] })
  await consumer.run({
    eachBatch: async (batch) => {
      for (const r of batch.records) out.push({ topic: r.headers[DEAD_LETTER_HEADERS.topic] ?? '', reason: r.headers[DEAD_LETTER_HEADERS.reason] ?? '' })
    },
  })
  await waitFor(() => out.length >= end, 'dead letters read')
  await consumer.stop()
  return out
}
