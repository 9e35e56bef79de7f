/**
 * Issue #4, infrastructure faults: one `kfs run` process keeps going while (a) its Kafka broker is
 * restarted mid-run and (b) its Redis is down for a few seconds — it waits and retries (bounded,
 * logged), never exits, and the final offline table and Redis equal the reference model.
 *
 * The broker and Redis are private to this test (free ports, the stack's cached Kafka jars and
 * Debian's redis-server), so restarting them cannot disturb other tests; the schema registry and
 * MinIO are the shared stack's. Progress is read from the engine's own metrics endpoint
 * (kfs_consumed_records_total); every fault happens while records are waiting to be consumed,
 * and the longest time without progress around each fault is reported as a diagnostic.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { createEngineScenario, type EngineScenario } from '../../support/engine-scenario.ts'
import { startKfs, type KfsChild } from '../../support/kfs-process.ts'
import { freePort, startPrivateKafka, startPrivateRedis, type PrivateKafka, type PrivateRedis } from '../../support/private-servers.ts'
import { generatePurchases, waitFor, type ProducedRecord } from '../../support/scenario.ts'

const PHASE = 40_000
const REDIS_DOWN_MS = 5_000

interface Sample {
  readonly atMs: number
  readonly consumed: number
}

async function consumedSoFar(port: number): Promise<number | undefined> {
  try {
    const res = await fetch(`http://127.0.0.1:${port}/metrics`, { signal: AbortSignal.timeout(2_000) })
    const m = /^kfs_consumed_records_total (\d+)/m.exec(await res.text())
    return m ? Number(m[1]) : undefined
  } catch {
    return undefined
  }
}

/** Longest stretch without a consumed-count increase that overlaps [fromMs, toMs]. */
function longestStall(samples: readonly Sample[], fromMs: number, toMs: number): number {
  let longest = 0
  let since = samples.findLast((s) => s.atMs <= fromMs) ?? samples[0]!
  for (const s of samples) {
    if (s.atMs <= since.atMs) continue
    if (s.consumed > since.consumed) {
      if (s.atMs >= fromMs) longest = Math.max(longest, s.atMs - Math.max(since.atMs, fromMs))
      since = s
      if (s.atMs > toMs) break
    }
  }
  return longest
}

void test('engine rides out a Kafka broker restart and a Redis outage; online and offline equal the reference', async (t) => {
  let kafka: PrivateKafka | undefined
  let redis: PrivateRedis | undefined
  let scenario: EngineScenario | undefined
  let engine: KfsChild | undefined
  let polling = true
  try {
    kafka = await startPrivateKafka()
    redis = await startPrivateRedis()
    const metricsPort = await freePort()
    scenario = await createEngineScenario({ KFS_METRICS_PORT: String(metricsPort), KFS_LOG_LEVEL: process.env.KFS_TEST_ENGINE_LOG_LEVEL ?? 'warn' }, { KFS_KAFKA_BROKERS: kafka.brokers, KFS_REDIS_URL: redis.url })
    const s = scenario
    const events = generatePurchases({ count: PHASE * 3, users: 1_500, seed: 23 })
    const phase1 = events.slice(0, PHASE)
    const produced: ProducedRecord[] = await s.produce(phase1)

    engine = startKfs(s.runArgs, s.env)
    const running = engine
    let stderr = ''
    running.child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()))
    const samples: Sample[] = []
    const poll = (async () => {
      while (polling) {
        const consumed = await consumedSoFar(metricsPort)
        if (consumed !== undefined) samples.push({ atMs: Date.now(), consumed })
        await new Promise((r) => setTimeout(r, 100))
      }
    })()
    const consumed = () => samples.at(-1)?.consumed ?? 0
    const alive = async () => {
      if (running.child.exitCode === null && running.child.signalCode === null) return
      const r = await running.done
      throw new Error(`the engine exited (${r.code ?? r.signal}) during the faults:\n${r.stderr.slice(-3000)}`)
    }
    const progressPast = (n: number, what: string) =>
      waitFor(
        async () => {
          await alive()
          return consumed() > n
        },
        what,
        180_000,
      ).catch((err: unknown) => {
        throw new Error(`${(err as Error).message} (consumed ${consumed()}); engine log:\n${stderr.slice(-6000)}`)
      })

    // (a) Broker restart while records are still waiting to be consumed.
    await progressPast(2_000, 'the engine to start consuming')
    const atKafkaFault = consumed()
    assert.ok(atKafkaFault < phase1.length, 'the broker goes down mid-run, with records left to consume')
    const kafkaDown = Date.now()
    await kafka.restart({ downMs: 2_000 })
    const kafkaBack = Date.now()
    produced.push(...(await s.produce(events.slice(PHASE, 2 * PHASE))))
    await progressPast(atKafkaFault + 1_000, 'progress after the broker restart')

    // (b) Redis outage while records are still waiting to be consumed.
    produced.push(...(await s.produce(events.slice(2 * PHASE))))
    const atRedisFault = consumed()
    const redisDown = Date.now()
    await redis.restart({ downMs: REDIS_DOWN_MS })
    const redisBack = Date.now()
    await progressPast(atRedisFault + 1_000, 'progress after the Redis outage')
    assert.ok(atRedisFault < produced.length, 'Redis goes down mid-run, with records left to consume')

    await waitFor(
      async () => {
        await alive()
        return consumed() >= produced.length
      },
      'every record consumed',
      300_000,
    ).catch((err: unknown) => {
      throw new Error(`${(err as Error).message} (consumed ${consumed()} of ${produced.length}); engine log:\n${stderr.slice(-8000)}`)
    })
    polling = false
    await poll
    running.child.kill('SIGTERM')
    const result = await running.done
    assert.equal(result.code, 0, `engine exit after the faults:\n${result.stderr.slice(-3000)}`)
    assert.match(result.stderr, /retried|reconnect|crashed/i, 'the waits were logged')

    const kafkaStall = longestStall(samples, kafkaDown, kafkaBack + 60_000)
    const redisStall = longestStall(samples, redisDown, redisBack + 60_000)
    t.diagnostic(`broker down ${kafkaBack - kafkaDown} ms (restart incl. JVM start); longest engine stall around it ${kafkaStall} ms`)
    t.diagnostic(`redis down ${redisBack - redisDown} ms; longest engine stall around it ${redisStall} ms`)
    t.diagnostic(`warnings logged by the engine: ${result.stderr.split('\n').filter((l) => /"level":40/.test(l)).length}`)

    await s.assertMatchesReference(produced)
  } finally {
    polling = false
    if (engine && engine.child.exitCode === null && engine.child.signalCode === null) {
      engine.child.kill('SIGKILL')
      await engine.done
    }
    await scenario?.close()
    await redis?.stop()
    await kafka?.stop()
  }
})
