/**
 * The stream the audit's live = backfill oracles replay (live-equals-backfill.test.ts,
 * backfill-fault-loop.test.ts): a source with lateness and idle markers, one view's logic under
 * two names (the one live runs, the one added later and backfilled), random stretches of events,
 * and a live run of them on the embedded parts.
 */
import assert from 'node:assert/strict'
import { join } from 'node:path'
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
import { IcebergOfflineSink } from '../../../adapters/offline/iceberg/offline-sink.ts'
import { LocalObjectStore } from '../../../adapters/object-store/index.ts'
import type { OnlineStore } from '../../../ports/online-store.ts'
import { createDecoder } from '../../../schemas/decoder.ts'
import { createEncoder } from '../../../schemas/encoder.ts'
import { waitFor } from '../../support/scenario.ts'

export const taps = source({
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
export function tapsView(name: string): FeatureViewDef {
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
export const live = tapsView('taps_live')
export const added = tapsView('taps_added')
export const featureNames = live.features.map((f) => f.name)

/** A stretch of the stream: events at steps (negative = out of order or late), then maybe an idle gap. */
export interface Stretch {
  readonly events: readonly { user: number; stepMs: number; amount: number; garbage: boolean }[]
  readonly idleAfter: boolean
}

export const stretch: fc.Arbitrary<Stretch> = fc.record({
  events: fc.array(
    fc.record({
      user: fc.nat(9),
      stepMs: fc.oneof(fc.integer({ min: 0, max: 900 }), fc.integer({ min: -4_000, max: 0 }), fc.constant(20_000)),
      amount: fc.oneof(fc.double({ min: -1e6, max: 1e6, noNaN: true }), fc.constant(0.1), fc.constant(-0)),
      garbage: fc.nat(9).map((n) => n === 0),
    }),
    { minLength: 1, maxLength: 60 },
  ),
  idleAfter: fc.boolean(),
})

export function rowsOf(byEntity: Map<string, FeatureRow[]>): Record<string, { asOfMs: number; values: unknown[] }[]> {
  const out: Record<string, { asOfMs: number; values: unknown[] }[]> = {}
  for (const [key, rows] of [...byEntity].sort(([a], [b]) => (a < b ? -1 : 1)))
    out[key] = rows.map((r) => ({ asOfMs: r.asOfMs, values: r.values.map((v) => (Object.is(v, -0) ? '-0' : v)) }))
  return out
}

/** `view`'s online rows of `keys`, comparable across stores (-0 spelled out, since deepEqual takes it for 0). */
export async function onlineRows(online: OnlineStore, view: FeatureViewDef, keys: readonly string[]): Promise<unknown[]> {
  const reads = await online.readRows(
    keys.map((entityKey) => ({ view, entityKey, features: featureNames })),
    Date.UTC(2026, 0, 2),
  )
  return reads.map((r) => ({ status: r.status, asOfMs: r.asOfMs, values: r.values.map((v) => (Object.is(v, -0) ? '-0' : v)) }))
}

/** The parts a live run left in `dir`: the warehouse (archive, live tables, checkpoints) and schemas. */
export interface LiveRun {
  readonly schemas: EmbeddedSchemaRegistry
  readonly liveOnline: EmbeddedOnlineStore
  readonly decoderFor: () => ReturnType<typeof createDecoder>
}

/** Runs `live` over the stretches (an idle gap after those that ask), until caught up; then stops. */
export async function liveRun(dir: string, stretches: readonly Stretch[]): Promise<LiveRun> {
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
    return { schemas, liveOnline, decoderFor }
  } finally {
    await log.close()
  }
}
