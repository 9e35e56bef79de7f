/**
 * Prometheus metrics of one server instance (its own prom-client Registry, so two servers in one
 * process — tests — never share counters): per-route latency, responses by status, cache and
 * push counters.
 */
import { Counter, Gauge, Histogram, Registry } from 'prom-client'

export interface ServingMetrics {
  readonly registry: Registry
  readonly latency: Histogram<'route'>
  readonly responses: Counter<'route' | 'status'>
  readonly cache: Gauge<'result'>
  readonly wsConnections: Gauge
  readonly wsSubscriptions: Gauge
  readonly wsPushes: Counter
  readonly servedLog: Gauge<'outcome'>
}

export function createServingMetrics(): ServingMetrics {
  const registry = new Registry()
  return {
    registry,
    latency: new Histogram({
      name: 'kfs_serving_request_duration_seconds',
      help: 'Request latency by route',
      labelNames: ['route'],
      buckets: [0.0002, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
      registers: [registry],
    }),
    responses: new Counter({ name: 'kfs_serving_responses_total', help: 'Responses by route and status', labelNames: ['route', 'status'], registers: [registry] }),
    // Read from the cache's own counters at scrape time, so the hot path never touches prom-client.
    cache: new Gauge({ name: 'kfs_serving_cache_lookups', help: 'Hot-key cache lookups by result since start', labelNames: ['result'], registers: [registry] }),
    wsConnections: new Gauge({ name: 'kfs_serving_ws_connections', help: 'Open WebSocket connections', registers: [registry] }),
    // Read from the subscription counts at scrape time.
    wsSubscriptions: new Gauge({ name: 'kfs_serving_ws_subscriptions', help: 'Topics held by all open WebSocket connections', registers: [registry] }),
    wsPushes: new Counter({ name: 'kfs_serving_ws_pushes_total', help: 'Rows pushed to WebSocket topics', registers: [registry] }),
    // Read from the served log's own counters at scrape time, like the cache.
    servedLog: new Gauge({
      name: 'kfs_serving_served_log_records',
      help: 'Served-feature log records since start: sent, or dropped by reason (buffer_full, encode_failed, send_failed, shutdown)',
      labelNames: ['outcome'],
      registers: [registry],
    }),
  }
}
