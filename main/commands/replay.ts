/** `kfs replay`: backfill views from the raw archive, or reload the online store from offline. */
import { DefinitionError } from '../../core/errors.ts'
import { consumedView } from '../../pipeline/engine/plan-sources.ts'
import { reloadOnlineFromOffline } from '../../replay/online-from-offline.ts'
import { readFeatureRowsByEntity } from '../../sinks/iceberg/feature-rows.ts'
import { createRuntime } from '../runtime.ts'
import { stringOption, UsageError, type Command } from './command.ts'
import { FEATURES_HELP, FEATURES_OPTION, loadFeatures, openRegistry } from './definitions.ts'
import { backfillRecorded, publishedViews } from './live-views.ts'
import { progressLine } from './progress-line.ts'
import { DEFAULT_GROUP } from './run.ts'

export const replayCommand: Command = {
  name: 'replay',
  summary: 'Backfill views from the raw archive, or reload the online store from offline tables',
  usage: 'kfs replay --views <a,b> [--snapshot-id <id>] [--online] [--group <id>] | --online-from-offline [--views a,b] [--json]',
  help: `
Backfill: reads the archive of each view's topic (pinned to a snapshot: the current one, or
--snapshot-id) partition by partition in offset order, runs the same decode and operators as the
live engine, and writes the view's offline table — and with --online the online store, with
conditional writes, so fresher live values are never overwritten. Resumable after a kill and
idempotent when re-run. The view's backfill status in the registry goes pending → running →
complete (with the offsets it is complete through); the next \`kfs run\` hands the view over to
live consumption at exactly those offsets.

--online-from-offline: writes each entity's latest offline row back to the online store
(conditional, TTLs recomputed) — for when Redis has lost its data.

Options:
${FEATURES_HELP}
  --views <a,b>          views to replay (default: all, for --online-from-offline)
  --snapshot-id <id>     archive snapshot to replay (default: current)
  --online               also write the online store
  --group <id>           the live engine's group the backfill hands over to (default ${DEFAULT_GROUP})
  --online-from-offline  reload the online store from the offline tables
  --json                 print a JSON summary

Examples:
  kfs replay --views user_purchases
  kfs replay --views user_clicks --online
  kfs replay --online-from-offline
`,
  options: {
    ...FEATURES_OPTION,
    views: { type: 'string' },
    'snapshot-id': { type: 'string' },
    online: { type: 'boolean' },
    group: { type: 'string' },
    'online-from-offline': { type: 'boolean' },
  },
  async run(args, ctx) {
    const only = stringOption(args, 'views')?.split(',').map((s) => s.trim()).filter(Boolean)
    const reload = args.values['online-from-offline'] === true
    if (!reload && (only === undefined || only.length === 0)) throw new UsageError('name the views to backfill with --views')
    const runtime = await createRuntime(ctx.config())
    try {
      const { registry } = await openRegistry(ctx)
      const { set } = await loadFeatures(args, ctx, registry)
      // A re-keyed view is backfilled from its internal topic's archive.
      const views = (await publishedViews(set, registry, only)).map((v) => consumedView(v))
      const summary: Record<string, unknown>[] = []
      if (reload) {
        const online = await runtime.onlineStore()
        for (const view of views.filter((v) => v.online)) {
          const result = await reloadOnlineFromOffline({ view, online, readRows: (v) => readFeatureRowsByEntity(runtime.store, v), nowMs: runtime.clock.nowMs() })
          summary.push({ view: `${view.name}@${view.version}`, ...result })
          if (!ctx.json) ctx.out(`${view.name} v${view.version}: ${result.entities} entities, ${result.written} rows written online, ${result.stale} already fresher\n`)
        }
      } else {
        const groupId = stringOption(args, 'group') ?? DEFAULT_GROUP
        const snapshotId = stringOption(args, 'snapshot-id')
        for (const view of views) {
          if ((await registry.getBackfillStatus(view.name, view.version))?.state === 'complete') {
            throw new DefinitionError(`view ${view.name} v${view.version} is already backfilled and live; publish a new version to recompute it`)
          }
          // A progress bar on a terminal only: CI logs and --json stay quiet.
          const interactive = !ctx.json && process.stderr.isTTY
          const startedAt = runtime.clock.nowMs()
          let shownAt = -Infinity
          const result = await backfillRecorded(registry, runtime, {
            view,
            liveGroupId: groupId,
            ...(args.values.online === true ? { online: await runtime.onlineStore() } : {}),
            ...(snapshotId === undefined ? {} : { archiveSnapshotId: snapshotId }),
            logger: runtime.logger,
            onProgress: (p) => {
              const now = runtime.clock.nowMs()
              if (!interactive || (!p.partitionDone && now - shownAt < 250)) return
              shownAt = now
              ctx.err(`\r${progressLine(view.name, { done: p.records, total: p.totalRecords, rows: p.rows }, now - startedAt)}   `)
            },
          })
          if (interactive) ctx.err(`\r${progressLine(view.name, { done: result.records, total: result.records, rows: result.rows }, runtime.clock.nowMs() - startedAt, true)}   \n`)
          summary.push({ view: `${view.name}@${view.version}`, ...result })
          if (!ctx.json) ctx.out(`${view.name} v${view.version}: backfilled ${result.records} records → ${result.rows} rows (complete through ${JSON.stringify(result.completeThrough)})\n`)
        }
      }
      if (ctx.json) ctx.out(`${JSON.stringify(summary)}\n`)
      return 0
    } finally {
      await runtime.close()
    }
  },
}
