/**
 * Prometheus metrics of one server instance (its own prom-client Registry, so two servers in one
 * process — tests — never share counters): per-route latency, responses by status, lookups by view
 * and status, cache and push counters, the transport serving (`kfs_serving_transport_info`, an
 * info gauge: 1 on the series whose label names it), and the default process and Node.js metrics.
 *
 * Counters the serving code keeps itself (the hot-key cache's hits, the served log's outcomes) are
 * read at scrape time through `readTotals`, so the hot path never touches prom-client for them.
 */
import { Counter, Gauge, Histogram, Registry } from 'prom-client'
import type { OnlineStatus } from '../ports/online-store.ts'
import { collectProcessMetrics, counterOverTotals, type Total } from './prometheus.ts'

/** What the server reads at scrape time: totals kept outside prom-client, and a gauge's value. */
export interface ScrapedValues {
  cacheLookups(): Iterable<Total<'result'>>
  servedLogRecords(): Iterable<Total<'outcome'>>
  wsSubscriptions(): number
}

export interface ServingMetrics {
  readonly registry: Registry
  readonly latency: Histogram<'route'>
  readonly responses: Counter<'route' | 'status'>
  readonly wsConnections: Gauge
  readonly wsPushes: Counter
  /** Counts one (view, entity) lookup's status; label children are resolved once per pair. */
  countLookup(view: string, status: OnlineStatus): void
}

/** Facts fixed for the server's life. */
export interface ServingInfo {
  /** The transport serving: `uws` or `node` (serving/server/transport/select.ts). */
  readonly transport: string
}

export function createServingMetrics(scraped: ScrapedValues, info: ServingInfo): ServingMetrics {
  const registry = new Registry()
  collectProcessMetrics(registry)
  new Gauge({
    name: 'kfs_serving_transport_info',
    help: 'The transport serving HTTP and WebSocket: uws (uWebSockets.js) or node (node:http + ws); always 1',
    labelNames: ['transport'],
    registers: [registry],
  }).set({ transport: info.transport }, 1)
  counterOverTotals({
    name: 'kfs_serving_cache_lookups_total',
    help: 'Hot-key cache lookups by result (hit, miss)',
    labelNames: ['result'],
    registry,
    totals: () => scraped.cacheLookups(),
  })
  counterOverTotals({
    name: 'kfs_serving_served_log_records_total',
    help: 'Served-feature log records: sent, or dropped by reason (buffer_full, encode_failed, send_failed, shutdown)',
    labelNames: ['outcome'],
    registry,
    totals: () => scraped.servedLogRecords(),
  })
  new Gauge({
    name: 'kfs_serving_ws_subscriptions',
    help: 'Topics held by all open WebSocket connections',
    registers: [registry],
    collect(this: Gauge) {
      this.set(scraped.wsSubscriptions())
    },
  })
  const lookups = new Counter({
    name: 'kfs_serving_lookups_total',
    help: 'Online (view, entity) lookups by view and status (PRESENT, MISSING, OUTSIDE_TTL); one per distinct entity of a request',
    labelNames: ['view', 'status'],
    registers: [registry],
  })
  const lookupOf = new Map<string, Counter.Internal>()
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
    wsConnections: new Gauge({ name: 'kfs_serving_ws_connections', help: 'Open WebSocket connections', registers: [registry] }),
    wsPushes: new Counter({ name: 'kfs_serving_ws_pushes_total', help: 'Rows pushed to WebSocket topics', registers: [registry] }),
    countLookup(view, status) {
      const key = `${view}\u0000${status}`
      let child = lookupOf.get(key)
      if (child === undefined) lookupOf.set(key, (child = lookups.labels({ view, status })))
      child.inc()
    },
  }
}
