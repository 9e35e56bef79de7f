/**
 * prom-client helpers that both processes' metrics use (serving/metrics.ts, and the engine's in
 * main/metrics-server.ts): the default process and Node.js metrics, and counters over totals the
 * code keeps itself.
 */
import { collectDefaultMetrics, Counter, type Registry } from 'prom-client'

/**
 * prom-client's default process and Node.js metrics (CPU seconds, memory, file descriptors, event
 * loop lag, GC durations), less the three `nodejs_active_*_total` it types as gauges: a gauge
 * named like a counter breaks `rate()`-by-name conventions. `sum(nodejs_active_handles)` (by type,
 * still exported) gives the same number.
 */
export function collectProcessMetrics(registry: Registry): void {
  collectDefaultMetrics({ register: registry })
  for (const name of ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total'])
    registry.removeSingleMetric(name)
}

/** One labelled value of a total: label values by name, and the total so far. */
export type Total<L extends string> = readonly [labels: Partial<Record<L, string>>, total: number]

/**
 * A Counter over totals kept elsewhere (plain numbers the hot path bumps): at each scrape it
 * increments every series by what its total grew since the last scrape, so it is monotonic and
 * typed `counter`, and nothing but the scrape touches prom-client. A total that shrank (it should
 * not) is taken as a restart of its source and only its growth from there is counted.
 */
export function counterOverTotals<L extends string>(options: {
  readonly name: string
  readonly help: string
  readonly labelNames: readonly L[]
  readonly registry: Registry
  readonly totals: () => Iterable<Total<L>>
}): Counter<L> {
  const seen = new Map<string, number>()
  return new Counter<L>({
    name: options.name,
    help: options.help,
    labelNames: options.labelNames,
    registers: [options.registry],
    collect(this: Counter<L>) {
      for (const [labels, total] of options.totals()) {
        const key = options.labelNames.map((l) => labels[l] ?? '').join('\u0000')
        const before = seen.get(key) ?? 0
        seen.set(key, total)
        const grew = total >= before ? total - before : total
        // inc(0) still creates the series, so a counter is visible (at 0) before its first event.
        this.inc(labels, grew)
      }
    },
  })
}
