/** `kfs replay`: backfill views from the raw archive (./replay-backfill.ts), or reload the online store from offline. */
import { FeatureStoreError } from '../../core/errors.ts'
import type { FeatureViewDef } from '../../features/types.ts'
import { consumedView } from '../../engine/plan-sources.ts'
import type { Registry } from '../../registry/index.ts'
import { backfillReadRetry } from '../../replay/backfill-before-live.ts'
import { reloadOnlineFromOffline } from '../../replay/online-from-offline.ts'
import { createRuntime, type Runtime } from '../runtime.ts'
import { flagOption, listOption, UsageError, type Command, type CommandContext } from './command.ts'
import { FEATURES_HELP, FEATURES_OPTION, loadFeatures, openRegistry } from './definitions.ts'
import { publishedViews, viewsWith } from './live-views.ts'
import { DEFAULT_GROUP } from './run.ts'
import { backfill } from './replay-backfill.ts'
import { requireDeclaredPartitions, sourcesReadBy } from '../../engine/source-partitions.ts'

export const replayCommand: Command = {
  name: 'replay',
  summary: 'Backfill views from the raw archive, or reload the online store from offline tables',
  usage:
    'kfs replay --views <a,b> [--snapshot-id <id> | --as-of <time>] [--online] [--group <id>] | --online-from-offline [--views a,b] [--json]',
  help: `
Backfill: reads the archive of each view's topic (pinned to a snapshot: the current one,
--snapshot-id, or the one current at --as-of) partition by partition in offset order, runs the same decode and operators as the
live engine, and writes the view's offline table — and with --online the online store, with
conditional writes, so fresher live values are never overwritten. Resumable after a kill and
idempotent when re-run. The view's backfill status in the registry goes pending → running →
complete (with the offsets it is complete through); the next \`kfs run\` hands the view over to
live consumption at exactly those offsets. A re-run for a view already complete does not
backfill it again and says so ("already backfilled"; "never backfilled" for a view kfs run
computed live from the start of its topic, its archive empty then), exit 0; to recompute a view,
publish a new version. With --online it loads the online store from the view's offline table instead, as
--online-from-offline does (so a backfill run without --online can be brought online later). Reads of
the archive, the checkpoints, the registry and the writer schemas are retried a bounded number of
times when they fail in passing; one that keeps failing, or is refused for good (access denied),
stops the backfill naming what it read (exit 1), and a re-run resumes. A status write whose
answer is lost is read back: if it landed, the backfill reports success. The records the view refuses are dead-lettered, named
for the view and its version (kfs dead-letters list), and re-drivable like live ones once the
cause is fixed (kfs dead-letters redrive). While another process (a kfs run) holds the
embedded event log, they wait beside it (<log dir>.pending/): that process moves them in once the
replay is done (within KFS_EMBEDDED_LOG_HANDOVER_MS, 1 s), else the next kfs command that opens
the log.

--online-from-offline: writes each entity's latest offline row back to the online store
(conditional, TTLs recomputed) — for when Redis has lost its data. A view not computed yet (its
backfill not complete) is not reloaded: named with --views it exits 1 before anything is written;
of the default selection it is left out, said on stderr (exit 1 when no view is computed).

The embedded online store takes one writer at a time: --online and --online-from-offline while
another process writes it (a kfs run) stop before writing anything, naming that process (exit 1).
Redis takes any number of writers.

--as-of <time> pins each view's archive table to the snapshot that was current at that time (the
table's snapshot log, as Iceberg's as-of-timestamp): the last committed at or before it. Views over
different topics each get their own table's. A time at or after the last commit — the future too —
picks the current snapshot, as Iceberg and Spark do; a later commit would change that pick, so the
snapshot chosen is printed (and in --json, archiveSnapshotId): --snapshot-id replays it again. A
time before the archive's first snapshot, or whose snapshot has expired (kfs compact, kfs run expire
old snapshots), exits 2 naming the oldest snapshot that can be picked.

Every view is checked before anything is written: a view not in the module, a --snapshot-id the
archive does not have, an --as-of it cannot answer, a view without an online store for --online or --online-from-offline, or a
--group whose live engine never consumed the view's topic (no kfs run of it could take the view
over) exits 2; an empty archive (nothing to backfill), empty offline tables (nothing to reload), or
the default group without checkpoints of the topic (it was consumed under another group) exit 1.

Options:
${FEATURES_HELP}
  --views <a,b>          views to replay (default: all online views, for --online-from-offline)
  --snapshot-id <id>     archive snapshot to replay (default: current); the same for every view
  --as-of <time>         replay the archive snapshot current at this time (ISO-8601, no zone = UTC;
                         epoch ms; or a duration ago such as 2h); not with --snapshot-id
  --online               also write the online store (a view already complete: load it from its
                         offline table)
  --group <id>           the live engine's group the backfill hands over to (default ${DEFAULT_GROUP})
  --online-from-offline  reload the online store from the offline tables
  --json                 print a JSON summary

Examples:
  kfs replay --views user_purchases
  kfs replay --views user_clicks --online
  kfs replay --views user_purchases --as-of 2026-11-01T00:00:00Z
  kfs replay --online-from-offline
`,
  options: {
    ...FEATURES_OPTION,
    views: { type: 'string', kind: 'names' },
    'snapshot-id': { type: 'string', kind: 'snapshot-id' },
    'as-of': { type: 'string', kind: 'time' },
    online: { type: 'boolean' },
    group: { type: 'string', kind: 'name' },
    'online-from-offline': { type: 'boolean' },
  },
  async run(args, ctx) {
    const only = listOption(args, 'views')
    const reload = flagOption(args, 'online-from-offline')
    if (!reload && only === undefined) throw new UsageError('name the views to backfill with --views')
    if (args.values['snapshot-id'] !== undefined && args.values['as-of'] !== undefined)
      throw new UsageError('give --snapshot-id or --as-of, not both: each pins the archive snapshot')
    const backfillOnly = ['snapshot-id', 'as-of', 'online', 'group'].filter((name) => args.values[name] !== undefined)
    if (reload && backfillOnly.length > 0)
      throw new UsageError(`--${backfillOnly[0]} is for a backfill, not --online-from-offline`)
    const runtime = await createRuntime(ctx.config())
    try {
      const { registry } = await openRegistry(ctx, { readRetry: backfillReadRetry(runtime.clock, runtime.logger) })
      const { set } = await loadFeatures(args, ctx, registry)
      const declared = await publishedViews(set, registry, only)
      // A backfill replays the archive partition by partition: a topic with another partition count
      // than its source declares has split entities' events (engine/source-partitions.ts).
      if (!reload) await requireDeclaredPartitions(await runtime.eventLogReader(), sourcesReadBy(declared))
      // A re-keyed view is backfilled from its internal topic's archive.
      const views = declared.map((v) => consumedView(v))
      // --online asked for a view with no online store would be ignored: its backfill writes no online row.
      const offlineOnly = flagOption(args, 'online') ? views.filter((v) => !v.online).map((v) => v.name) : []
      if (offlineOnly.length > 0)
        throw new UsageError(
          `--online: ${offlineOnly.join(', ')} ${offlineOnly.length === 1 ? 'has' : 'have'} no online store (online: false), so there is nothing to write online`,
        )
      const summary = reload
        ? await reloadOnline(
            await computedViews(
              viewsWith('online', views, only !== undefined, 'reload online'),
              registry,
              only !== undefined,
              ctx,
            ),
            runtime,
            ctx,
          )
        : await backfill(views, registry, runtime, args, ctx)
      if (ctx.json) ctx.out(`${JSON.stringify(summary)}\n`)
      return 0
    } finally {
      await runtime.close()
    }
  },
}

/**
 * The views to reload, computed ones only: a view whose backfill is not complete has no offline
 * table yet, or only part of its history (a backfill under way or killed), so reloading it would
 * write nothing, or stale rows, while reporting success. A named one is refused (exit 1) before
 * anything is written; of the default selection (every online view) it is left out, said on
 * stderr — views a `kfs run --views` never ran are not the reload's to fail — unless none is left.
 */
async function computedViews(
  views: readonly FeatureViewDef[],
  registry: Registry,
  named: boolean,
  ctx: CommandContext,
): Promise<readonly FeatureViewDef[]> {
  const states = await Promise.all(
    views.map(async (v) => ({ v, state: (await registry.getBackfillStatus(v.name, v.version))?.state })),
  )
  const pending = states.filter((s) => s.state !== 'complete')
  const computed = states.filter((s) => s.state === 'complete').map((s) => s.v)
  if (pending.length === 0) return views
  const one = pending.length === 1
  const which = pending.map((s) => `${s.v.name} v${s.v.version} (backfill ${s.state ?? 'not started'})`).join(', ')
  const way = `compute ${one ? 'it' : 'them'} first (kfs replay --views ${pending.map((s) => s.v.name).join(',')} --online, or kfs run)`
  if (!named && computed.length > 0) {
    ctx.err(`not reloaded: ${which} ${one ? 'is' : 'are'} not computed yet; ${way}\n`)
    return computed
  }
  throw new FeatureStoreError(
    'BACKFILL_INCOMPLETE',
    `nothing reloaded: ${which} ${one ? 'is' : 'are'} not computed yet, so ${one ? 'its' : 'their'} offline rows are not the view's; ${way}${named ? `, or leave ${one ? 'it' : 'them'} out of --views` : ''}`,
    { context: { views: pending.map((s) => `${s.v.name}@${s.v.version}`).join(',') } },
  )
}

async function reloadOnline(
  views: readonly FeatureViewDef[],
  runtime: Runtime,
  ctx: CommandContext,
): Promise<Record<string, unknown>[]> {
  const online = await runtime.onlineStore()
  const summary: Record<string, unknown>[] = []
  let entities = 0
  for (const view of views) {
    const result = await reloadOnlineFromOffline({
      view,
      online,
      rows: runtime.offline,
      nowMs: runtime.clock.nowMs(),
    })
    entities += result.entities
    summary.push({ view: `${view.name}@${view.version}`, ...result })
    if (!ctx.json)
      ctx.out(
        `${view.name} v${view.version}: ${result.entities} entities, ${result.written} rows written online, ${result.stale} already fresher\n`,
      )
  }
  if (entities === 0)
    throw new FeatureStoreError(
      'NOT_FOUND',
      `nothing reloaded: the offline tables of ${views.map((v) => v.name).join(', ')} hold no rows (has kfs run written them?)`,
    )
  return summary
}
