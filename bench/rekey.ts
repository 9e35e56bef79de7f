/**
 * `npm run bench -- rekey`: what re-keying costs (issues #8, #19).
 *
 * One run-scoped clicks topic keyed by user (4 partitions, KFS_BENCH_REKEY_EVENTS clicks, default
 * 1,000,000 × KFS_BENCH_SCALE — at 200,000 a raw consume lasted 0.2–0.5 s and its rate swung 340k–934k/s on this VM)
 * on the real stack's Kafka. Three things are measured on it, each under a fresh consumer group:
 * - the re-key stage as the engine runs it (rekey-stage.ts): consume read-committed, decode through
 *   the schema registry, key by item, one Kafka transaction per batch producing to the internal
 *   topic and committing the consumed offsets;
 * - baseline: a raw consume through the same `EventLog` consumer, read-committed, no work — three
 *   times (before the copy floor, between it and the stage, after the stage, so drift in the
 *   machine's load touches both sides), each printed; the BENCH line's baseline is their median;
 * - copy floor: consume read-committed and copy every record unchanged in transactions of the
 *   stage's size — the client's own cost of exactly-once consume-produce.
 *
 * Every timer covers the same interval: it starts when the consumer's `run` (the stage's `start`,
 * which ends with it) has resolved — the group joined and the assignment handed to the handlers
 * (for the stage: its fencing transaction and offset reads done, its partitions sought) — and stops
 * when the last of the topic's EVENTS records is done: counted in `eachBatch` (raw consume), or
 * committed in a transaction (copy floor, stage: `stats.rekeyed`), as seen by a 1 ms poll. Fetches
 * start before the timer for every one of them alike (kafkajs fetches once it has joined); group
 * joins and topic creation are outside every timer.
 *
 * KFS_BENCH_PROFILE=<dir> (or KFS_BENCH_ALLOC_PROFILE=<dir>) profiles the stage's phase alone
 * (bench/_support/profile.ts).
 *
 * After the last raw consume (outside every timer) the internal topic is read once more, raw, to
 * weigh what the stage wrote: `bytes_per_event` is its records' value bytes ÷ the events in them.
 *
 * BENCH rekey events=… events_per_s=… baseline_events_per_s=… (median) baseline_runs=a/b/c ratio=…
 *   copy_floor_events_per_s=… vs_copy_floor=… bytes_per_event=…
 * (ratio = rekey / median raw consume; vs_copy_floor = rekey / transactional copy)
 */
import { systemClock } from '../core/clock.ts'
import { entity, featureView, source } from '../features/index.ts'
import { createEngineStats } from '../engine/engine-stats.ts'
import { planRekeys } from '../engine/plan-sources.ts'
import { chunksOf } from '../engine/dead-letter-topic.ts'
import { createRekeyStage } from '../engine/rekey-stage.ts'
import { isTransactional } from '../ports/event-log-transaction.ts'
import { unbundle } from '../engine/rekey-bundle.ts'
import type { ProduceRecord } from '../ports/event-log.ts'
import { readAvroSchema } from '../schemas/avro/read-schema.ts'
import { createDecoder } from '../schemas/decoder.ts'
import { createEncoder } from '../schemas/encoder.ts'
import { ConfluentSchemaRegistry } from '../adapters/schema-registry/confluent/confluent-schema-registry.ts'
import { openBenchEventLog } from './_support/event-log.ts'
import { startProfile } from './_support/profile.ts'
import { benchLine, envNumber, percentile, progress, stderrLogger } from './_support/report.ts'
import { scaled } from './_support/scale.ts'
import { ensureStack } from './_support/stack.ts'

const EVENTS = envNumber('KFS_BENCH_REKEY_EVENTS', scaled(1_000_000, 1_000))
/** Raw consumes, each under a fresh group: the median bounds the ratio. */
const BASELINE_RUNS = 3
const PARTITIONS = 4
/** The re-key stage's records per transaction (rekey-stage.ts), for the copy floor. */
const COPY_TRANSACTION_RECORDS = 20_000

const stack = await ensureStack()
const run = `r${Date.now().toString(36)}`
const logger = stderrLogger()
const log = await openBenchEventLog(stack.kafkaBrokers, 'kfs-bench-rekey', logger.child({ component: 'kafka' }))
try {
  const user = entity({ name: 'user', joinKeys: ['user_id'] })
  const item = entity({ name: 'item', joinKeys: ['item_id'] })
  const clicks = source({
    name: `bench_clicks_${run}`,
    topic: `bench-clicks-${run}`,
    schema: readAvroSchema(new URL('../schemas/avro/clicks.avsc', import.meta.url)),
    eventTimeField: 'ts',
    keyedBy: user,
    partitions: PARTITIONS,
  })
  const view = featureView({ name: `bench_item_clicks_${run}`, version: 1, entity: item, source: clicks, aggregations: [{ op: 'count', windows: ['1h'] }], ttl: '1d', freshnessSla: '1m', owner: 'bench', description: 'bench' })
  const registry = new ConfluentSchemaRegistry({ url: stack.registryUrl })
  const encoder = await createEncoder({ registry, subject: `${clicks.topic}-value`, schema: clicks.schema })
  await log.createTopic(clicks.topic, PARTITIONS)

  progress(`producing ${EVENTS} clicks to ${clicks.topic}`)
  const startMs = Date.UTC(2026, 0, 1)
  const produceChunk = async (from: number): Promise<void> => {
    const chunk = []
    for (let j = from; j < Math.min(EVENTS, from + 5_000); j++) {
      const u = `u${(j * 7919) % 20_000}`
      chunk.push({ key: u, value: encoder.encode({ user_id: u, item_id: `i${(j * 104_729) % 50_000}`, category: 'books', dwell_ms: j % 3_000, ts: startMs + j * 10 }) })
    }
    await log.produce(clicks.topic, chunk)
  }
  // A few sends in flight: producing is outside every timer, but a larger topic should not cost minutes.
  for (let i = 0; i < EVENTS; i += 20_000)
    await Promise.all([0, 5_000, 10_000, 15_000].filter((d) => i + d < EVENTS).map((d) => produceChunk(i + d)))

  /** Until `done()` holds, polled every millisecond: the end of every timer. */
  const until = async (done: () => boolean): Promise<void> => {
    while (!done()) await new Promise((r) => setTimeout(r, 1))
  }
  // Baseline: the same consumer port, read-committed, doing nothing with the records.
  const rawRates: number[] = []
  const rawConsume = async (): Promise<void> => {
    let seen = 0
    const raw = log.consumer({ groupId: `bench-raw-${run}-${rawRates.length}`, topics: [clicks.topic], readCommitted: true })
    await raw.run({
      eachBatch: async (batch) => {
        seen += batch.records.length
      },
    })
    const rawStarted = performance.now()
    await until(() => seen >= EVENTS)
    const rawMs = performance.now() - rawStarted
    await raw.stop()
    const rate = (seen / rawMs) * 1000
    rawRates.push(rate)
    progress(`raw consume ${rawRates.length}/${BASELINE_RUNS}: ${seen} records in ${rawMs.toFixed(0)} ms (${Math.round(rate)} events/s)`)
  }
  await rawConsume()

  // Second bound, same run: the least any exactly-once re-keyer does with this client — consume
  // read-committed and copy each record unchanged to another topic in transactions of the stage's
  // size (produce in the stage's chunks, sendOffsets, commit). What lies between it and the raw
  // consume is the Kafka client's transactional produce; between it and the stage, kfs's own work.
  const copyTopic = `${clicks.topic}-copy`
  await log.createTopic(copyTopic, PARTITIONS)
  if (!isTransactional(log)) throw new Error('the bench event log has no transactions')
  const txLog = log
  const copyGroup = `bench-copy-${run}`
  let copied = 0
  let pending: { records: ProduceRecord[]; next: Map<number, string> } = { records: [], next: new Map() }
  const flushCopy = async (): Promise<void> => {
    const { records, next } = pending
    if (records.length === 0) return
    pending = { records: [], next: new Map() }
    const txn = await txLog.transaction(`bench-copy-${run}`)
    for (const chunk of chunksOf(records)) await txn.produce(copyTopic, chunk)
    await txn.sendOffsets(copyGroup, [...next].map(([partition, offset]) => ({ topic: clicks.topic, partition, offset })))
    await txn.commit()
    copied += records.length
  }
  const copier = log.consumer({ groupId: copyGroup, topics: [clicks.topic], readCommitted: true })
  await copier.run({
    eachBatch: async (batch) => {
      for (const r of batch.records) pending.records.push({ key: r.key, value: r.value, timestampMs: r.timestampMs })
      pending.next.set(batch.partition, (BigInt(batch.records.at(-1)?.offset ?? '-1') + 1n).toString())
      if (pending.records.length >= COPY_TRANSACTION_RECORDS || copied + pending.records.length >= EVENTS) await flushCopy()
    },
  })
  const copyStarted = performance.now()
  await until(() => copied >= EVENTS)
  const copyMs = performance.now() - copyStarted
  await copier.stop()
  progress(`transactional copy: ${copied} records in ${copyMs.toFixed(0)} ms`)
  await rawConsume()

  const [plan] = planRekeys([view])
  const stats = createEngineStats()
  let fatal: Error | undefined
  const stage = createRekeyStage({
    log,
    plan: plan!,
    groupId: `bench-${run}`,
    decoder: createDecoder({ registry, readerSchema: clicks.schema }),
    deadLetters: { write: async () => {}, flush: async () => {} },
    stats,
    clock: systemClock,
    logger,
    onFatal: (err) => (fatal = err),
  })
  const stopProfile = await startProfile('rekey')
  await stage.start()
  const rekeyStarted = performance.now()
  await until(() => stats.rekeyed >= EVENTS || fatal !== undefined)
  const rekeyMs = performance.now() - rekeyStarted
  await stopProfile()
  await stage.stop()
  if (fatal) throw fatal
  const ends = await log.endOffsets(plan!.topic)
  progress(`re-key: ${stats.rekeyed} records in ${rekeyMs.toFixed(0)} ms into ${plan!.topic} (end offsets incl. transaction markers: ${ends.join(',')})`)
  while (rawRates.length < BASELINE_RUNS) await rawConsume()

  // What the stage wrote, weighed: value bytes of the internal topic's records per event in them.
  let internalBytes = 0
  let internalEvents = 0
  const weigher = log.consumer({ groupId: `bench-weigh-${run}`, topics: [plan!.topic], readCommitted: true })
  await weigher.run({
    eachBatch: async (batch) => {
      for (const r of batch.records) internalBytes += r.value?.byteLength ?? 0
      internalEvents += unbundle(batch.records).events.length
    },
  })
  await until(() => internalEvents >= EVENTS)
  await weigher.stop()

  const eventsPerS = (stats.rekeyed / rekeyMs) * 1000
  const baselinePerS = percentile(rawRates, 50)
  const copyPerS = (copied / copyMs) * 1000
  benchLine('rekey', {
    events: EVENTS,
    partitions: PARTITIONS,
    events_per_s: Math.round(eventsPerS),
    baseline_events_per_s: Math.round(baselinePerS),
    baseline_runs: rawRates.map((r) => Math.round(r)).join('/'),
    ratio: eventsPerS / baselinePerS,
    copy_floor_events_per_s: Math.round(copyPerS),
    vs_copy_floor: eventsPerS / copyPerS,
    bytes_per_event: internalBytes / internalEvents,
  })
} finally {
  await log.close()
  stack.release()
}
