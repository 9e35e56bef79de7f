/**
 * Event-time alignment of the re-key stage (rekey-alignment.ts, docs/semantics.md §16) on the
 * embedded log: a backlog in 4 source partitions, each covering the same event-time range with
 * in-bound disorder only (≤ 1.5 s, budget 2 s + 2 s), many batches each. The internal topic holds
 * no late record and goes back by no more than the source's own disorder; its order is the same
 * whatever the batch size and queue bound, and across a hand-over between two members of the
 * stage's group (exclusive assignment: one owns everything, the other takes over when it leaves);
 * a live engine's views dead-letter nothing as late.
 */
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import { systemClock } from '../../../core/clock.ts'
import { silentLogger } from '../../../core/logger.ts'
import { entity, featureView, source } from '../../../features/index.ts'
import { createDeadLetterTopicSink } from '../../../engine/dead-letter-topic.ts'
import { createEngineStats } from '../../../engine/engine-stats.ts'
import { createLiveEngine } from '../../../engine/live-engine.ts'
import { planRekeys } from '../../../engine/plan-sources.ts'
import { createRekeyStage, REKEY_HEADERS, type RekeyStage } from '../../../engine/rekey-stage.ts'
import { unbundle, type PartitionEvent } from '../../../engine/rekey-bundle.ts'
import { EmbeddedEventLog } from '../../../adapters/event-log/embedded/index.ts'
import type { DeadLetter } from '../../../ports/dead-letters.ts'
import { readAvroSchema } from '../../../schemas/avro/read-schema.ts'
import { createDecoder } from '../../../schemas/decoder.ts'
import { createEncoder, type Encoder } from '../../../schemas/encoder.ts'
import { EmbeddedSchemaRegistry } from '../../../adapters/schema-registry/embedded/embedded-schema-registry.ts'
import { EmbeddedOnlineStore } from '../../../adapters/online-store/embedded/embedded-online-store.ts'
import { IcebergOfflineSink } from '../../../adapters/offline/iceberg/offline-sink.ts'
import { LocalObjectStore } from '../../../adapters/object-store/index.ts'
import { prng, waitFor } from '../../support/scenario.ts'

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
const DISORDER_MS = 1_500

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
        ts: startMs + (i + j) * STEP_MS - Math.floor(rand() * DISORDER_MS),
      }))
      const acks = await log.produce(clicks.topic, events.map((e) => ({ key: e.user_id, value: encoder.encode(e), partition: p })))
      acks.forEach((a, j) => timeOf.set(`${a.partition}/${a.offset}`, events[j]!.ts))
    }
  }
  return timeOf
}

interface InternalOrder {
  /** Records the views would find late (docs/design.md §2: t ≤ max − outOfOrderness − allowedLateness). */
  readonly late: number
  /** Largest step back in event time below the running maximum, over all internal partitions. */
  readonly maxBackMs: number
  readonly origins: readonly string[]
}

async function readInternalOrder(log: EmbeddedEventLog, timeOf: ReadonlyMap<string, number>, groupId: string): Promise<InternalOrder> {
  const byPartition = new Map<number, PartitionEvent[]>()
  const consumer = log.consumer({ groupId, topics: [plan.topic], readCommitted: true })
  let count = 0
  await consumer.run({
    eachBatch: async (batch) => {
      const { events } = unbundle(batch.records)
      byPartition.set(batch.partition, [...(byPartition.get(batch.partition) ?? []), ...events])
      count += events.length
    },
  })
  await waitFor(() => count >= timeOf.size, 'the internal topic read back')
  await consumer.stop()
  let late = 0
  let maxBackMs = 0
  const origins: string[] = []
  for (const [, records] of [...byPartition].sort(([a], [b]) => a - b)) {
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

async function withLog<T>(fn: (log: EmbeddedEventLog, encoder: Encoder, registry: EmbeddedSchemaRegistry, dir: string) => Promise<T>, maxBatchRecords = 500): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'kfs-rekey-align-'))
  try {
    const log = new EmbeddedEventLog({ dir: join(dir, 'log'), fsync: 'never', maxBatchRecords })
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

function stageOn(log: EmbeddedEventLog, registry: EmbeddedSchemaRegistry, failures: Error[], queuedRecords?: number): RekeyStage {
  return createRekeyStage({
    log,
    plan,
    groupId: 'kfs-engine',
    decoder: createDecoder({ registry, readerSchema: clicks.schema }),
    deadLetters: { write: async (ls: readonly DeadLetter[]) => void failures.push(new Error(`unexpected dead letters: ${ls.map((l) => l.reason).join(',')}`)), flush: async () => {} },
    stats: createEngineStats(),
    clock: systemClock,
    logger: silentLogger,
    onFatal: (err) => failures.push(err),
    ...(queuedRecords === undefined ? {} : { queuedRecords }),
  })
}

const rekeyedAll = (stage: RekeyStage) => [...stage.progress().values()].length === 4 && [...stage.progress().values()].every((p) => p.position === String(PER_PARTITION))

/** Re-keys the backlog with one stage, or (`handOver`) with two members of its group, the first stopping part-way. */
async function rekeyBacklog(options: { maxBatchRecords?: number; queuedRecords?: number; handOver?: boolean } = {}): Promise<InternalOrder> {
  return withLog(async (log, encoder, registry) => {
    const timeOf = await produceBacklog(log, encoder)
    const failures: Error[] = []
    const first = stageOn(log, registry, failures, options.queuedRecords)
    await first.start()
    let last = first
    if (options.handOver) {
      const second = stageOn(log, registry, failures, options.queuedRecords)
      await second.start()
      assert.equal(second.progress().size, 0, 'exclusive: the member that joined second owns nothing')
      assert.equal(first.progress().size, 4, 'the first member keeps the whole topic')
      await waitFor(() => [...first.progress().values()].some((p) => Number(p.position) > PER_PARTITION / 4) || failures.length > 0, 'part of the backlog re-keyed')
      await first.stop()
      assert.equal(second.progress().size, 4, 'the second member took the whole topic')
      last = second
    }
    await waitFor(() => rekeyedAll(last) || failures.length > 0, 'the backlog re-keyed', 120_000)
    await last.stop()
    assert.deepEqual(failures, [])
    const order = await readInternalOrder(log, timeOf, 'check')
    assert.equal(new Set(order.origins).size, timeOf.size, 'every source record forwarded')
    assert.equal(order.origins.length, timeOf.size, 'and only once')
    return order
  }, options.maxBatchRecords)
}

void describe('re-key alignment > a backlog in 4 partitions over the same event-time range', () => {
  void test('nothing late, no internal partition goes back by more than the source disorder, the same order whatever the batches or hand-overs', async () => {
    const reference = await rekeyBacklog()
    assert.equal(reference.late, 0)
    assert.ok(reference.maxBackMs <= DISORDER_MS, `jumps back ${reference.maxBackMs} ms`)
    const smallBatches = await rekeyBacklog({ maxBatchRecords: 37, queuedRecords: 200 })
    assert.deepEqual(smallBatches.origins, reference.origins, 'other batch boundaries and queue bound: same internal topic')
    const handedOver = await rekeyBacklog({ maxBatchRecords: 123, handOver: true })
    assert.deepEqual(handedOver.origins, reference.origins, 'one member stopped part-way, the other finished: same internal topic')
  })

  void test('live engine: its views dead-letter nothing as late', async () => {
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
