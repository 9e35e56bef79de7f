/**
 * Prometheus metrics of the engine on an HTTP port, by Prometheus's conventions: seconds, counters
 * as monotonic `_total` counters, histograms for durations. Counts, lag per (topic, partition),
 * checkpoint and online-write durations, per-view freshness (now − newest as_of written online)
 * against the view's freshnessSla (docs/design.md §2), dead letters by reason and view, and the
 * default process and Node.js metrics. Totals are read from the engine's stats at scrape time and
 * durations arrive through `stats.timings`, so the hot path only bumps numbers.
 */
import { createServer, type Server } from 'node:http'
import client from 'prom-client'
import type { Clock } from '../core/clock.ts'
import type { EngineStats } from '../engine/engine-stats.ts'
import type { FeatureViewDef } from '../features/types.ts'
import type { CompactionKind, CompactionStats } from '../ports/offline-compaction.ts'
import { collectProcessMetrics, counterOverTotals, type Total } from '../serving/prometheus.ts'

type ViewSla = Pick<FeatureViewDef, 'name' | 'version' | 'freshnessSlaMs' | 'online'>

/** Seconds from 1 ms to 30 s: a checkpoint is a few object-store writes and a commit. */
const CHECKPOINT_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30]
/** Seconds from 0.5 ms to 5 s: one pipelined online write, or its retries. */
const ONLINE_WRITE_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5]

/** The freshnessSla of each online view by name (of its newest version, when the engine runs two). */
function slaSecondsByView(views: readonly ViewSla[]): Map<string, number> {
  const newest = new Map<string, ViewSla>()
  for (const v of views) if (v.online && (newest.get(v.name)?.version ?? -Infinity) < v.version) newest.set(v.name, v)
  return new Map([...newest].map(([name, v]) => [name, v.freshnessSlaMs / 1000]))
}

/**
 * `compaction`: what `kfs run`'s background compactions did (automatic-compaction.ts), by kind
 * (`features`, `archive`) — absent, and not exposed, when the engine does not compact (`off`).
 */
export function createEngineMetrics(stats: EngineStats, clock: Clock, views: readonly ViewSla[], compaction?: CompactionStats): client.Registry {
  const registry = new client.Registry()
  const counter = <L extends string>(name: string, help: string, labelNames: readonly L[], totals: () => Iterable<Total<L>>) =>
    counterOverTotals({ name, help, labelNames, registry, totals })
  const gauge = (name: string, help: string, labelNames: string[], collect: (g: client.Gauge) => void) =>
    new client.Gauge({ name, help, labelNames, registers: [registry], collect(this: client.Gauge) { collect(this) } })
  const nowSeconds = () => clock.nowMs() / 1000
  const slaSeconds = slaSecondsByView(views)

  counter('kfs_consumed_records_total', 'Records consumed from the event log', [], () => [[{}, stats.consumed]])
  counter('kfs_rekeyed_records_total', 'Records the re-key stages forwarded to internal topics', [], () => [[{}, stats.rekeyed]])
  counter('kfs_emitted_rows_total', 'Feature rows emitted', [], () => [[{}, stats.emittedRows]])
  counter('kfs_dead_letters_total', 'Records sent to the dead-letter topic, by reason and refusing view ("*": every view of the source)', ['reason', 'view'], function* () {
    for (const [view, byReason] of Object.entries(stats.deadLetteredByView)) for (const [reason, n] of Object.entries(byReason)) yield [{ reason, view }, n]
  })
  counter('kfs_checkpoints_total', 'Completed checkpoints', [], () => [[{}, stats.checkpoints]])
  counter('kfs_source_records_deleted_before_read_total', 'Source records the log deleted (retention) before this group read them', ['topic'], function* () {
    for (const [topic, n] of Object.entries(stats.deletedBeforeRead)) yield [{ topic }, n]
  })
  counter('kfs_checkpoints_fenced_total', 'Checkpoints refused because another owner published first', [], () => [[{}, stats.fenced]])
  counter('kfs_online_store_losses_total', 'Losses of online rows the engine saw (and reloaded the views from the offline tables for), by reason', ['reason'], function* () {
    for (const [reason, n] of Object.entries(stats.onlineLosses)) yield [{ reason }, n]
  })
  counter('kfs_online_store_reloaded_rows_total', 'Rows those reloads wrote back to the online store', [], () => [[{}, stats.onlineReloadedRows]])
  counter('kfs_online_store_reload_failures_total', 'Reloads of the online store that failed (each is tried again at the next check)', [], () => [[{}, stats.onlineReloadFailures]])

  const checkpointSeconds = new client.Histogram({ name: 'kfs_checkpoint_duration_seconds', help: 'Duration of each completed checkpoint', buckets: CHECKPOINT_BUCKETS, registers: [registry] })
  const cutSeconds = new client.Histogram({
    name: 'kfs_checkpoint_cut_duration_seconds',
    help: "Duration of each checkpoint's synchronous cut (the operator state snapshot), which stalls the event loop",
    buckets: ONLINE_WRITE_BUCKETS,
    registers: [registry],
  })
  const onlineWriteSeconds = new client.Histogram({
    name: 'kfs_online_write_batch_duration_seconds',
    help: 'Duration of the online writes of one partition batch (all its views, retries included)',
    buckets: ONLINE_WRITE_BUCKETS,
    registers: [registry],
  })
  stats.timings = {
    checkpoint: (ms) => checkpointSeconds.observe(ms / 1000),
    checkpointCut: (ms) => cutSeconds.observe(ms / 1000),
    onlineWriteBatch: (ms) => onlineWriteSeconds.observe(ms / 1000),
  }
  // A timestamp rather than an age (Prometheus's advice): `time() - x` is the age, and a stalled
  // exporter cannot make it look young. Absent until the first checkpoint.
  gauge('kfs_last_checkpoint_timestamp_seconds', 'Unix time of the last completed checkpoint', [], (g) => {
    if (stats.lastCheckpointAtMs > 0) g.set(stats.lastCheckpointAtMs / 1000)
  })
  gauge('kfs_online_store_reloading', '1 while the engine reloads the online store from the offline tables, else 0', [], (g) => g.set(stats.onlineReloading ? 1 : 0))
  gauge('kfs_consumer_lag_records', 'Records behind the partition end', ['topic', 'partition'], (g) => {
    for (const [topic, byPartition] of Object.entries(stats.lag)) for (const [partition, lag] of Object.entries(byPartition)) g.set({ topic, partition }, lag)
  })
  gauge('kfs_view_freshness_seconds', 'Now minus the newest as_of written online, per view (absent until the view writes a row)', ['view'], (g) => {
    for (const [view, asOf] of Object.entries(stats.newestOnlineAsOfMs)) g.set({ view }, nowSeconds() - asOf / 1000)
  })
  gauge('kfs_view_freshness_sla_seconds', "The view's freshnessSla", ['view'], (g) => {
    for (const [view, sla] of slaSeconds) g.set({ view }, sla)
  })
  gauge('kfs_view_freshness_sla_breached', '1 while the view is staler than its freshnessSla, else 0', ['view'], (g) => {
    for (const [view, sla] of slaSeconds) {
      const asOf = stats.newestOnlineAsOfMs[view]
      // No row yet is no breach: a view whose source is quiet has nothing to be fresh about.
      g.set({ view }, asOf !== undefined && nowSeconds() - asOf / 1000 > sla ? 1 : 0)
    }
  })
  if (compaction !== undefined) compactionMetrics(compaction, counter, gauge)
  collectProcessMetrics(registry)
  return registry
}

function compactionMetrics(
  compaction: CompactionStats,
  counter: <L extends string>(name: string, help: string, labelNames: readonly L[], totals: () => Iterable<Total<L>>) => unknown,
  gauge: (name: string, help: string, labelNames: string[], collect: (g: client.Gauge) => void) => unknown,
): void {
  const kinds = Object.keys(compaction) as CompactionKind[]
  counter('kfs_compaction_runs_total', 'Background compactions ended, by kind (features, archive) and outcome (committed; nothing: nothing worth it, or another compaction first; failed)', ['kind', 'outcome'], function* () {
    for (const kind of kinds) for (const [outcome, n] of Object.entries(compaction[kind].runs)) yield [{ kind, outcome }, n]
  })
  counter('kfs_compaction_files_rewritten_total', 'Data files the committed background compactions replaced', ['kind'], function* () {
    for (const kind of kinds) yield [{ kind }, compaction[kind].filesRewritten]
  })
  counter('kfs_compaction_files_written_total', 'Data files the committed background compactions wrote in their place', ['kind'], function* () {
    for (const kind of kinds) yield [{ kind }, compaction[kind].filesWritten]
  })
  counter('kfs_compaction_manifests_read_total', "Manifests the background compactions' plans decoded (feature tables: the others skipped or remembered)", ['kind'], function* () {
    for (const kind of kinds) yield [{ kind }, compaction[kind].manifestsRead]
  })
  // As the checkpoint's: a timestamp, `time() - x` the age. Absent until the kind's first compaction ends.
  gauge('kfs_compaction_last_run_timestamp_seconds', 'Unix time the last background compaction of the kind ended', ['kind'], (g) => {
    for (const kind of kinds) {
      const at = compaction[kind].lastRunEndMs
      if (at !== undefined) g.set({ kind }, at / 1000)
    }
  })
  gauge('kfs_compaction_last_run_duration_seconds', 'How long the last background compaction of the kind took', ['kind'], (g) => {
    for (const kind of kinds) {
      const ms = compaction[kind].lastRunDurationMs
      if (ms !== undefined) g.set({ kind }, ms / 1000)
    }
  })
}

/** The metrics port could not be bound (busy, or not allowed): a setting to fix, not a bug. */
export class MetricsPortError extends Error {
  readonly code: string | undefined
  constructor(host: string, port: number, cause: NodeJS.ErrnoException) {
    const why = cause.code === 'EADDRINUSE' ? 'is already in use' : cause.code === 'EACCES' ? 'is not allowed for this user' : `cannot be bound (${cause.message})`
    super(`KFS_METRICS_PORT=${port}: ${host}:${port} ${why}; choose a free port, or unset KFS_METRICS_PORT to run without a metrics endpoint`, { cause })
    this.name = 'MetricsPortError'
    this.code = cause.code
  }
}

export interface MetricsServer {
  /** Starts answering /metrics from `registry` (503 until then). */
  expose(registry: client.Registry): void
  close(): void
}

/**
 * Binds the metrics port before anything else starts, so a busy port fails `kfs run` at once
 * with `MetricsPortError` rather than an unhandled 'error' event after the engine has begun.
 * Errors after the port is bound go to `onLaterError`.
 */
export async function listenForMetrics(host: string, port: number, onLaterError: (err: Error) => void): Promise<MetricsServer> {
  let registry: client.Registry | undefined
  const server: Server = createServer((req, res) => {
    if (req.url !== '/metrics') {
      res.writeHead(404).end()
      return
    }
    if (registry === undefined) {
      res.writeHead(503).end('engine starting')
      return
    }
    registry
      .metrics()
      .then((text) => res.writeHead(200, { 'content-type': registry!.contentType }).end(text))
      .catch((err: unknown) => res.writeHead(500).end(String(err)))
  })
  await new Promise<void>((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException) => reject(new MetricsPortError(host, port, err))
    server.once('error', onError)
    server.listen(port, host, () => {
      server.off('error', onError)
      // e.g. EMFILE on accept: worth a log line, never a crash of the engine.
      server.on('error', onLaterError)
      resolve()
    })
  })
  return {
    expose(r) {
      registry = r
    },
    close() {
      server.close()
    },
  }
}
