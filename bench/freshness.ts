/**
 * `npm run bench -- freshness`: produce → visible-in-Redis latency while the live engine runs.
 *
 * The engine runs in this process on the real stack (kfs run's wiring and checkpoint defaults, so
 * checkpoints to MinIO happen during the run). A child process produces at a steady rate
 * (KFS_BENCH_FRESHNESS_RATE, default 5,000 events/s) for KFS_BENCH_FRESHNESS_SECONDS (default 30)
 * over 10,000 users (seconds and users × KFS_BENCH_SCALE); another child listens to the online store's change feed
 * (`RedisOnlineStore.subscribeChanges`: the write script PUBLISHes a row as it lands) — not this
 * process, whose event loop is the engine's (change-observer.ts says why). Latency of
 * an event = first landed row of its key covering its event time − the moment it was handed to
 * Kafka. The first 2 s (connections, first fetch) are left out.
 *
 * Baseline, same run: Kafka's own produce → consume latency of the same stream, seen by a bare
 * kafkajs consumer in the producer's process (an event loop the engine does not block): the
 * input side no engine can beat.
 *
 * The engine's event-loop delay (perf_hooks.monitorEventLoopDelay, 5 ms resolution) over the run
 * says how much of the tail is the engine's own thread being busy (a checkpoint's synchronous
 * part, GC) rather than Kafka or Redis. It stops when the producer exits: reading the producer's
 * and the observer's logs afterwards (~100 ms each) is this bench's own work on that thread, and
 * was the `loop_delay_max_ms` of three profiled runs (85–141 ms) when the monitor ran past it.
 *
 * Each checkpoint's cut (its synchronous part: the operator state snapshot or delta) stalls that
 * loop by itself: `cut_*_ms` are their durations (the first of each partition is a full snapshot);
 * the progress lines also give each cut's CPU time on the engine's thread, which leaves out the
 * time other processes held the core (not their effect on caches).
 *
 * BENCH freshness rate=… p50_ms=… p99_ms=… … loop_delay_p99_ms=… loop_delay_max_ms=… cut_first_max_ms=… cut_p50_ms=… cut_max_ms=… (target p99 < 100 ms)
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { monitorEventLoopDelay } from 'node:perf_hooks'
import { join } from 'node:path'
import { benchLine, envNumber, percentile, progress } from './_support/report.ts'
import { openStackClients, startStackEngine } from './_support/stack-engine.ts'
import { scaled, scaledSeconds } from './_support/scale.ts'
import { ensureStack } from './_support/stack.ts'
import { benchViews, newRunId } from './_support/views.ts'
import { arrivalLatencies, runSteadyProducer, startChangeObserver, visibilityLatencies } from './_support/visibility.ts'

const RATE = envNumber('KFS_BENCH_FRESHNESS_RATE', 5_000)
const SECONDS = envNumber('KFS_BENCH_FRESHNESS_SECONDS', scaledSeconds(30, 2))
const USERS = scaled(10_000, 10)
/** Left out of the latencies (connections, first fetch). */
const WARMUP_MS = scaledSeconds(2, 0.5) * 1000

const stack = await ensureStack()
const run = newRunId()
const clients = await openStackClients(stack, `bench/${run}`)
const dir = mkdtempSync(join(tmpdir(), 'kfs-bench-fresh-'))
try {
  const { source, view } = benchViews(run)
  await clients.log.createTopic(source.topic, source.partitions)
  await clients.encoderFor(source)

  const observer = await startChangeObserver({ redisUrl: stack.redisUrl, run, outFile: join(dir, 'seen.json') })
  const { engine } = startStackEngine(clients, { views: [view], groupId: `bench-${run}` })
  const cuts: number[] = []
  const cutsCpu: number[] = []
  engine.stats.timings = { ...engine.stats.timings, checkpointCut: (ms, cpuMs) => void (cuts.push(ms), cutsCpu.push(cpuMs)) }
  await engine.start()
  // The engine's event loop: how long a ready callback (a fetched batch, a Redis reply) waited.
  const loopDelay = monitorEventLoopDelay({ resolution: 5 })
  loopDelay.enable()
  progress(`engine running on ${source.topic}; producing ${RATE}/s for ${SECONDS} s`)

  const { sent, arrived } = await runSteadyProducer({ brokers: stack.kafkaBrokers, registryUrl: stack.registryUrl, topic: source.topic, rate: RATE, seconds: SECONDS, users: USERS, outFile: join(dir, 'sent.json'), listenGroup: `bench-raw-${run}`, onExit: () => loopDelay.disable() })
  const deadline = Date.now() + 30_000
  while (engine.stats.consumed < sent.keys.length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50))
  await new Promise((r) => setTimeout(r, 500))
  const failed = await Promise.race([engine.failed, Promise.resolve(undefined)])
  if (failed) throw failed
  const seen = await observer.stop()
  const stats = engine.stats
  progress(`engine: ${stats.consumed} consumed, ${stats.emittedRows} rows, ${stats.checkpoints} checkpoints (last ${stats.lastCheckpointDurationMs} ms); ${seen.keys.length} rows seen landing`)
  await engine.stop()

  const fromMs = sent.sentAtMs[0]! + WARMUP_MS
  const { latencies, missing } = visibilityLatencies(sent, seen, fromMs)
  const achieved = sent.keys.length / ((sent.sentAtMs.at(-1)! - sent.sentAtMs[0]!) / 1000)
  const p50 = percentile(latencies, 50)
  const p99 = percentile(latencies, 99)
  progress(`latency over ${latencies.length} events: p50 ${p50.toFixed(1)} ms, p90 ${percentile(latencies, 90).toFixed(1)} ms, p99 ${p99.toFixed(1)} ms, max ${percentile(latencies, 100).toFixed(1)} ms; never visible: ${missing}`)
  const floor = arrivalLatencies(sent, arrived, fromMs)
  const b50 = percentile(floor.latencies, 50)
  const b99 = percentile(floor.latencies, 99)
  progress(`baseline (produce → raw kafkajs consumer): p50 ${b50.toFixed(1)} ms, p99 ${b99.toFixed(1)} ms; never seen: ${floor.missing}`)
  const loopP99 = loopDelay.percentile(99) / 1e6
  const loopMax = loopDelay.max / 1e6
  progress(`engine event-loop delay: p50 ${(loopDelay.percentile(50) / 1e6).toFixed(1)} ms, p99 ${loopP99.toFixed(1)} ms, max ${loopMax.toFixed(1)} ms`)
  // The first cut of each partition (a full snapshot, code not yet optimised), then the rest (deltas, but the stop's).
  const partitions = source.partitions
  const firstCuts = cuts.slice(0, partitions)
  const laterCuts = cuts.slice(partitions)
  progress(`checkpoint cuts: ${cuts.map((ms) => ms.toFixed(1)).join(' ')} ms`)
  progress(`checkpoint cuts, CPU of the engine's thread: ${cutsCpu.map((ms) => ms.toFixed(1)).join(' ')} ms`)
  benchLine('freshness', {
    rate: achieved,
    p50_ms: p50,
    p99_ms: p99,
    max_ms: percentile(latencies, 100),
    missing,
    baseline_p50_ms: b50,
    baseline_p99_ms: b99,
    ratio_p99: p99 / b99,
    loop_delay_p99_ms: loopP99,
    loop_delay_max_ms: loopMax,
    cut_first_max_ms: firstCuts.length > 0 ? Math.max(...firstCuts) : 0,
    cut_p50_ms: laterCuts.length > 0 ? percentile(laterCuts, 50) : 0,
    cut_max_ms: laterCuts.length > 0 ? Math.max(...laterCuts) : 0,
  })
} finally {
  rmSync(dir, { recursive: true, force: true })
  await clients.close()
  stack.release()
}
