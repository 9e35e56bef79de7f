/**
 * The audit's oracle for backfills (docs/design.md §4, §8): the rows a live run writes for a view
 * equal the rows a backfill of the same logic over the archive writes — offline (every row of every
 * entity: as_of, values, order) and online (each key's latest row, as_of and values). No reference
 * model: live itself is the oracle, over random streams with windows (hopped and tumbling), events
 * out of order and late past the view's lateness (dead-lettered by both), idle gaps (markers
 * archived by live, replayed by the backfill), and records that do not decode.
 */
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import fc from 'fast-check'
import { systemClock } from '../../../core/clock.ts'
import { silentLogger } from '../../../core/logger.ts'
import { entity, featureView, source } from '../../../features/index.ts'
import type { FeatureRow, FeatureViewDef } from '../../../features/types.ts'
import { createDeadLetterTopicSink } from '../../../engine/dead-letter-topic.ts'
import { createLiveEngine } from '../../../engine/live-engine.ts'
import { EmbeddedEventLog } from '../../../adapters/event-log/embedded/index.ts'
import { EmbeddedOnlineStore } from '../../../adapters/online-store/embedded/embedded-online-store.ts'
import { EmbeddedSchemaRegistry } from '../../../adapters/schema-registry/embedded/embedded-schema-registry.ts'
import { readFeatureRowsByEntity } from '../../../adapters/offline/iceberg/feature-rows.ts'
import { IcebergOfflineSink } from '../../../adapters/offline/iceberg/offline-sink.ts'
import { LocalObjectStore } from '../../../adapters/object-store/index.ts'
import { backfillView } from '../../../replay/backfill.ts'
import { createDecoder } from '../../../schemas/decoder.ts'
import { createEncoder } from '../../../schemas/encoder.ts'
import { waitFor } from '../../support/scenario.ts'

const taps = source({
  name: 'taps',
  topic: 'taps',
  schema: {
    type: 'record',
    name: 'Tap',
    fields: [
      { name: 'user_id', type: 'string' },
      { name: 'ts', type: 'long' },
      { name: 'amount', type: 'double' },
    ],
  },
  eventTimeField: 'ts',
  keyedBy: 'user',
  partitions: 2,
  outOfOrderness: '1s',
  allowedLateness: '1s',
  idleTimeout: '100ms',
})
const user = entity({ name: 'user', joinKeys: ['user_id'] })

/** One logic under two names: the one live runs, and the one added later and backfilled. */
function tapsView(name: string): FeatureViewDef {
  return featureView({
    name,
    version: 1,
    entity: user,
    source: taps,
    aggregations: [
      { op: 'count', windows: ['5s'], hop: '1s' },
      { op: 'sum', field: 'amount', windows: ['10s'] },
      { op: 'max', field: 'amount', windows: ['5s'], hop: '1s' },
      { op: 'last', field: 'amount', windows: ['10s'] },
    ],
    ttl: '3650d',
    freshnessSla: '1m',
    owner: 'audit@kfs',
    description: 'taps, for the live = backfill oracle',
  })
}
const live = tapsView('taps_live')
const added = tapsView('taps_added')
const featureNames = live.features.map((f) => f.name)

/** A stretch of the stream: events at steps (negative = out of order or late), then maybe an idle gap. */
interface Stretch {
  readonly events: readonly { user: number; stepMs: number; amount: number; garbage: boolean }[]
  readonly idleAfter: boolean
}

const stretch: fc.Arbitrary<Stretch> = fc.record({
  events: fc.array(
    fc.record({
      user: fc.nat(4),
      stepMs: fc.oneof(fc.integer({ min: 0, max: 900 }), fc.integer({ min: -4_000, max: 0 }), fc.constant(20_000)),
      amount: fc.oneof(fc.double({ min: -1e6, max: 1e6, noNaN: true }), fc.constant(0.1), fc.constant(-0)),
      garbage: fc.nat(9).map((n) => n === 0),
    }),
    { minLength: 1, maxLength: 60 },
  ),
  idleAfter: fc.boolean(),
})

function rowsOf(byEntity: Map<string, FeatureRow[]>): Record<string, { asOfMs: number; values: unknown[] }[]> {
  const out: Record<string, { asOfMs: number; values: unknown[] }[]> = {}
  for (const [key, rows] of [...byEntity].sort(([a], [b]) => (a < b ? -1 : 1)))
    out[key] = rows.map((r) => ({ asOfMs: r.asOfMs, values: r.values.map((v) => (Object.is(v, -0) ? '-0' : v)) }))
  return out
}

async function oneStream(stretches: readonly Stretch[]): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'kfs-oracle-'))
  const log = new EmbeddedEventLog({ dir: join(dir, 'log'), fsync: 'never' })
  try {
    const schemas = new EmbeddedSchemaRegistry({ dir: join(dir, 'schemas') })
    const store = new LocalObjectStore(join(dir, 'warehouse'))
    const decoderFor = () => createDecoder({ registry: schemas, readerSchema: taps.schema })
    await log.createTopic(taps.topic, taps.partitions)
    const encoder = await createEncoder({ registry: schemas, subject: `${taps.topic}-value`, schema: taps.schema })
    const liveOnline = new EmbeddedOnlineStore()
    const engine = createLiveEngine({
      log,
      stateStore: store,
      offline: new IcebergOfflineSink(store),
      online: liveOnline,
      deadLetters: createDeadLetterTopicSink(log, 'kfs.dead-letters'),
      decoderFor,
      views: [live],
      groupId: 'kfs-engine',
      clock: systemClock,
      logger: silentLogger,
      checkpointMaxRecords: 25,
      checkpointIntervalMs: 100,
      tickMs: 20,
    })
    await engine.start()
    let ts = Date.UTC(2026, 0, 1)
    let produced = 0
    for (const s of stretches) {
      await log.produce(
        taps.topic,
        s.events.map((e) => {
          ts += e.stepMs
          const key = `u${e.user}`
          return { key, value: e.garbage ? Buffer.from('not avro') : encoder.encode({ user_id: key, ts, amount: e.amount }) }
        }),
      )
      produced += s.events.length
      await waitFor(() => engine.stats.consumed >= produced, `${produced} records consumed`)
      // An idle gap: the engine archives idle markers (wall clock), which the backfill must replay.
      if (s.idleAfter) await new Promise((r) => setTimeout(r, 350))
    }
    await waitFor(() => engine.isCaughtUp(0), 'live caught up')
    await engine.stop()
    assert.equal(engine.failure, undefined)

    const backfillOnline = new EmbeddedOnlineStore()
    const letters: unknown[] = []
    await backfillView({
      offline: new IcebergOfflineSink(store),
      stateStore: store,
      decoder: decoderFor(),
      view: added,
      liveGroupId: 'kfs-engine',
      online: backfillOnline,
      deadLetters: { write: async (l) => void letters.push(...l), flush: async () => {} },
      clock: systemClock,
      logger: silentLogger,
      checkpointEveryRecords: 17,
    })

    const liveRows = rowsOf(await readFeatureRowsByEntity(store, live))
    const backfilled = rowsOf(await readFeatureRowsByEntity(store, added))
    assert.ok(Object.keys(liveRows).length > 0, 'live wrote rows: the comparison checks something')
    assert.deepEqual(backfilled, liveRows, 'offline rows: backfill = live')

    const keys = Object.keys(liveRows)
    const now = Date.UTC(2026, 0, 2)
    const read = (online: EmbeddedOnlineStore, view: FeatureViewDef) =>
      online.readRows(
        keys.map((entityKey) => ({ view, entityKey, features: featureNames })),
        now,
      )
    const norm = (reads: Awaited<ReturnType<EmbeddedOnlineStore['readRows']>>) =>
      reads.map((r) => ({ status: r.status, asOfMs: r.asOfMs, values: r.values.map((v) => (Object.is(v, -0) ? '-0' : v)) }))
    assert.deepEqual(norm(await read(backfillOnline, added)), norm(await read(liveOnline, live)), 'online rows: backfill = live')
  } finally {
    await log.close()
    await rm(dir, { recursive: true, force: true })
  }
}

void test('live = backfill over random streams: offline rows and online rows per key', async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(stretch, { minLength: 1, maxLength: 4 }), async (stretches) => oneStream(stretches)),
    { numRuns: 6, endOnFailure: true },
  )
})
