/** `kfs verify-parity`: replay a view from the archive and compare with the live offline rows. */
import { FeatureStoreError } from '../../core/errors.ts'
import { consumedView } from '../../engine/plan-sources.ts'
import type { ObjectStore } from '../../ports/object-store.ts'
import { MemoryObjectStore } from '../../adapters/object-store/index.ts'
import { verifyParity } from '../../replay/verify-parity.ts'
import { createRuntime } from '../runtime.ts'
import { listOption, stringOption, UsageError, type Command } from './command.ts'
import { FEATURES_HELP, FEATURES_OPTION, loadFeatures, openRegistry } from './definitions.ts'
import { publishedViews, viewsWith } from './live-views.ts'
import { progressFor } from './progress.ts'
import { DEFAULT_GROUP } from './run.ts'

export const verifyParityCommand: Command = {
  name: 'verify-parity',
  summary: 'Prove live == replay: recompute views from the archive and compare row by row',
  usage: 'kfs verify-parity [--views a,b] [--group <id>] [--json]',
  help: `
For each view, replays its topic's raw archive through the same decode and operators the live
engine ran, and compares the result with the rows the live engine wrote to the view's offline
table: same entities, same as_of, same values bit for bit, same order within each entity.
Both are read at the same checkpoint (a consistent cut), so it can run while the engine runs.
Prints matching counts and the first differences; exits 1 on any mismatch, and when a view has
nothing to compare (no rows live or replayed) or the engine has no checkpoint yet. A --group with
no checkpoints, or a --views name that is not an offline view of the module, exits 2.

Options:
${FEATURES_HELP}
  --views <a,b>          views to verify (default: every view of the module)
  --group <id>           the live engine's consumer group (default ${DEFAULT_GROUP})
  --json                 print the reports as JSON

Examples:
  kfs verify-parity
  kfs verify-parity --views user_purchases --json
`,
  options: { ...FEATURES_OPTION, views: { type: 'string', kind: 'names' }, group: { type: 'string', kind: 'name' } },
  async run(args, ctx) {
    const only = listOption(args, 'views')
    const groupId = stringOption(args, 'group') ?? DEFAULT_GROUP
    const runtime = await createRuntime(ctx.config())
    try {
      const { registry } = await openRegistry(ctx)
      const { set } = await loadFeatures(args, ctx, registry)
      // A re-keyed view is computed from its internal topic, so it is replayed from that topic's archive.
      const views = viewsWith('offline', await publishedViews(set, registry, only), only !== undefined, 'verify').map((v) =>
        consumedView(v),
      )
      await requireCheckpoints(runtime.store, groupId, args.values.group !== undefined)
      const reports = []
      const progress = progressFor(ctx)
      for (const [i, view] of views.entries()) {
        progress.ticking(`verifying ${view.name} (${i + 1}/${views.length}): replaying its archive…`)
        const report = await verifyParity({
          offline: runtime.offline,
          decoder: runtime.decoderFor(view.source),
          view,
          groupId,
          scratch: new MemoryObjectStore(),
        }).catch(async (err: unknown) => {
          // A view not computed yet has no feature table: say so, not "restore it from a copy"
          // (nothing is damaged; the way on is to compute it).
          const backfill = (await registry.getBackfillStatus(view.name, view.version))?.state
          if (!(err instanceof FeatureStoreError) || err.code !== 'NOT_FOUND' || backfill === 'complete') throw err
          throw new FeatureStoreError(
            'NOT_FOUND',
            `nothing to compare for ${view.name} v${view.version}: it has not been computed yet (its backfill is ${backfill ?? 'not started'}); run kfs replay --views ${view.name}, or kfs run, first`,
            { cause: err, context: { view: view.name, version: view.version } },
          )
        })
        progress.done()
        // Zero rows on both sides proves nothing: "checked nothing" is a failure, not a match.
        const checked = report.liveRows + report.replayRows > 0
        reports.push({ ...report, ok: report.ok && checked, checked })
        if (!ctx.json) {
          if (!checked) {
            ctx.out(`✗ ${report.view}: nothing to compare — no rows live or replayed at group ${groupId}'s latest checkpoint\n`)
            continue
          }
          const pct = (100 * report.matchingRows) / Math.max(report.liveRows, report.replayRows)
          ctx.out(
            `${report.ok ? '✓' : '✗'} ${report.view}: ${report.matchingRows}/${report.liveRows} live rows identical to replay (${pct.toFixed(2)}%), ${report.entities} entities\n`,
          )
          for (const d of report.differences)
            ctx.out(`    ${d.entityKey} row ${d.index}: live ${JSON.stringify(d.live)} · replay ${JSON.stringify(d.replay)}\n`)
        }
      }
      if (ctx.json) ctx.out(`${JSON.stringify(reports)}\n`)
      return reports.every((r) => r.ok) ? 0 : 1
    } finally {
      await runtime.close()
    }
  },
}

/**
 * The live engine's checkpoints of `groupId` must exist: a group that never checkpointed has no
 * consistent cut to compare at. Naming one is a usage error (exit 2, with the groups that exist);
 * the default group without checkpoints means the engine has not run yet (exit 1).
 */
async function requireCheckpoints(store: ObjectStore, groupId: string, named: boolean): Promise<void> {
  if ((await store.list(`checkpoints/${encodeURIComponent(groupId)}/`)).length > 0) return
  if (!named)
    throw new FeatureStoreError(
      'NOT_FOUND',
      `nothing to verify: the live engine (group ${groupId}) has no checkpoint yet; run kfs run first`,
    )
  const groups = new Set<string>()
  for (const key of await store.list('checkpoints/')) {
    const group = decodeURIComponent(key.split('/')[1] ?? '')
    if (group !== '' && !group.includes('.backfill.')) groups.add(group)
  }
  throw new UsageError(
    `--group: no checkpoints under group ${groupId}; groups with checkpoints: ${[...groups].join(', ') || '(none; run kfs run first)'}`,
  )
}
