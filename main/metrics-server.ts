/**
 * Prometheus metrics of the engine on an HTTP port: counts, lag per partition, checkpoint
 * duration and age, per-view freshness (now − newest as_of written online), sink latency.
 * Values are read from the engine's stats at scrape time, so the hot path only bumps numbers.
 */
import { createServer, type Server } from 'node:http'
import client from 'prom-client'
import type { Clock } from '../core/clock.ts'
import type { EngineStats } from '../engine/engine-stats.ts'

export function createEngineMetrics(stats: EngineStats, clock: Clock): client.Registry {
  const registry = new client.Registry()
  const gauge = (name: string, help: string, labelNames: string[], collect: (g: client.Gauge) => void) =>
    new client.Gauge({ name, help, labelNames, registers: [registry], collect(this: client.Gauge) { collect(this) } })
  gauge('kfs_consumed_records_total', 'Records consumed from the event log', [], (g) => g.set(stats.consumed))
  gauge('kfs_emitted_rows_total', 'Feature rows emitted', [], (g) => g.set(stats.emittedRows))
  gauge('kfs_dead_lettered_total', 'Records sent to the dead-letter topic, by reason', ['reason'], (g) => {
    for (const [reason, n] of Object.entries(stats.deadLettered)) g.set({ reason }, n)
  })
  gauge('kfs_checkpoints_total', 'Completed checkpoints', [], (g) => g.set(stats.checkpoints))
  gauge('kfs_checkpoint_duration_ms', 'Duration of the last checkpoint', [], (g) => g.set(stats.lastCheckpointDurationMs))
  gauge('kfs_checkpoint_age_ms', 'Time since the last checkpoint', [], (g) => g.set(stats.lastCheckpointAtMs ? clock.nowMs() - stats.lastCheckpointAtMs : 0))
  gauge('kfs_consumer_lag_records', 'Records behind the partition end', ['partition'], (g) => {
    for (const [partition, lag] of Object.entries(stats.lag)) g.set({ partition }, lag)
  })
  gauge('kfs_view_freshness_ms', 'Now minus the newest as_of written online, per view', ['view'], (g) => {
    for (const [view, asOf] of Object.entries(stats.newestOnlineAsOfMs)) g.set({ view }, clock.nowMs() - asOf)
  })
  gauge('kfs_online_write_ms_total', 'Time spent writing rows online', [], (g) => g.set(stats.onlineWriteMs))
  gauge('kfs_checkpoints_fenced_total', 'Checkpoints refused because another owner published first', [], (g) => g.set(stats.fenced))
  client.collectDefaultMetrics({ register: registry })
  return registry
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
