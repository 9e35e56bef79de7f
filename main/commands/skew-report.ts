/** `kfs skew-report`: served values vs the point-in-time offline rows, per feature (training/skew-report.ts). */
import { createDecoder } from '../../schemas/decoder.ts'
import { DEFAULT_SERVED_LOG_TOPIC, SERVED_FEATURES_SCHEMA } from '../../serving/served-log/index.ts'
import { createSkewReport, failingFeatures, type SkewReport } from '../../training/skew-report.ts'
import { trainingAdapters } from '../offline-adapters.ts'
import { listOption, numberOption, stringOption, UsageError, type Command } from './command.ts'
import { openRegistry } from './definitions.ts'
import { openReadSideRuntime, readSideRetry } from './read-side.ts'

export const skewReportCommand: Command = {
  name: 'skew-report',
  summary: 'Compare what serving returned (the served-feature log) with the offline rows, per feature',
  usage: 'kfs skew-report [--topic <topic>] [--views a,b] [--from <time>] [--until <time>] [--min-match <pct>] [--json]',
  help: `
Reads the served-feature log (written by kfs serve) from its raw archive — the Iceberg table
kfs run writes for the topic like any source's, so run kfs run first — and joins every served
(view, entity) lookup with the offline rows of that view at the served-at time, as served: the
row the online store held then (latest as_of among rows created by that time, the training-set
tie rules; null outside the TTL). This is the join of an as-served kfs training-set.

Per feature it prints how many lookups were compared, the exact-match %, and for numeric
features the mean and p99 of |served − offline| (pairs where both are numbers). Zero skew is
expected by construction. Exit 1 when a feature's exact match is below --min-match, or when
there was nothing to compare; 2 on a usage error (a bad value, or a --views name the registry
does not have).

Options:
  --topic <topic>        served-log topic (default KFS_SERVE_LOG_TOPIC or ${DEFAULT_SERVED_LOG_TOPIC})
  --views <a,b>          only these views
  --from <time>          only lookups served at or after: ISO-8601 (no zone: UTC), epoch ms, or a duration ago (1h)
  --until <time>         only lookups served before (same forms)
  --min-match <pct>      lowest acceptable exact-match %, 0-100 (default 100)
  --json                 print the report as JSON

Examples:
  kfs skew-report
  kfs skew-report --views user_purchases --from 1d --min-match 99.9 --json
`,
  options: {
    topic: { type: 'string', kind: 'name' },
    views: { type: 'string', kind: 'names' },
    from: { type: 'string', kind: 'time' },
    until: { type: 'string', kind: 'time' },
    'min-match': { type: 'string', kind: 'percent' },
  },
  async run(args, ctx) {
    const minMatchPct = numberOption(args, 'min-match') ?? 100
    const views = listOption(args, 'views')
    const fromMs = numberOption(args, 'from')
    const untilMs = numberOption(args, 'until')
    if (fromMs !== undefined && untilMs !== undefined && fromMs >= untilMs) throw new UsageError('--from must be before --until')
    const config = ctx.config()
    const topic = stringOption(args, 'topic') ?? config.serveLog?.topic ?? DEFAULT_SERVED_LOG_TOPIC
    const runtime = await openReadSideRuntime(ctx)
    try {
      const { registry } = await openRegistry(ctx, { readRetry: readSideRetry(ctx, runtime) })
      if (views !== undefined) {
        const known = new Set((await registry.snapshot()).views.map((v) => v.name))
        const unknown = views.filter((v) => !known.has(v))
        if (unknown.length > 0)
          throw new UsageError(
            `--views: ${unknown.join(', ')} not in the registry; views: ${[...known].join(', ') || '(none; run kfs apply)'}`,
          )
      }
      const { parquet, createJoiner } = trainingAdapters(runtime.offline, { parquetWorker: config.parquetWorker })
      const report = await createSkewReport({
        offline: runtime.offline,
        parquet,
        createJoiner,
        registry,
        decoder: createDecoder({ registry: runtime.schemas, readerSchema: SERVED_FEATURES_SCHEMA }),
        topic,
        ...(views === undefined ? {} : { views }),
        ...(fromMs === undefined ? {} : { fromMs }),
        ...(untilMs === undefined ? {} : { untilMs }),
      })
      const failing = failingFeatures(report, minMatchPct)
      const ok = report.records > 0 && failing.length === 0
      if (ctx.json) {
        ctx.out(
          `${JSON.stringify({ ok, minMatchPct, failing: failing.map((f) => `${f.view}:${f.feature}`), ...report }, null, 2)}\n`,
        )
      } else {
        ctx.out(formatReport(report, minMatchPct, failing.length))
      }
      return ok ? 0 : 1
    } finally {
      await runtime.close()
    }
  },
}

const pct = (v: number | null): string => (v === null ? '-' : `${v.toFixed(2)} %`)
const num = (v: number | null): string => (v === null ? '-' : Number(v.toPrecision(6)).toString())

export function formatReport(report: SkewReport, minMatchPct: number, failing: number): string {
  const lines = [
    `Served-feature log ${report.topic}: ${report.records} lookups compared (archive snapshot ${report.archiveSnapshotId ?? 'none'})`,
  ]
  if (report.features.length > 0) {
    const header = ['view', 'feature', 'compared', 'exact match', 'mean |diff|', 'p99 |diff|']
    const rows = report.features.map((f) => [
      f.view,
      f.feature,
      String(f.compared),
      pct(f.exactMatchPct),
      f.numeric ? num(f.meanAbsDiff) : 'n/a',
      f.numeric ? num(f.p99AbsDiff) : 'n/a',
    ])
    const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)))
    const fmt = (r: string[]) =>
      r
        .map((c, i) => (i < 2 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!)))
        .join('  ')
        .trimEnd()
    lines.push('', fmt(header), ...rows.map(fmt), '')
  }
  const compared = report.features.reduce((n, f) => n + f.compared, 0)
  const matches = report.features.reduce((n, f) => n + f.exactMatches, 0)
  const lowest = report.features.filter((f) => f.exactMatchPct !== null).sort((a, b) => a.exactMatchPct! - b.exactMatchPct!)[0]
  const { undecodable, malformed, unknownView, unknownFeature, noOfflineStore, duplicates } = report.skipped
  lines.push(
    `Summary: ${report.features.length} features, ${compared} values compared, ${pct(compared === 0 ? null : (100 * matches) / compared)} exact` +
      (lowest ? `; lowest ${lowest.view}:${lowest.feature} ${pct(lowest.exactMatchPct)}` : ''),
  )
  if (undecodable + malformed + unknownView + unknownFeature + noOfflineStore + duplicates > 0) {
    lines.push(
      `Skipped: ${undecodable} undecodable, ${malformed} malformed records; ${unknownView} lookups of unknown views; ${unknownFeature} values of unknown features` +
        (noOfflineStore > 0 ? `; ${noOfflineStore} lookups of views without an offline store` : '') +
        (duplicates > 0 ? `; ${duplicates} copies of lookups already counted (the log delivers at least once)` : ''),
    )
  }
  if (report.records === 0)
    lines.push(
      'Nothing to compare: no served lookups in the archive (is the log on, its topic a source of the features module, and kfs run archiving it?)',
    )
  else
    lines.push(
      failing === 0
        ? `OK: every feature at or above ${minMatchPct} % exact match`
        : `FAIL: ${failing} feature(s) below ${minMatchPct} % exact match`,
    )
  return `${lines.join('\n')}\n`
}
