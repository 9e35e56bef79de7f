/**
 * The source's own schema changes between two applies, and what the archive holds under the old
 * one: v1 of a view runs live over source schema S1 (producers write S1); the module moves on to S2
 * — a field renamed (S2 names the old name as an alias), fields added with defaults — and v2 over
 * S2 is backfilled from the archive written under S1, handed over to live, and runs on while
 * producers write S2. The archive keeps each record's bytes and writer schema id, so the backfill
 * reads old records through S2 exactly as live would: v2's rows equal the reference over every
 * record as S2 reads it (old ones with the alias and the defaults), and verify-parity agrees.
 */
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import avro from 'avsc'
import { systemClock } from '../../../core/clock.ts'
import { silentLogger } from '../../../core/logger.ts'
import { createDeadLetterTopicSink } from '../../../engine/dead-letter-topic.ts'
import { EmbeddedEventLog } from '../../../adapters/event-log/embedded/index.ts'
import { EmbeddedOnlineStore } from '../../../adapters/online-store/embedded/embedded-online-store.ts'
import { EmbeddedSchemaRegistry } from '../../../adapters/schema-registry/embedded/embedded-schema-registry.ts'
import { IcebergOfflineSink } from '../../../adapters/offline/iceberg/offline-sink.ts'
import { readFeatureRowsByEntity } from '../../../adapters/offline/iceberg/feature-rows.ts'
import { LocalObjectStore, MemoryObjectStore } from '../../../adapters/object-store/index.ts'
import { entity, featureView, source } from '../../../features/index.ts'
import type { AvroRecordSchema, FeatureRow, FeatureViewDef, SourceDef } from '../../../features/types.ts'
import type { BackfillStatus } from '../../../registry/index.ts'
import { settleBackfills, type BackfillRegistry } from '../../../replay/backfill-before-live.ts'
import { verifyParity } from '../../../replay/verify-parity.ts'
import { createDecoder } from '../../../schemas/decoder.ts'
import { runReference, type ReferenceRecord } from '../../reference/reference-model.ts'
import { assertSameRows } from '../../support/scenario.ts'
import { runLiveUntilConsumed } from '../../support/live-until-consumed.ts'

const TS = { type: 'long', logicalType: 'timestamp-millis' }
const S1 = {
  type: 'record',
  name: 'Order',
  fields: [
    { name: 'user_id', type: 'string' },
    { name: 'ts', type: TS },
    { name: 'amount', type: 'double' },
    { name: 'sku', type: 'string' },
  ],
} as AvroRecordSchema
const S2 = {
  type: 'record',
  name: 'Order',
  fields: [
    { name: 'user_id', type: 'string' },
    { name: 'ts', type: TS },
    { name: 'amount', type: 'double' },
    { name: 'item', type: 'string', aliases: ['sku'] },
    { name: 'channel', type: 'string', default: 'web' },
    { name: 'qty', type: 'long', default: 1 },
  ],
} as AvroRecordSchema

const user = entity({ name: 'shopper', joinKeys: ['user_id'] })
const onSchema = (schema: AvroRecordSchema) =>
  source({
    name: 'orders_evo',
    topic: 'orders-evo',
    schema,
    eventTimeField: 'ts',
    keyedBy: user,
    partitions: 2,
    outOfOrderness: '5s',
    allowedLateness: '1h',
  })
const common = { name: 'shopper_orders', entity: user, ttl: '1d', freshnessSla: '1m', owner: 'o', description: 'd' } as const
const v1 = featureView({
  ...common,
  version: 1,
  source: onSchema(S1),
  aggregations: [
    { op: 'count', windows: ['lifetime'] },
    { op: 'sum', field: 'amount', windows: ['1h'] },
  ],
})
const v2 = featureView({
  ...common,
  version: 2,
  source: onSchema(S2),
  aggregations: [
    { op: 'count', windows: ['lifetime'] },
    { op: 'sum', field: 'qty', windows: ['lifetime'] },
    { op: 'last', field: 'item', windows: ['lifetime'] },
    { op: 'last', field: 'channel', windows: ['lifetime'] },
  ],
})

function statusRegistry(): BackfillRegistry & { statuses: Map<string, BackfillStatus> } {
  const statuses = new Map<string, BackfillStatus>()
  return {
    statuses,
    getBackfillStatus: async (view, version) => statuses.get(`${view}@${version}`),
    setBackfillStatus: async (view, version, status) =>
      void statuses.set(`${view}@${version}`, { completeThrough: [], ...status } as BackfillStatus),
  }
}

void test('a source schema changed between applies: v2 backfilled from records written under the old schema reads them as live does', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'kfs-source-schema-change-'))
  const log = new EmbeddedEventLog({ dir: join(dir, 'log'), fsync: 'never' })
  try {
    const registry = new EmbeddedSchemaRegistry({ dir: join(dir, 'schemas') })
    const store = new LocalObjectStore(join(dir, 'warehouse'))
    const online = new EmbeddedOnlineStore()
    const offline = new IcebergOfflineSink(store)
    const decoderFor = (s: SourceDef) => createDecoder({ registry, readerSchema: s.schema })
    await log.createTopic('orders-evo', 2)
    const base = Date.now() - 6 * 3_600_000
    const records: ReferenceRecord[] = []

    /** Produces events `from`..`to` with `schema`; `asS2` is what S2 reads of each. Returns how many (a run counts what it consumed itself). */
    const produce = async (
      schema: AvroRecordSchema,
      from: number,
      to: number,
      write: (i: number) => Record<string, unknown>,
      asS2: (i: number) => Record<string, unknown>,
    ) => {
      const id = await registry.register('orders-evo-value', schema)
      const type = avro.Type.forSchema(schema as avro.Schema)
      const header = Buffer.from([0, 0, 0, 0, 0])
      header.writeUInt32BE(id, 1)
      const indexes = Array.from({ length: to - from }, (_, k) => from + k)
      const acks = await log.produce(
        'orders-evo',
        indexes.map((i) => ({ key: `u${i % 6}`, value: Buffer.concat([header, type.toBuffer(write(i))]) })),
      )
      acks.forEach((ack, k) => {
        const event = asS2(indexes[k]!)
        records.push({
          partition: ack.partition,
          offset: ack.offset,
          eventTimeMs: event.ts as number,
          event,
          ingestionTimeMs: Number.MAX_SAFE_INTEGER,
        })
      })
      return acks.length
    }
    const parts = { log, stateStore: store, offline, online, decoderFor }
    const runUntilConsumed = (views: readonly FeatureViewDef[], count: number) => runLiveUntilConsumed(parts, views, count, { checkpointMaxRecords: 100 })
    const old = (i: number) => ({ user_id: `u${i % 6}`, ts: base + i * 10_000, amount: (i % 5) + 0.25, sku: `s${i % 4}` })

    // 1. v1 live over S1; producers write S1.
    await runUntilConsumed(
      [v1],
      await produce(S1, 0, 500, old, (i) => ({ ...old(i), item: old(i).sku, sku: undefined, channel: 'web', qty: 1 })),
    )

    // 2. The module moves to S2: v2 is backfilled from the archive written under S1.
    const statuses = statusRegistry()
    const env = {
      offline,
      stateStore: store,
      decoderFor,
      clock: systemClock,
      online: async () => online,
      deadLetters: async () => createDeadLetterTopicSink(log, 'kfs.dead-letters'),
    }
    await settleBackfills([v2], statuses, env, 'kfs-engine', silentLogger, () => {})
    assert.equal(statuses.statuses.get('shopper_orders@2')?.state, 'complete')

    // 3. v2 live, producers now writing S2.
    const fresh = (i: number) => ({
      user_id: `u${i % 6}`,
      ts: base + i * 10_000,
      amount: 1.5,
      item: `i${i % 3}`,
      channel: i % 2 ? 'app' : 'shop',
      qty: i % 7,
    })
    await runUntilConsumed([v2], await produce(S2, 500, 1_000, fresh, fresh))

    const reference = runReference({
      views: [v2],
      source: v2.source,
      records: records.map((r) =>
        'event' in r ? { ...r, event: Object.fromEntries(Object.entries(r.event).filter(([, v]) => v !== undefined)) } : r,
      ),
    })
    assert.deepEqual(reference.deadLetters, [])
    const expected = new Map<string, FeatureRow[]>()
    for (const rows of reference.views[0]!.partitions.values())
      for (const row of rows) expected.set(row.entityKey, [...(expected.get(row.entityKey) ?? []), row])
    assertSameRows(await readFeatureRowsByEntity(store, v2), expected, 'v2 rows')
    const parity = await verifyParity({
      offline,
      decoder: decoderFor(v2.source),
      view: v2,
      groupId: 'kfs-engine',
      scratch: new MemoryObjectStore(),
    })
    assert.equal(parity.ok, true, JSON.stringify(parity.differences.slice(0, 2)))
  } finally {
    await log.close()
    await rm(dir, { recursive: true, force: true })
  }
})
