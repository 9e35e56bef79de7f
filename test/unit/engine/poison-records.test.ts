/**
 * Poison records through live consumption, a restart, replay and re-keying (embedded log): a
 * valid record dated 2100, the same with an unkeyable user, a payload naming schema id ≥ 2^31 (the
 * wire format's id is unsigned), an undecodable payload. Each is dead-lettered with its reason;
 * none moves a watermark into the future, stalls a checkpoint or touches a good key: the direct
 * view's offline rows equal the reference model over the good records, the archive holds every
 * offset (poison included, with its unsigned schema id), replay reproduces the live rows, and the
 * re-keyed views never see the far future either.
 */
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { systemClock } from '../../../core/clock.ts'
import { silentLogger } from '../../../core/logger.ts'
import { createDeadLetterTopicSink, DEAD_LETTER_HEADERS } from '../../../engine/dead-letter-topic.ts'
import { createLiveEngine } from '../../../engine/live-engine.ts'
import { consumedView } from '../../../engine/plan-sources.ts'
import { EmbeddedEventLog } from '../../../adapters/event-log/embedded/index.ts'
import { verifyParity } from '../../../replay/verify-parity.ts'
import { createDecoder } from '../../../schemas/decoder.ts'
import { createEncoder } from '../../../schemas/encoder.ts'
import { EmbeddedSchemaRegistry } from '../../../adapters/schema-registry/embedded/embedded-schema-registry.ts'
import { EmbeddedOnlineStore } from '../../../adapters/online-store/embedded/embedded-online-store.ts'
import { readFeatureRowsByEntity } from '../../../adapters/offline/iceberg/feature-rows.ts'
import { IcebergOfflineSink } from '../../../adapters/offline/iceberg/offline-sink.ts'
import { LocalObjectStore, MemoryObjectStore } from '../../../adapters/object-store/index.ts'
import { runReference, type ReferenceRecord } from '../../reference/reference-model.ts'
import { clicks, itemClicks, userClicks } from '../../fixtures/features/rekey-scoped.ts'
import { generateClicks, type Click } from '../../fixtures/features/rekey-clicks.ts'
import { assertSameRows, waitFor } from '../../support/scenario.ts'

const FAR_FUTURE = Date.UTC(2100, 0, 1)
const HUGE_SCHEMA_ID = 0x80000005

interface Produced {
  readonly partition: number
  readonly offset: string
  readonly timestampMs: number
  readonly event: Click | undefined
  readonly poison: string | undefined
}

void test('poison records: dead-lettered with their reason, never a future watermark, good keys untouched, live = replay, re-keyed views too', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'kfs-poison-'))
  const log = new EmbeddedEventLog({ dir: join(dir, 'log'), fsync: 'never' })
  try {
    const registry = new EmbeddedSchemaRegistry({ dir: join(dir, 'schemas') })
    const store = new LocalObjectStore(join(dir, 'warehouse'))
    const offline = new IcebergOfflineSink(store)
    await log.createTopic(clicks.topic, clicks.partitions)
    const encoder = await createEncoder({ registry, subject: `${clicks.topic}-value`, schema: clicks.schema })
    const hugeId = new Uint8Array([0x00, 0x80, 0x00, 0x00, 0x05, 0x02, 0x00])
    const events = generateClicks({ count: 3_000, users: 30, items: 60, seed: 5 }).map((c) => ({ ...c, item_id: c.item_id === '' ? 'i0' : c.item_id }))

    const produced: Produced[] = []
    const produce = async (chunk: readonly Click[]) => {
      const records: { key: string; value: Uint8Array; event: Click | undefined; poison: string | undefined }[] = []
      chunk.forEach((c, i) => {
        records.push({ key: c.user_id, value: encoder.encode(c), event: c, poison: undefined })
        if (i % 250 === 100) records.push({ key: c.user_id, value: encoder.encode({ ...c, ts: FAR_FUTURE }), event: { ...c, ts: FAR_FUTURE }, poison: 'future_event_time' })
        if (i % 250 === 150) records.push({ key: c.user_id, value: encoder.encode({ ...c, user_id: '', ts: FAR_FUTURE }), event: undefined, poison: 'future_event_time' })
        if (i % 250 === 200) records.push({ key: c.user_id, value: hugeId, event: undefined, poison: 'unknown_schema' })
      })
      const acks = await log.produce(clicks.topic, records.map(({ key, value }) => ({ key, value })))
      const timestamps = await timestampsOf(log, acks)
      acks.forEach((ack, i) => produced.push({ partition: ack.partition, offset: ack.offset, timestampMs: timestamps[i]!, event: records[i]!.event, poison: records[i]!.poison }))
    }

    const makeEngine = () =>
      createLiveEngine({
        log,
        stateStore: store,
        offline,
        online: new EmbeddedOnlineStore(),
        deadLetters: createDeadLetterTopicSink(log, 'kfs.dead-letters'),
        deadLetterTopic: 'kfs.dead-letters',
        decoderFor: (s) => createDecoder({ registry, readerSchema: s.schema }),
        views: [userClicks, itemClicks],
        groupId: 'kfs-engine',
        clock: systemClock,
        logger: silentLogger,
        checkpointMaxRecords: 500,
        checkpointIntervalMs: 200,
        tickMs: 50,
      })

    await produce(events.slice(0, 1_500))
    const first = makeEngine()
    await first.start()
    await waitFor(() => first.isCaughtUp(300), 'first half')
    await first.stop()
    assert.equal(first.failure, undefined, 'no checkpoint failed')

    await produce(events.slice(1_500))
    const second = makeEngine()
    await second.start()
    await waitFor(() => second.isCaughtUp(300), 'second half')
    const horizon = Date.now() + 3_600_000
    for (const [partition, wm] of Object.entries(await second.watermarks())) assert.ok(wm < horizon, `watermark of ${partition} stays out of the far future: ${wm}`)
    await second.stop()
    assert.equal(second.failure, undefined, 'no checkpoint failed')

    // Direct view: exactly the reference over every decodable record, the rule applied by the oracle.
    const records: ReferenceRecord[] = produced
      .filter((p) => p.event !== undefined)
      .sort((a, b) => a.partition - b.partition || Number(BigInt(a.offset) - BigInt(b.offset)))
      .map((p) => ({ partition: p.partition, offset: p.offset, eventTimeMs: p.event!.ts, event: p.event as unknown as Record<string, unknown>, ingestionTimeMs: p.timestampMs }))
    const reference = runReference({ views: [userClicks], source: clicks, records })
    const expected = new Map<string, (typeof reference.views)[0]['partitions'] extends Map<number, infer R> ? R : never>()
    for (const rows of reference.views[0]!.partitions.values()) for (const row of rows) expected.set(row.entityKey, [...(expected.get(row.entityKey) ?? []), row])
    assertSameRows(await readFeatureRowsByEntity(store, userClicks), expected, 'user view')
    const futureLetters = reference.deadLetters.filter((d) => d.reason === 'future_event_time').length
    assert.equal(futureLetters, produced.filter((p) => p.poison === 'future_event_time' && p.event !== undefined).length, 'the oracle refuses the far future too')

    // Archive: every offset, poison included; the unsigned schema id kept exactly.
    for (let p = 0; p < clicks.partitions; p++) {
      const archived = []
      for await (const row of offline.readArchive(clicks.topic, p)) if (row.markerWatermarkMs === null) archived.push(row)
      const want = produced.filter((r) => r.partition === p)
      assert.deepEqual(
        archived.map((r) => r.offset),
        want.map((r) => r.offset),
        `archive of partition ${p}`,
      )
      for (const [i, r] of want.entries()) if (r.poison === 'unknown_schema') assert.equal(archived[i]!.schemaId, HUGE_SCHEMA_ID)
      assert.ok(archived.every((r, i) => r.timestampMs === want[i]!.timestampMs), 'ingestion time archived')
    }

    // Dead letters: each poison record of the source, with its reason, for the direct view.
    const letters = await readDeadLetters(log)
    const fromSource = (reason: string) => new Set(letters.filter((l) => l.topic === clicks.topic && l.reason === reason).map((l) => `${l.partition}/${l.offset}`))
    for (const reason of ['future_event_time', 'unknown_schema']) {
      const got = fromSource(reason)
      for (const p of produced.filter((r) => r.poison === reason)) assert.ok(got.has(`${p.partition}/${p.offset}`), `${reason} dead letter for ${p.partition}/${p.offset}`)
    }
    // Re-keyed: the stage forwards or refuses the future records, the item view refuses them; no row of any table is in the far future.
    assert.ok(letters.some((l) => l.reason === 'future_event_time' && l.topic !== clicks.topic) || fromSource('future_event_time').size > 0)
    const item = consumedView(itemClicks)
    const itemRows = [...(await readFeatureRowsByEntity(store, item)).values()].flat()
    assert.ok(itemRows.length > 0)
    assert.ok(
      itemRows.every((r) => r.asOfMs < horizon),
      'no re-keyed row in the far future',
    )

    for (const view of [userClicks, item]) {
      const parity = await verifyParity({
        offline,
        decoder: createDecoder({ registry, readerSchema: clicks.schema }),
        view,
        groupId: 'kfs-engine',
        scratch: new MemoryObjectStore(),
      })
      assert.equal(parity.ok, true, `${view.name}: ${JSON.stringify(parity.differences.slice(0, 2))}`)
    }
  } finally {
    await log.close()
    await rm(dir, { recursive: true, force: true })
  }
})

async function timestampsOf(log: EmbeddedEventLog, acks: readonly { partition: number; offset: string }[]): Promise<number[]> {
  const wanted = new Map(acks.map((a, i) => [`${a.partition}/${a.offset}`, i]))
  const out = new Array<number>(acks.length)
  let found = 0
  const consumer = log.consumer({ groupId: `ts-${Math.random()}`, topics: [clicks.topic], fromBeginning: true })
  await consumer.run({
    eachBatch: async (batch) => {
      for (const r of batch.records) {
        const i = wanted.get(`${r.partition}/${r.offset}`)
        if (i !== undefined && out[i] === undefined) {
          out[i] = r.timestampMs
          found++
        }
      }
    },
  })
  await waitFor(() => found >= acks.length, 'timestamps read')
  await consumer.stop()
  return out
}

async function readDeadLetters(log: EmbeddedEventLog): Promise<{ topic: string; partition: string; offset: string; reason: string }[]> {
  const out: { topic: string; partition: string; offset: string; reason: string }[] = []
  const end = (await log.endOffsets('kfs.dead-letters')).reduce((n, o) => n + Number(o), 0)
  const consumer = log.consumer({ groupId: 'check-dead-letters', topics: ['kfs.dead-letters'], fromBeginning: true })
  await consumer.run({
    eachBatch: async (batch) => {
      for (const r of batch.records) {
        const h = r.headers
        out.push({ topic: h[DEAD_LETTER_HEADERS.topic] ?? '', partition: h[DEAD_LETTER_HEADERS.partition] ?? '', offset: h[DEAD_LETTER_HEADERS.offset] ?? '', reason: h[DEAD_LETTER_HEADERS.reason] ?? '' })
      }
    },
  })
  await waitFor(() => out.length >= end, 'dead letters read')
  await consumer.stop()
  return out
}
