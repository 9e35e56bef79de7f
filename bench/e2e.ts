/**
 * `npm run bench -- e2e`: end-to-end events/s of the live engine from Kafka to both sinks — Redis
 * online on every batch, Iceberg on MinIO at checkpoints — against a bare kafkajs consumer of the
 * same topic (eachBatch, no processing), both measured in this run on the real stack.
 *
 * N events (KFS_BENCH_E2E_EVENTS, default 200,000 × KFS_BENCH_SCALE; skewed users, 5% out of order, 3% late) are
 * produced to a fresh 4-partition topic first. The baseline reads them under its own group; then
 * the engine (in this process, wired as `kfs run` wires it, kfs run's checkpoint defaults) reads
 * them under another. Engine time runs from the first batch it is handed to the moment every
 * record is processed and a final checkpoint of every partition has committed.
 *
 * BENCH e2e events_per_s=… baseline_events_per_s=… ratio=… (target ratio ≥ 0.7), then the
 * run's ceiling: parquet_floor_ms (parquet-wasm alone re-encoding the rows written, see
 * _support/parquet-floor.ts), avro_floor_ms (avsc alone decoding the payloads), ceiling_events_per_s — the most any engine
 * writing these tables could reach here, given the raw consume and the floor on this machine's cores —, ceiling_ratio
 * (kfs's share of that ceiling: events_per_s ÷ ceiling_events_per_s; #19's goal is ≥ 0.4) and ceiling_over_consume (the
 * ceiling ÷ the raw consume's rate, which does not depend on kfs: how far the floors sit below the bare read);
 * engine_thread_cpu_ms is the CPU the engine's own thread used over the engine phase (Linux): steadier
 * than the rate when other work shares the cores, so A/B runs of a change compare it too.
 * KFS_BENCH_PROFILE=<dir> writes a CPU profile of the engine phase alone, KFS_BENCH_ALLOC_PROFILE=<dir>
 * an allocation profile of it (garbage included).
 */
import { generatePurchases, produceEvents } from '../test/support/scenario.ts'
import { archiveTablePath, featureTablePath } from '../adapters/offline/iceberg/offline-sink.ts'
import { avroDecodeFloorMs, e2eCeiling, parquetFloor } from './_support/parquet-floor.ts'
import { rawConsume } from './_support/raw-kafka.ts'
import { startProfile } from './_support/profile.ts'
import { benchLine, envNumber, progress } from './_support/report.ts'
import { openStackClients, startStackEngine } from './_support/stack-engine.ts'
import { scaled } from './_support/scale.ts'
import { ensureStack, mainThreadCpuMs } from './_support/stack.ts'
import { benchViews, newRunId } from './_support/views.ts'

const EVENTS = envNumber('KFS_BENCH_E2E_EVENTS', scaled(200_000, 1_000))

const stack = await ensureStack()
const run = newRunId()
const prefix = `bench/${run}`
const clients = await openStackClients(stack, prefix)
try {
  const { source, view } = benchViews(run)
  await clients.log.createTopic(source.topic, source.partitions)
  const encoder = await clients.encoderFor(source)
  const events = generatePurchases({ count: EVENTS, users: scaled(10_000, 10), seed: 11 })
  const produceStarted = performance.now()
  await produceEvents(clients.log, source.topic, encoder, events, 5_000)
  progress(`produced ${EVENTS} events to ${source.topic} in ${((performance.now() - produceStarted) / 1000).toFixed(1)} s`)

  const raw = await rawConsume(stack.kafkaBrokers, source.topic, EVENTS, `bench-raw-${run}`)
  const baseline = (raw.records / raw.elapsedMs) * 1000
  progress(
    `baseline: kafkajs eachBatch read ${raw.records} records in ${raw.elapsedMs.toFixed(0)} ms (${baseline.toFixed(0)}/s), ` +
      `${raw.cpuMs.toFixed(0)} ms of CPU (broker ${raw.brokerCpuMs === undefined ? 'not measured' : `${raw.brokerCpuMs.toFixed(0)} ms`})`,
  )

  const { engine, firstBatchAt } = startStackEngine(clients, { views: [view], groupId: `bench-${run}` })
  const stopProfile = await startProfile('e2e')
  const mainCpuAtStart = mainThreadCpuMs()
  await engine.start()
  let lastReport = performance.now()
  while (engine.stats.consumed < EVENTS) {
    await new Promise((r) => setTimeout(r, 10))
    if (performance.now() - lastReport > 5_000) {
      lastReport = performance.now()
      progress(`engine: ${engine.stats.consumed}/${EVENTS} consumed, ${engine.stats.checkpoints} checkpoints`)
    }
    const failed = await Promise.race([engine.failed, Promise.resolve(undefined)])
    if (failed) throw failed
  }
  await engine.checkpointAll()
  const elapsedMs = performance.now() - firstBatchAt()!
  const mainCpuAtEnd = mainThreadCpuMs()
  await stopProfile()
  const rate = (EVENTS / elapsedMs) * 1000
  const stats = engine.stats
  progress(
    `engine: ${EVENTS} records → ${stats.emittedRows} rows in ${elapsedMs.toFixed(0)} ms (${rate.toFixed(0)}/s); ` +
      `${stats.checkpoints} checkpoints (last ${stats.lastCheckpointDurationMs} ms), online writes ${stats.onlineWriteMs} ms, dead letters ${JSON.stringify(stats.deadLettered)}`,
  )
  await engine.stop()

  const floor = await parquetFloor(clients.store, [featureTablePath(view), archiveTablePath(source.topic)])
  const avroFloor = await avroDecodeFloorMs(clients.store, archiveTablePath(source.topic), source.schema)
  const ceiling = e2eCeiling(raw.elapsedMs, raw.cpuMs + floor.encodeMs + avroFloor.decodeMs)
  const ceilingRate = (EVENTS / ceiling.floorMs) * 1000
  progress(
    `floors: parquet-wasm alone re-encodes the ${floor.rows} rows of the ${floor.files} data files written (uncompressed) in ` +
      `${floor.encodeMs.toFixed(0)} ms, avsc alone decodes the ${avroFloor.records} payloads in ${avroFloor.decodeMs.toFixed(0)} ms; ` +
      `with the raw consume's CPU, on ${ceiling.cores} cores no engine can finish in under ${ceiling.floorMs.toFixed(0)} ms`,
  )
  benchLine('e2e', {
    events: EVENTS,
    events_per_s: rate,
    baseline_events_per_s: baseline,
    ratio: rate / baseline,
    parquet_floor_ms: floor.encodeMs,
    avro_floor_ms: avroFloor.decodeMs,
    ceiling_events_per_s: ceilingRate,
    // kfs ÷ ceiling (until session 12 this key held ceiling ÷ raw consume, now ceiling_over_consume).
    ceiling_ratio: rate / ceilingRate,
    ceiling_over_consume: ceiling.ceilingOverConsume,
    ...(mainCpuAtStart === undefined || mainCpuAtEnd === undefined ? {} : { engine_thread_cpu_ms: mainCpuAtEnd - mainCpuAtStart }),
  })
} finally {
  await clients.close()
  stack.release()
}
