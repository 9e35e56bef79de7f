/**
 * Writer schemas evolving under a live source, end to end (embedded log, archive, replay):
 * producers of one topic write with the source schema, with a newer writer (int → long,
 * float → double, a field added), with another (a field removed that the source defaults, a field
 * renamed that the source names by alias, an enum symbol the source reads as its default), with
 * `bytes` where the source reads `string` (some not UTF-8), with an incompatible writer and with
 * ids the registry never issued — all mixed in each partition. The live rows equal the reference
 * model over the events as the source schema reads them, every refused record is dead-lettered
 * with its reason (nothing dropped silently), and the replay of the archive reproduces the live
 * rows (verify-parity).
 */
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import avro from 'avsc'
import { systemClock } from '../../../core/clock.ts'
import { silentLogger } from '../../../core/logger.ts'
import { createDeadLetterTopicSink, DEAD_LETTER_HEADERS } from '../../../engine/dead-letter-topic.ts'
import { createLiveEngine } from '../../../engine/live-engine.ts'
import { EmbeddedEventLog } from '../../../adapters/event-log/embedded/index.ts'
import { verifyParity } from '../../../replay/verify-parity.ts'
import { createDecoder } from '../../../schemas/decoder.ts'
import { EmbeddedSchemaRegistry } from '../../../adapters/schema-registry/embedded/embedded-schema-registry.ts'
import { EmbeddedOnlineStore } from '../../../adapters/online-store/embedded/embedded-online-store.ts'
import { readFeatureRowsByEntity } from '../../../adapters/offline/iceberg/feature-rows.ts'
import { IcebergOfflineSink } from '../../../adapters/offline/iceberg/offline-sink.ts'
import { LocalObjectStore, MemoryObjectStore } from '../../../adapters/object-store/index.ts'
import { entity, featureView, source } from '../../../features/index.ts'
import type { AvroRecordSchema, FeatureRow } from '../../../features/types.ts'
import { runReference, type ReferenceRecord } from '../../reference/reference-model.ts'
import { assertSameRows, waitFor } from '../../support/scenario.ts'

type Field = { name: string; type: unknown; default?: unknown; aliases?: string[] }
const STATUS = (symbols: string[], def?: string) => ({
  type: 'enum',
  name: 'Status',
  symbols,
  ...(def === undefined ? {} : { default: def }),
})
const TS = { type: 'long', logicalType: 'timestamp-millis' }
const READER_FIELDS: Field[] = [
  { name: 'user_id', type: 'string' },
  { name: 'ts', type: TS },
  { name: 'amount', type: 'double' },
  { name: 'qty', type: 'long' },
  { name: 'status', type: STATUS(['NEW', 'PAID'], 'NEW') },
  { name: 'item', type: 'string', aliases: ['sku'], default: '' },
  { name: 'channel', type: 'string', default: 'web' },
]
const schemaOf = (fields: Field[]): AvroRecordSchema => ({ type: 'record', name: 'Purchase', fields }) as AvroRecordSchema

/** Each writer: its schema, how it writes an event, and what the source schema reads (undefined: the reason it is refused). */
interface Writer {
  readonly schema: AvroRecordSchema
  readonly write: (e: Purchase) => Record<string, unknown>
  readonly read: (e: Purchase) => Purchase | string
}
interface Purchase {
  user_id: string
  ts: number
  amount: number
  qty: number
  status: string
  item: string
  channel: string
}
const WRITERS: Record<string, Writer> = {
  source: { schema: schemaOf(READER_FIELDS), write: (e) => ({ ...e }), read: (e) => e },
  'int qty, float amount, a field added': {
    schema: schemaOf([
      ...READER_FIELDS.filter((f) => f.name !== 'qty' && f.name !== 'amount'),
      { name: 'qty', type: 'int' },
      { name: 'amount', type: 'float' },
      { name: 'coupon', type: ['null', 'string'], default: null },
    ]),
    write: (e) => ({ ...e, coupon: 'C1' }),
    read: (e) => e,
  },
  'channel removed, item renamed sku, an enum symbol added': {
    schema: schemaOf([
      ...READER_FIELDS.filter((f) => !['channel', 'item', 'status'].includes(f.name)),
      { name: 'sku', type: 'string' },
      { name: 'status', type: STATUS(['NEW', 'PAID', 'REFUNDED']) },
    ]),
    write: (e) => ({ ...e, sku: e.item, status: e.qty % 3 === 0 ? 'REFUNDED' : e.status }),
    read: (e) => ({ ...e, channel: 'web', status: e.qty % 3 === 0 ? 'NEW' : e.status }),
  },
  'user_id as bytes, one in five not UTF-8': {
    schema: schemaOf([...READER_FIELDS.filter((f) => f.name !== 'user_id'), { name: 'user_id', type: 'bytes' }]),
    write: (e) => ({ ...e, user_id: e.qty % 5 === 0 ? Buffer.from([0x75, 0xff]) : Buffer.from(e.user_id) }),
    read: (e) => (e.qty % 5 === 0 ? 'invalid_key' : e),
  },
  'amount as a string (incompatible)': {
    schema: schemaOf([...READER_FIELDS.filter((f) => f.name !== 'amount'), { name: 'amount', type: 'string' }]),
    write: (e) => ({ ...e, amount: String(e.amount) }),
    read: () => 'schema_mismatch',
  },
}
const UNKNOWN_ID = 999_999

const user = entity({ name: 'buyer', joinKeys: ['user_id'] })
const purchases = source({
  name: 'purchases_evo',
  topic: 'purchases-evo',
  schema: schemaOf(READER_FIELDS),
  eventTimeField: 'ts',
  keyedBy: user,
  partitions: 2,
  outOfOrderness: '5s',
  allowedLateness: '1h',
})
const spend = featureView({
  name: 'buyer_spend',
  version: 1,
  entity: user,
  source: purchases,
  aggregations: [
    { op: 'count', windows: ['1h', 'lifetime'] },
    { op: 'sum', field: 'amount', windows: ['1h'] },
    { op: 'sum', field: 'qty', windows: ['lifetime'] },
    { op: 'last', field: 'item', windows: ['lifetime'] },
    { op: 'last', field: 'channel', windows: ['lifetime'] },
    { op: 'last', field: 'status', windows: ['lifetime'] },
  ],
  ttl: '1d',
  freshnessSla: '1m',
  owner: 'o',
  description: 'd',
})

void test('writer schemas evolving: live rows = the reference over what the source schema reads, refusals dead-lettered with their reason, replay = live', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'kfs-writer-evolution-'))
  const log = new EmbeddedEventLog({ dir: join(dir, 'log'), fsync: 'never' })
  try {
    const registry = new EmbeddedSchemaRegistry({ dir: join(dir, 'schemas') })
    const store = new LocalObjectStore(join(dir, 'warehouse'))
    const offline = new IcebergOfflineSink(store)
    await log.createTopic(purchases.topic, purchases.partitions)
    // One subject per writer: an incompatible writer is refused by the subject's BACKWARD check, not by the topic.
    const writers = await Promise.all(
      Object.entries(WRITERS).map(async ([name, w], i) => ({
        name,
        ...w,
        id: await registry.register(`writer-${i}`, w.schema),
        type: avro.Type.forSchema(w.schema as avro.Schema),
      })),
    )

    const base = Date.now() - 6 * 3_600_000
    const sent: { key: string; value: Buffer; expect: Purchase | string }[] = []
    for (let i = 0; i < 400; i++) {
      const e: Purchase = {
        user_id: `u${i % 7}`,
        ts: base + i * 20_000,
        amount: (i % 9) + 0.5,
        qty: i,
        status: i % 2 ? 'PAID' : 'NEW',
        item: `i${i % 4}`,
        channel: i % 3 ? 'app' : 'shop',
      }
      const header = Buffer.alloc(5)
      if (i % 37 === 5) {
        header.writeUInt32BE(UNKNOWN_ID, 1)
        sent.push({ key: e.user_id, value: Buffer.concat([header, writers[0]!.type.toBuffer(e)]), expect: 'unknown_schema' })
        continue
      }
      const w = writers[(i * 7 + (i >> 3)) % writers.length]!
      header.writeUInt32BE(w.id, 1)
      sent.push({ key: e.user_id, value: Buffer.concat([header, w.type.toBuffer(w.write(e))]), expect: w.read(e) })
    }
    const acks = await log.produce(
      purchases.topic,
      sent.map(({ key, value }) => ({ key, value })),
    )

    const engine = createLiveEngine({
      log,
      stateStore: store,
      offline,
      online: new EmbeddedOnlineStore(),
      deadLetters: createDeadLetterTopicSink(log, 'kfs.dead-letters'),
      deadLetterTopic: 'kfs.dead-letters',
      decoderFor: (s) => createDecoder({ registry, readerSchema: s.schema }),
      views: [spend],
      groupId: 'kfs-engine',
      clock: systemClock,
      logger: silentLogger,
      checkpointMaxRecords: 50,
      checkpointIntervalMs: 200,
      tickMs: 50,
    })
    await engine.start()
    await waitFor(() => engine.isCaughtUp(300), 'caught up')
    await engine.stop()
    assert.equal(engine.failure, undefined)

    const records: ReferenceRecord[] = acks
      .map((ack, i) => ({ ack, expect: sent[i]!.expect }))
      .filter((r): r is { ack: (typeof acks)[0]; expect: Purchase } => typeof r.expect !== 'string')
      .map(({ ack, expect }) => ({
        partition: ack.partition,
        offset: ack.offset,
        eventTimeMs: expect.ts,
        event: { ...expect },
        ingestionTimeMs: Number.MAX_SAFE_INTEGER,
      }))
    const reference = runReference({ views: [spend], source: purchases, records })
    assert.deepEqual(reference.deadLetters, [], 'the good records are all good')
    const expected = new Map<string, FeatureRow[]>()
    for (const rows of reference.views[0]!.partitions.values())
      for (const row of rows) expected.set(row.entityKey, [...(expected.get(row.entityKey) ?? []), row])
    assertSameRows(await readFeatureRowsByEntity(store, spend), expected, 'live rows')

    const letters = await readDeadLetters(log)
    const refused = acks
      .map((ack, i) => ({ at: `${ack.partition}/${ack.offset}`, expect: sent[i]!.expect }))
      .filter((r) => typeof r.expect === 'string')
    assert.ok(new Set(refused.map((r) => r.expect)).size === 3, 'every kind of refusal is in the corpus')
    assert.deepEqual(
      refused.map((r) => `${r.at} ${String(r.expect)}`).sort(),
      [...new Set(letters.map((l) => `${l.partition}/${l.offset} ${l.reason}`))].sort(),
      'each refused record dead-lettered once with its reason, and nothing else',
    )

    const parity = await verifyParity({
      offline,
      decoder: createDecoder({ registry, readerSchema: purchases.schema }),
      view: spend,
      groupId: 'kfs-engine',
      scratch: new MemoryObjectStore(),
    })
    assert.equal(parity.ok, true, JSON.stringify(parity.differences.slice(0, 2)))
    assert.ok(parity.replayRows > 0 && parity.replayRows === parity.liveRows)
  } finally {
    await log.close()
    await rm(dir, { recursive: true, force: true })
  }
})

async function readDeadLetters(log: EmbeddedEventLog): Promise<{ partition: string; offset: string; reason: string }[]> {
  const out: { partition: string; offset: string; reason: string }[] = []
  const end = (await log.endOffsets('kfs.dead-letters')).reduce((n, o) => n + Number(o), 0)
  const consumer = log.consumer({ groupId: 'check-dead-letters', topics: ['kfs.dead-letters'], fromBeginning: true })
  await consumer.run({
    eachBatch: async (batch) => {
      for (const r of batch.records) {
        const h = r.headers
        out.push({
          partition: h[DEAD_LETTER_HEADERS.partition] ?? '',
          offset: h[DEAD_LETTER_HEADERS.offset] ?? '',
          reason: h[DEAD_LETTER_HEADERS.reason] ?? '',
        })
      }
    },
  })
  await waitFor(() => out.length >= end, 'dead letters read')
  await consumer.stop()
  return out
}
