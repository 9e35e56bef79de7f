/**
 * The backfill hand-off end to end on the embedded defaults (docs/semantics.md §14): a view added
 * after its topic was archived is backfilled before it goes live (replay/backfill-before-live.ts);
 * the live engine, which meanwhile ran on without it, adopts the backfill's state and catches the
 * view up from the archive to the live position (engine/backfill-hand-off.ts), then runs it live.
 * Its offline table then equals the reference over every event — no gap, no overlap — and
 * verify-parity agrees.
 */
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { systemClock } from '../../../core/clock.ts'
import { silentLogger, type LogFn, type Logger } from '../../../core/logger.ts'
import type { FeatureViewDef } from '../../../features/types.ts'
import { purchases, userBigSpends, userPurchases } from '../../../examples/with-new-view.ts'
import { createDeadLetterTopicSink } from '../../../engine/dead-letter-topic.ts'
import { EmbeddedEventLog } from '../../../adapters/event-log/embedded/index.ts'
import { EmbeddedOnlineStore } from '../../../adapters/online-store/embedded/embedded-online-store.ts'
import { EmbeddedSchemaRegistry } from '../../../adapters/schema-registry/embedded/embedded-schema-registry.ts'
import { IcebergOfflineSink } from '../../../adapters/offline/iceberg/offline-sink.ts'
import { LocalObjectStore, MemoryObjectStore } from '../../../adapters/object-store/index.ts'
import type { BackfillStatus } from '../../../registry/index.ts'
import { settleBackfills, type BackfillRegistry } from '../../../replay/backfill-before-live.ts'
import { verifyParity } from '../../../replay/verify-parity.ts'
import { createDecoder } from '../../../schemas/decoder.ts'
import { createEncoder } from '../../../schemas/encoder.ts'
import { assertSameRows, expectedRowsByEntity, generatePurchases, offlineRowsByEntity, produceEvents, type ProducedRecord } from '../../support/scenario.ts'
import { runLiveUntilConsumed } from '../../support/live-until-consumed.ts'

/** The registry's backfill statuses, in memory. */
function statusRegistry(): BackfillRegistry & { statuses: Map<string, BackfillStatus> } {
  const statuses = new Map<string, BackfillStatus>()
  return {
    statuses,
    getBackfillStatus: async (view, version) => statuses.get(`${view}@${version}`),
    setBackfillStatus: async (view, version, status) => void statuses.set(`${view}@${version}`, { completeThrough: [], ...status } as BackfillStatus),
  }
}

/** A logger that keeps the messages logged at info with their fields. */
function recordingLogger(): Logger & { infos: { msg: string; fields: Record<string, unknown> }[] } {
  const infos: { msg: string; fields: Record<string, unknown> }[] = []
  const info: LogFn = (a: object | string, msg?: string) => void (typeof a === 'string' ? infos.push({ msg: a, fields: {} }) : infos.push({ msg: msg ?? '', fields: a as Record<string, unknown> }))
  const logger: Logger = { ...silentLogger, info, child: () => logger }
  return Object.assign(logger, { infos })
}

void test('backfill hand-off: backfilled, adopted and caught up from the archive, the new view has every row once', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'kfs-hand-off-'))
  try {
    const log = new EmbeddedEventLog({ dir: join(dir, 'log'), fsync: 'never' })
    const schemas = new EmbeddedSchemaRegistry({ dir: join(dir, 'schemas') })
    const store = new LocalObjectStore(join(dir, 'warehouse'))
    const online = new EmbeddedOnlineStore()
    const offline = new IcebergOfflineSink(store)
    const decoderFor = () => createDecoder({ registry: schemas, readerSchema: purchases.schema })
    await log.createTopic(purchases.topic, purchases.partitions)
    const encoder = await createEncoder({ registry: schemas, subject: `${purchases.topic}-value`, schema: purchases.schema })
    const events = generatePurchases({ count: 2_400, users: 40, seed: 21 })
    const produced: ProducedRecord[] = []
    const logger = recordingLogger()

    const parts = { log, stateStore: store, offline, online, decoderFor }
    const runUntilConsumed = (views: readonly FeatureViewDef[], count: number) => runLiveUntilConsumed(parts, views, count, { checkpointMaxRecords: 300, logger })
    const produce = async (from: number, to: number) => {
      const batch = await produceEvents(log, purchases.topic, encoder, events.slice(from, to))
      produced.push(...batch)
      return batch.length
    }

    // 1. Live runs user_purchases only: the archive now holds the first stretch.
    await runUntilConsumed([userPurchases], await produce(0, 800))

    // 2. user_big_spends arrives: settled before it goes live, i.e. backfilled from that archive.
    const registry = statusRegistry()
    const env = { offline, stateStore: store, decoderFor, clock: systemClock, online: async () => online, deadLetters: async () => createDeadLetterTopicSink(log, 'kfs.dead-letters') }
    const progress: string[] = []
    await settleBackfills([userBigSpends], registry, env, 'kfs-engine', silentLogger, (line) => progress.push(line))
    const status = registry.statuses.get('user_big_spends@1')
    assert.equal(status?.state, 'complete')
    const through = status.completeThrough.reduce((n, o) => n + Number(o.offset), 0)
    assert.equal(through, 800, 'complete through every archived record')
    assert.match(progress.at(-1) ?? '', /backfilled user_big_spends v1: 800 records/)
    // Settled once: a second settle leaves a complete view alone.
    await settleBackfills([userBigSpends], registry, env, 'kfs-engine', silentLogger, (line) => progress.push(line))
    assert.equal(progress.length, 2)

    // 3. Live runs on without it: its position moves past the backfill's.
    await runUntilConsumed([userPurchases], await produce(800, 1_600))

    // 4. Both views live: user_big_spends is adopted from its backfill and caught up from the archive.
    await runUntilConsumed([userPurchases, userBigSpends], await produce(1_600, 2_400))
    const handedOver = logger.infos.filter((i) => i.msg === 'backfilled views handed over to live')
    assert.equal(handedOver.length, purchases.partitions, 'every partition handed the view over')
    assert.ok(handedOver.reduce((n, i) => n + Number(i.fields.rows), 0) > 0, 'the catch-up emitted the rows of the stretch live ran without the view')

    const expected = expectedRowsByEntity([userBigSpends], purchases, produced).get(userBigSpends.name)!
    assertSameRows(await offlineRowsByEntity(store, userBigSpends), expected, 'user_big_spends offline table')
    const parity = await verifyParity({
      offline,
      decoder: decoderFor(),
      view: userBigSpends,
      groupId: 'kfs-engine',
      scratch: new MemoryObjectStore(),
    })
    assert.equal(parity.ok, true, JSON.stringify(parity.differences.slice(0, 2)))
    await log.close()
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
})

void test('backfill before live: a view whose topic has no archive is complete at once, live from the start', async () => {
  const registry = statusRegistry()
  const empty = { archiveEnd: async () => ({ snapshotId: null, nextOffsets: {} }) }
  const env = {
    offline: empty as unknown as IcebergOfflineSink,
    stateStore: new MemoryObjectStore(),
    decoderFor: () => assert.fail('nothing to decode'),
    clock: systemClock,
    online: () => assert.fail('no online store needed'),
    deadLetters: () => assert.fail('no dead-letter sink needed'),
  }
  await settleBackfills([userBigSpends], registry, env, 'kfs-engine', silentLogger, () => assert.fail('no progress to report'))
  assert.deepEqual(registry.statuses.get('user_big_spends@1'), { state: 'complete', completeThrough: [], detail: 'no archived history: live from the start' })
})
