/**
 * Both processes' `/metrics` follow Prometheus's naming conventions (issue #18): times in seconds
 * (no `_ms`), counters typed `counter` and named `_total`, no gauge named `_total`, histograms for
 * durations and latencies, and the default process metrics everywhere. Scraped over HTTP from the
 * engine's metrics server (a live engine on the embedded defaults) and from a serving instance;
 * every scrape also passes Prometheus's own linter, `promtool check metrics`.
 */
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { createServer as createNetServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { EmbeddedEventLog } from '../../../adapters/event-log/embedded/index.ts'
import { IcebergOfflineSink } from '../../../adapters/offline/iceberg/offline-sink.ts'
import { LocalObjectStore } from '../../../adapters/object-store/index.ts'
import { EmbeddedOnlineStore } from '../../../adapters/online-store/embedded/embedded-online-store.ts'
import { EmbeddedSchemaRegistry } from '../../../adapters/schema-registry/embedded/embedded-schema-registry.ts'
import { systemClock } from '../../../core/clock.ts'
import { silentLogger } from '../../../core/logger.ts'
import { createDeadLetterTopicSink } from '../../../engine/dead-letter-topic.ts'
import { createLiveEngine } from '../../../engine/live-engine.ts'
import { purchases, userPurchases } from '../../../examples/features.ts'
import { createEngineMetrics, listenForMetrics } from '../../../main/metrics-server.ts'
import { createDecoder } from '../../../schemas/decoder.ts'
import { createEncoder } from '../../../schemas/encoder.ts'
import { generatePurchases, produceEvents, waitFor } from '../../support/scenario.ts'
import { promtool } from '../../support/promtool.ts'
import { startServer } from '../serving/server-harness.ts'
import { userStats } from '../serving/fixtures.ts'

/** A port free a moment ago (listenForMetrics binds the port it is given, as KFS_METRICS_PORT does). */
async function freePort(): Promise<number> {
  const probe = createNetServer()
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve))
  const { port } = probe.address() as { port: number }
  await new Promise<void>((resolve) => probe.close(() => resolve()))
  return port
}

interface Exposition {
  /** Metric family name → its `# TYPE`. */
  readonly types: Map<string, string>
  /** Sample lines, as written. */
  readonly samples: readonly string[]
}

function parseExposition(text: string): Exposition {
  const types = new Map<string, string>()
  const samples: string[] = []
  for (const line of text.split('\n')) {
    const type = /^# TYPE (\S+) (\S+)$/.exec(line)
    if (type) types.set(type[1]!, type[2]!)
    else if (line !== '' && !line.startsWith('#')) samples.push(line)
  }
  return { types, samples }
}

/** The value of the one sample written exactly as `series` (name and labels as prom-client orders them). */
function valueOf(e: Exposition, series: string): number | undefined {
  const line = e.samples.find((l) => l.startsWith(`${series} `))
  return line === undefined ? undefined : Number(line.slice(series.length + 1))
}

/** Prometheus's own linter of an exposition (`promtool check metrics`): names, units, suffixes, help. */
function assertPromtoolLint(text: string, where: string): void {
  const r = promtool(['check', 'metrics'], text)
  assert.equal(r.status, 0, `${where}: promtool check metrics\n${r.stdout}${r.stderr}`)
}

function assertConventions(e: Exposition, histograms: readonly string[], where: string): void {
  assert.ok(e.types.size > 10, `${where}: metrics found`)
  for (const [name, type] of e.types) {
    assert.doesNotMatch(name, /_(ms|milliseconds)$|_ms_/, `${where}: ${name} is in milliseconds`)
    if (type === 'gauge') assert.doesNotMatch(name, /_total$/, `${where}: gauge ${name} is named like a counter`)
    if (type === 'counter') assert.match(name, /_total$/, `${where}: counter ${name} does not end in _total`)
  }
  for (const sample of e.samples) assert.doesNotMatch(sample.split(/[{ ]/)[0]!, /_(ms|milliseconds)$/, `${where}: ${sample}`)
  for (const name of histograms) assert.equal(e.types.get(name), 'histogram', `${where}: ${name} is a histogram`)
  assert.equal(e.types.get('process_cpu_seconds_total'), 'counter', `${where}: default process metrics`)
  assert.ok(valueOf(e, 'process_cpu_seconds_total')! > 0, `${where}: process_cpu_seconds_total has a value`)
}

void describe('/metrics by Prometheus convention', () => {
  let dir: string
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kfs-metrics-'))
  })
  after(() => rm(dir, { recursive: true, force: true }))

  void test('engine: counters, histograms, lag by topic and partition, freshness against the SLA', async () => {
    const log = new EmbeddedEventLog({ dir: join(dir, 'log'), fsync: 'never' })
    const registry = new EmbeddedSchemaRegistry({ dir: join(dir, 'schemas') })
    const store = new LocalObjectStore(join(dir, 'warehouse'))
    await log.createTopic(purchases.topic, purchases.partitions)
    const encoder = await createEncoder({ registry, subject: `${purchases.topic}-value`, schema: purchases.schema })
    const produced = await produceEvents(log, purchases.topic, encoder, generatePurchases({ count: 400, users: 20, seed: 11 }))
    await log.produce(purchases.topic, [{ key: 'u1', value: new Uint8Array([0xff, 0, 1]) }])
    const engine = createLiveEngine({
      log,
      stateStore: store,
      offline: new IcebergOfflineSink(store),
      online: new EmbeddedOnlineStore(),
      deadLetters: createDeadLetterTopicSink(log, 'kfs.dead-letters'),
      decoderFor: (s) => createDecoder({ registry, readerSchema: s.schema }),
      views: [userPurchases],
      groupId: 'kfs-engine',
      clock: systemClock,
      logger: silentLogger,
      checkpointMaxRecords: 100,
      checkpointIntervalMs: 100,
      tickMs: 20,
    })
    // The metrics' own clock: freshness is judged against it, so the test sets "now".
    let nowMs = 0
    const metricsRegistry = createEngineMetrics(engine.stats, { ...systemClock, nowMs: () => nowMs }, [userPurchases])
    const port = await freePort()
    const server = await listenForMetrics('127.0.0.1', port, (err) => assert.fail(err))
    server.expose(metricsRegistry)
    after(() => server.close())
    await engine.start()
    try {
      await waitFor(
        () => engine.stats.consumed >= produced.length + 1 && engine.stats.checkpoints > 0,
        'consumed and checkpointed',
      )
    } finally {
      await engine.stop()
    }
    const newestAsOf = engine.stats.newestOnlineAsOfMs[userPurchases.name]!
    const scrape = async () => {
      const res = await fetch(`http://127.0.0.1:${port}/metrics`)
      assert.equal(res.status, 200)
      const text = await res.text()
      assertPromtoolLint(text, 'engine')
      return parseExposition(text)
    }

    const slaMs = userPurchases.freshnessSlaMs
    nowMs = newestAsOf + slaMs - 5_000 // within the SLA
    const first = await scrape()
    assertConventions(first, ['kfs_checkpoint_duration_seconds', 'kfs_online_write_batch_duration_seconds'], 'engine')
    assert.equal(valueOf(first, 'kfs_consumed_records_total'), engine.stats.consumed)
    assert.equal(valueOf(first, 'kfs_checkpoints_total'), engine.stats.checkpoints)
    assert.equal(valueOf(first, 'kfs_checkpoint_duration_seconds_count'), engine.stats.checkpoints)
    assert.ok(valueOf(first, 'kfs_online_write_batch_duration_seconds_count')! > 0)
    assert.equal(valueOf(first, 'kfs_dead_letters_total{reason="undecodable",view="*"}'), 1)
    assert.equal(valueOf(first, `kfs_view_freshness_seconds{view="${userPurchases.name}"}`), slaMs / 1000 - 5)
    assert.equal(valueOf(first, `kfs_view_freshness_sla_seconds{view="${userPurchases.name}"}`), slaMs / 1000)
    assert.equal(valueOf(first, `kfs_view_freshness_sla_breached{view="${userPurchases.name}"}`), 0)
    const lagSeries = first.samples.filter((l) => l.startsWith('kfs_consumer_lag_records{'))
    assert.equal(lagSeries.length, purchases.partitions, lagSeries.join('\n'))
    for (const line of lagSeries)
      assert.match(line, new RegExp(`^kfs_consumer_lag_records\\{topic="${purchases.topic}",partition="\\d+"\\} 0$`))

    nowMs = newestAsOf + slaMs + 1_000 // past the SLA
    const second = await scrape()
    assert.equal(valueOf(second, `kfs_view_freshness_sla_breached{view="${userPurchases.name}"}`), 1)
    // Counters over the engine's totals count growth, not the total again at every scrape.
    assert.equal(valueOf(second, 'kfs_consumed_records_total'), engine.stats.consumed)
    assert.equal(valueOf(second, 'kfs_dead_letters_total{reason="undecodable",view="*"}'), 1)
  })

  void test('promtool check metrics refuses what the conventions forbid (it checks)', () => {
    const bad = '# HELP kfs_view_freshness_ms old name\n# TYPE kfs_view_freshness_ms gauge\nkfs_view_freshness_ms 3\n# TYPE kfs_consumed counter\nkfs_consumed 1\n'
    const r = promtool(['check', 'metrics'], bad)
    assert.notEqual(r.status, 0)
    assert.match(r.stdout + r.stderr, /kfs_view_freshness_ms metric names should not contain abbreviated units/)
    assert.match(r.stdout + r.stderr, /kfs_consumed counter metrics should have "_total" suffix/)
  })

  void test('serving: lookups by view and status, request latency histogram, default process metrics', async () => {
    const s = await startServer()
    try {
      assert.equal((await fetch(`${s.base}/v1/features/user_stats/u1`)).status, 200)
      assert.equal((await fetch(`${s.base}/v1/features/user_stats/nobody`)).status, 200)
      const res = await fetch(`${s.base}/metrics`)
      assert.equal(res.status, 200)
      const text = await res.text()
      assertPromtoolLint(text, 'serving')
      const e = parseExposition(text)
      assertConventions(e, ['kfs_serving_request_duration_seconds'], 'serving')
      assert.equal(valueOf(e, `kfs_serving_lookups_total{view="${userStats.name}",status="PRESENT"}`), 1)
      assert.equal(valueOf(e, `kfs_serving_lookups_total{view="${userStats.name}",status="MISSING"}`), 1)
      assert.equal(e.types.get('kfs_serving_cache_lookups_total'), 'counter')
    } finally {
      await s.close()
    }
  })
})
