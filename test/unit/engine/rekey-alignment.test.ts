/**
 * Event-time alignment of the re-key stage (rekey-alignment.ts, docs/semantics.md §16).
 *
 * The rule on its own, then a backlog on the embedded log: 4 source partitions, each covering the
 * same event-time range with in-bound disorder only, many batches each. Without alignment (a skew
 * too large to bind, which is what the stage did before) the internal topic interleaves whole
 * batches and its event time jumps back by a batch's span, so the DESIGN §2 rule finds many late
 * records; with the default skew no record is late, no internal
 * partition goes back by more than skew + outOfOrderness, and the views of a live engine
 * dead-letter nothing as late.
 * (Default skew = (2 s + 2 s) / 2: an event out of order by ≤ 1.5 s stays within the 4 s budget.)
 */
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import { systemClock } from '../../../core/clock.ts'
import { silentLogger } from '../../../core/logger.ts'
import { entity, featureView, source } from '../../../operators/define/index.ts'
import { createDeadLetterTopicSink } from '../../../pipeline/engine/dead-letter-topic.ts'
import { createEngineStats } from '../../../pipeline/engine/engine-stats.ts'
import { createLiveEngine } from '../../../pipeline/engine/live-engine.ts'
import { planRekeys } from '../../../pipeline/engine/plan-sources.ts'
import { EventTimeAlignment } from '../../../pipeline/engine/rekey-alignment.ts'
import { createRekeyStage, defaultAlignmentSkewMs, REKEY_HEADERS } from '../../../pipeline/engine/rekey-stage.ts'
import { EmbeddedEventLog } from '../../../pipeline/embedded-log/index.ts'
import type { DeadLetter, LogRecord } from '../../../pipeline/ports.ts'
import { readAvroSchema } from '../../../schemas/avro/read-schema.ts'
import { createDecoder } from '../../../schemas/decoder.ts'
import { createEncoder, type Encoder } from '../../../schemas/encoder.ts'
import { EmbeddedSchemaRegistry } from '../../../schemas/registry/embedded-schema-registry.ts'
import { EmbeddedOnlineStore } from '../../../sinks/embedded/online-store.ts'
import { IcebergOfflineSink } from '../../../sinks/iceberg/offline-sink.ts'
import { LocalObjectStore } from '../../../sinks/object-store/index.ts'
import { prng, waitFor } from '../../support/scenario.ts'

void describe('re-key alignment > the rule', () => {
  const skew = 10
  void test('after an assignment a first batch is only looked at while others are unseen; caught-up partitions hold nothing back', () => {
    const a = new EventTimeAlignment(skew)
    a.reset([0, 1, 2], new Set([2]))
    assert.equal(a.allowed(0, [100, 105, 110, 111, 200]), 0, 'first look: partition 1 has shown nothing yet')
    assert.equal(a.record(0, [100, 105, 110, 111, 200], 0, true), false, 'a look does not pause')
    assert.equal(a.allowed(1, [50, 90, 111, 122]), 2, 'partition 0 holds 100: up to 110')
    a.record(1, [50, 90, 111, 122], 2, true)
    assert.equal(a.allowed(0, [100, 105, 110, 111, 200]), 4, 'partition 1 holds 111: up to 121')
    a.record(0, [100, 105, 110, 111, 200], 4, true)
    a.record(1, [111, 122], 2, false)
    assert.equal(a.allowed(0, [200, 300]), 2, 'every other partition caught up')
  })

  void test('a partition that never shows a batch caps the others at their own head + skew, and stops none', () => {
    const a = new EventTimeAlignment(skew)
    a.reset([0, 1])
    assert.equal(a.allowed(0, [100, 105, 120]), 0)
    a.record(0, [100, 105, 120], 0, true)
    assert.equal(a.allowed(0, [100, 105, 120]), 2, 'partition 1 still unseen (e.g. caught up): 0 goes skew per batch')
    a.record(0, [100, 105, 120], 2, true)
    assert.equal(a.allowed(0, [120, 125, 131]), 2)
  })

  void test('records without an event time never stop the prefix', () => {
    const a = new EventTimeAlignment(skew)
    a.reset([0, 1])
    a.record(1, [50], 0, true)
    assert.equal(a.allowed(0, [undefined, 55, undefined, 61, undefined]), 3)
    assert.equal(a.allowed(0, [undefined, undefined]), 2)
  })

  void test('a batch ahead of a held partition is refused and resumed once the frontier passes its head; the smallest head always goes', () => {
    const a = new EventTimeAlignment(skew)
    a.reset([0, 1, 2])
    a.record(0, [100, 130], 1, true) // holds 130
    a.record(1, [200], 0, true) // refused, paused at 200
    a.record(2, [140, 150], 1, true) // holds 150
    assert.deepEqual(a.paused(), [1])
    assert.equal(a.allowed(1, [200]), 0, 'ahead of 130 + 10')
    assert.equal(a.allowed(0, [130, 160, 170]), 2, 'the smallest head goes, up to the next held head + skew')
    assert.deepEqual(a.releasable(), [], '1 still ahead')
    a.record(0, [190, 195], 2, true) // 0 moves on (next record not seen yet, estimated at 195)
    a.record(2, [150, 195, 205], 3, false) // 2 caught up
    assert.deepEqual(a.releasable(), [1], 'nothing held below 190 any more')
    assert.deepEqual(a.paused(), [])
  })

  void test('losing the partition that held another back releases it; a new assignment unpauses all', () => {
    const a = new EventTimeAlignment(skew)
    a.reset([0, 1])
    a.record(0, [100], 0, true)
    a.record(1, [10, 50], 1, true)
    assert.deepEqual(a.paused(), [0])
    assert.equal(a.remove(1), false)
    assert.deepEqual(a.releasable(), [0])
    a.record(0, [300], 0, true)
    assert.deepEqual(a.reset([0, 1]), [0], 'reports what was paused so the caller resumes it')
    assert.deepEqual(a.paused(), [])
  })
})

const run = `align-${process.pid}`
const user = entity({ name: 'user', joinKeys: ['user_id'], description: 'A signed-in shopper' })
const item = entity({ name: 'item', joinKeys: ['item_id'], description: 'A product' })
const clicks = source({
  name: `clicks_${run}`.replace(/-/g, '_'),
  topic: `clicks-${run}`,
  schema: readAvroSchema(new URL('../../../schemas/avro/clicks.avsc', import.meta.url)),
  eventTimeField: 'ts',
  keyedBy: user,
  partitions: 4,
  outOfOrderness: '2s',
  allowedLateness: '2s',
  idleTimeout: '1h',
  description: 'Clicks with a tight lateness budget',
})
const itemCounts = featureView({
  name: `item_counts_${run}`.replace(/-/g, '_'),
  version: 1,
  entity: item,
  source: clicks,
  aggregations: [{ op: 'count', windows: ['1m'] }],
  ttl: '1d',
  freshnessSla: '1m',
  owner: 'search@shop.example',
  description: 'Clicks per item',
})
const plan = planRekeys([itemCounts])[0]!
const PER_PARTITION = 4_000
const STEP_MS = 20
const SKEW_MS = defaultAlignmentSkewMs(clicks)

/**
 * The backlog: every partition covers the same event-time range, 20 ms apart, each record up to
 * 1.5 s out of order (inside the 2 s bound) — nothing in it is late. 500-record batches span 10 s,
 * far more than outOfOrderness + allowedLateness.
 */
async function produceBacklog(log: EmbeddedEventLog, encoder: Encoder): Promise<Map<string, number>> {
  const rand = prng(11)
  const timeOf = new Map<string, number>()
  const startMs = Date.UTC(2026, 0, 1)
  for (let p = 0; p < 4; p++) {
    for (let i = 0; i < PER_PARTITION; i += 1_000) {
      const events = Array.from({ length: 1_000 }, (_, j) => ({
        user_id: `u${p}-${(i + j) % 37}`,
        item_id: `i${Math.floor(rand() * 300)}`,
        category: 'books',
        dwell_ms: null,
        ts: startMs + (i + j) * STEP_MS - Math.floor(rand() * 1_500),
      }))
      const acks = await log.produce(clicks.topic, events.map((e) => ({ key: e.user_id, value: encoder.encode(e), partition: p })))
      acks.forEach((a, j) => timeOf.set(`${a.partition}/${a.offset}`, events[j]!.ts))
    }
  }
  return timeOf
}

interface InternalOrder {
  /** Records the views would find late (DESIGN §2: t ≤ max − outOfOrderness − allowedLateness). */
  readonly late: number
  /** Largest step back in event time below the running maximum, over all internal partitions. */
  readonly maxBackMs: number
  readonly origins: readonly string[]
}

async function readInternalOrder(log: EmbeddedEventLog, timeOf: ReadonlyMap<string, number>, groupId: string): Promise<InternalOrder> {
  const byPartition = new Map<number, LogRecord[]>()
  const consumer = log.consumer({ groupId, topics: [plan.topic], readCommitted: true })
  let count = 0
  await consumer.run({
    eachBatch: async (batch) => {
      byPartition.set(batch.partition, [...(byPartition.get(batch.partition) ?? []), ...batch.records])
      count += batch.records.length
    },
  })
  await waitFor(() => count >= timeOf.size, 'the internal topic read back')
  await consumer.stop()
  let late = 0
  let maxBackMs = 0
  const origins: string[] = []
  for (const records of byPartition.values()) {
    let maxMs = -Infinity
    for (const r of records) {
      const origin = `${r.headers[REKEY_HEADERS.partition]}/${r.headers[REKEY_HEADERS.offset]}`
      origins.push(origin)
      const t = timeOf.get(origin)!
      if (t <= maxMs - clicks.outOfOrdernessMs - clicks.allowedLatenessMs) late++
      maxBackMs = Math.max(maxBackMs, maxMs - t)
      maxMs = Math.max(maxMs, t)
    }
  }
  return { late, maxBackMs, origins }
}

async function withLog<T>(fn: (log: EmbeddedEventLog, encoder: Encoder, registry: EmbeddedSchemaRegistry, dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'kfs-rekey-align-'))
  try {
    const log = new EmbeddedEventLog({ dir: join(dir, 'log'), fsync: 'never' })
    const registry = new EmbeddedSchemaRegistry({ dir: join(dir, 'schemas') })
    await log.createTopic(clicks.topic, clicks.partitions)
    const encoder = await createEncoder({ registry, subject: `${clicks.topic}-value`, schema: clicks.schema })
    const out = await fn(log, encoder, registry, dir)
    await log.close()
    return out
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

async function rekeyBacklog(alignmentSkewMs: number): Promise<InternalOrder> {
  return withLog(async (log, encoder, registry) => {
    const timeOf = await produceBacklog(log, encoder)
    const letters: DeadLetter[] = []
    const failures: Error[] = []
    const stage = createRekeyStage({
      log,
      plan,
      groupId: 'kfs-engine',
      decoder: createDecoder({ registry, readerSchema: clicks.schema }),
      deadLetters: { write: async (ls) => void letters.push(...ls), flush: async () => {} },
      stats: createEngineStats(),
      clock: systemClock,
      logger: silentLogger,
      onFatal: (err) => failures.push(err),
      alignmentSkewMs,
    })
    await stage.start()
    await waitFor(() => [...stage.progress().values()].every((p) => p.position === String(PER_PARTITION)) || failures.length > 0, 'the backlog re-keyed', 120_000)
    await stage.stop()
    assert.deepEqual(failures, [])
    assert.equal(letters.length, 0)
    const order = await readInternalOrder(log, timeOf, `check-${alignmentSkewMs}`)
    assert.equal(new Set(order.origins).size, timeOf.size, 'every source record forwarded')
    assert.equal(order.origins.length, timeOf.size, 'and only once')
    return order
  })
}

void describe('re-key alignment > a backlog in 4 partitions over the same event-time range', () => {
  void test('without alignment the internal topic jumps back by whole batches and many records would be late', async () => {
    const order = await rekeyBacklog(1e15)
    assert.ok(order.maxBackMs > 2 * (SKEW_MS + clicks.outOfOrdernessMs), `jumps back ${order.maxBackMs} ms`)
    assert.ok(order.late > PER_PARTITION, `${order.late} late`)
  })

  void test('aligned: nothing late, and no internal partition goes back by more than skew + outOfOrderness', async () => {
    const order = await rekeyBacklog(SKEW_MS)
    assert.equal(order.late, 0)
    assert.ok(order.maxBackMs <= SKEW_MS + clicks.outOfOrdernessMs, `jumps back ${order.maxBackMs} ms`)
  })

  void test('live engine with the default skew: its views dead-letter nothing as late', async () => {
    await withLog(async (log, encoder, registry, dir) => {
      const timeOf = await produceBacklog(log, encoder)
      const store = new LocalObjectStore(join(dir, 'warehouse'))
      const engine = createLiveEngine({
        log,
        stateStore: store,
        offline: new IcebergOfflineSink(store),
        online: new EmbeddedOnlineStore(),
        deadLetters: createDeadLetterTopicSink(log, 'kfs.dead-letters'),
        deadLetterTopic: 'kfs.dead-letters',
        decoderFor: (s) => createDecoder({ registry, readerSchema: s.schema }),
        views: [itemCounts],
        groupId: 'kfs-engine',
        clock: systemClock,
        logger: silentLogger,
        checkpointMaxRecords: 5_000,
        checkpointIntervalMs: 500,
        tickMs: 50,
      })
      await engine.start()
      await waitFor(() => engine.isCaughtUp(300), 'backlog re-keyed and consumed', 120_000)
      await engine.stop()
      assert.equal(engine.stats.rekeyed, timeOf.size)
      assert.equal(engine.stats.consumed, timeOf.size, 'the view consumed every re-keyed record')
      assert.deepEqual(engine.stats.deadLettered, {}, 'no dead letter of any reason, late included')
      const order = await readInternalOrder(log, timeOf, 'check-live')
      assert.equal(order.late, 0)
      assert.equal((await log.endOffsets('kfs.dead-letters'))[0], '0', 'nothing on the dead-letter topic')
    })
  })
})
