/**
 * `npm run bench -- push`: event produced → the row received by a WebSocket subscriber of
 * serving's `/v1/subscribe`, with the live engine running.
 *
 * In this process: the engine on the real stack (kfs run's wiring and checkpoint defaults) and
 * serving's createServer over its own RedisOnlineStore connection, whose change feed pushes every
 * landed row to subscribed sockets; one WebSocket client subscribed to every user. A child process
 * produces KFS_BENCH_PUSH_RATE events/s (default 1,000) for KFS_BENCH_PUSH_SECONDS (default 20)
 * over 1,000 users (seconds and users × KFS_BENCH_SCALE). An event is received when the first pushed row of its key with as_of ≥ its
 * event time arrives (the online store coalesces a batch's rows per key). First 2 s left out.
 *
 * Same-run references: when those rows landed in Redis (the store's change feed, read directly),
 * and Kafka's own produce → consume floor (a bare kafkajs consumer in the producer's process).
 *
 * BENCH push p50_ms=… p99_ms=… (target ≤ 300 ms)
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { monitorEventLoopDelay } from 'node:perf_hooks'
import { createServer } from '../serving/server/index.ts'
import { RedisOnlineStore } from '../adapters/online-store/redis/redis-online-store.ts'
import { openWs } from '../test/unit/serving/ws-client.ts'
import { benchLine, envNumber, percentile, progress } from './_support/report.ts'
import { openStackClients, startStackEngine } from './_support/stack-engine.ts'
import { scaled, scaledSeconds } from './_support/scale.ts'
import { ensureStack } from './_support/stack.ts'
import { benchViews, newRunId } from './_support/views.ts'
import { arrivalLatencies, newSeenLog, recordSeen, runSteadyProducer, visibilityLatencies } from './_support/visibility.ts'

const RATE = envNumber('KFS_BENCH_PUSH_RATE', 1_000)
const SECONDS = envNumber('KFS_BENCH_PUSH_SECONDS', scaledSeconds(20, 2))
const USERS = scaled(1_000, 10)
/** Left out of the latencies (connections, first fetch). */
const WARMUP_MS = scaledSeconds(2, 0.5) * 1000

const stack = await ensureStack()
const run = newRunId()
const clients = await openStackClients(stack, `bench/${run}`)
const servingStore = new RedisOnlineStore({ url: stack.redisUrl })
const dir = mkdtempSync(join(tmpdir(), 'kfs-bench-push-'))
const { source, view } = benchViews(run)
const server = createServer({ store: servingStore, views: [view] })
try {
  await clients.log.createTopic(source.topic, source.partitions)
  await clients.encoderFor(source)
  const port = await server.listen(0)

  const pushed = newSeenLog()
  const landed = newSeenLog()
  const ws = await openWs(port, '/v1/subscribe')
  const users = Array.from({ length: USERS }, (_, i) => `u${i}`)
  for (let i = 0; i < users.length; i += 500) ws.send(JSON.stringify({ subscribe: users.slice(i, i + 500).map((entity) => ({ view: view.name, entity })) }))
  let reading = true
  let subscribed = 0
  const reader = (async () => {
    while (reading) {
      const text = await ws.next(500).catch(() => undefined)
      if (text === undefined) continue
      const msg = JSON.parse(text) as { type: string; entity?: string; as_of?: number; topics?: number }
      if (msg.type === 'row') recordSeen(pushed, msg.entity!, msg.as_of!)
      else if (msg.type === 'subscribed') subscribed = msg.topics!
      else if (msg.type === 'error') throw new Error(`subscribe failed: ${text}`)
    }
  })()
  while (subscribed < USERS) await new Promise((r) => setTimeout(r, 20))
  const unsubscribe = await clients.online.subscribeChanges([view], (change) => recordSeen(landed, change.entityKey, change.asOfMs))

  // The engine's event loop also serves the WebSocket clients: its longest stall is the tail's floor.
  const loopDelay = monitorEventLoopDelay({ resolution: 10 })
  loopDelay.enable()
  const { engine } = startStackEngine(clients, { views: [view], groupId: `bench-${run}` })
  await engine.start()
  progress(`engine and serving on :${port} running, ${USERS} subscriptions; producing ${RATE}/s for ${SECONDS} s`)
  const { sent, arrived } = await runSteadyProducer({
    brokers: stack.kafkaBrokers,
    registryUrl: stack.registryUrl,
    topic: source.topic,
    rate: RATE,
    seconds: SECONDS,
    users: USERS,
    outFile: join(dir, 'sent.json'),
    listenGroup: `bench-raw-${run}`,
  })
  const deadline = Date.now() + 30_000
  while (engine.stats.consumed < sent.keys.length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50))
  await new Promise((r) => setTimeout(r, 1_000))
  const failed = await Promise.race([engine.failed, Promise.resolve(undefined)])
  if (failed) throw failed
  progress(`engine: ${engine.stats.consumed} consumed, ${engine.stats.emittedRows} rows; ${landed.keys.length} rows landed, ${pushed.keys.length} pushed`)
  loopDelay.disable()
  progress(`event loop delay: p99 ${(loopDelay.percentile(99) / 1e6).toFixed(0)} ms, max ${(loopDelay.max / 1e6).toFixed(0)} ms`)
  reading = false
  ws.close()
  await unsubscribe()
  await engine.stop()
  await reader

  const fromMs = sent.sentAtMs[0]! + WARMUP_MS
  const ws_ = visibilityLatencies(sent, pushed, fromMs)
  const redis = visibilityLatencies(sent, landed, fromMs)
  const floor = arrivalLatencies(sent, arrived, fromMs)
  const line = (what: string, l: number[], missing: number) =>
    progress(`${what}: p50 ${percentile(l, 50).toFixed(1)} ms, p99 ${percentile(l, 99).toFixed(1)} ms, max ${percentile(l, 100).toFixed(1)} ms over ${l.length} events; never: ${missing}`)
  line('produce → WebSocket row', ws_.latencies, ws_.missing)
  line('produce → landed in Redis', redis.latencies, redis.missing)
  line('produce → raw kafkajs consumer', floor.latencies, floor.missing)
  benchLine('push', {
    rate: sent.keys.length / ((sent.sentAtMs.at(-1)! - sent.sentAtMs[0]!) / 1000),
    p50_ms: percentile(ws_.latencies, 50),
    p99_ms: percentile(ws_.latencies, 99),
    missing: ws_.missing,
    redis_p50_ms: percentile(redis.latencies, 50),
    redis_p99_ms: percentile(redis.latencies, 99),
    baseline_p50_ms: percentile(floor.latencies, 50),
    baseline_p99_ms: percentile(floor.latencies, 99),
    loop_delay_max_ms: loopDelay.max / 1e6,
  })
} finally {
  await server.close()
  await servingStore.close()
  rmSync(dir, { recursive: true, force: true })
  await clients.close()
  stack.release()
}
