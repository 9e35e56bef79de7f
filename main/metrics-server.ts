/**
 * Prometheus metrics of the engine on an HTTP port: counts, lag per partition, checkpoint
 * duration and age, per-view freshness (now − newest as_of written online), sink latency.
 * Values are read from the engine's stats at scrape time, so the hot path only bumps numbers.
 */
import { createServer, type Server } from 'node:http'
import client from 'prom-client'
import type { Clock } from '../core/clock.ts'
import type { EngineStats } from '../pipeline/engine/engine-stats.ts'

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

export async function serveMetrics(registry: client.Registry, host: string, port: number): Promise<Server> {
  const server = createServer((req, res) => {
    if (req.url !== '/metrics') {
      res.writeHead(404).end()
      return
    }
    registry
      .metrics()
      .then((text) => res.writeHead(200, { 'content-type': registry.contentType }).end(text))
      .catch((err: unknown) => res.writeHead(500).end(String(err)))
  })
  await new Promise<void>((resolve) => server.listen(port, host, resolve))
  return server
}
