/** `kfs verify-parity`: replay a view from the archive and compare with the live offline rows. */
import { FeatureStoreError } from '../../core/errors.ts'
import { consumedView } from '../../engine/plan-sources.ts'
import type { ObjectStore } from '../../ports/object-store.ts'
import { MemoryObjectStore } from '../../adapters/object-store/index.ts'
import type { FeatureViewDef } from '../../features/types.ts'
import type { Registry } from '../../registry/index.ts'
import { verifyParity, type ParityReport } from '../../replay/verify-parity.ts'
import type { Runtime } from '../runtime.ts'
import { listOption, stringOption, UsageError, type Command, type CommandContext } from './command.ts'
import { FEATURES_HELP, FEATURES_OPTION, loadFeatures, openRegistry } from './definitions.ts'
import { publishedViews, viewsWith } from './live-views.ts'
import { progressFor } from './progress.ts'
import { openReadSideRuntime, readSideRetry } from './read-side.ts'
import { isSystemError } from './router.ts'
import { DEFAULT_GROUP } from './run.ts'
import { requireDeclaredPartitions, sourcesReadBy } from '../../engine/source-partitions.ts'

export const verifyParityCommand: Command = {
  name: 'verify-parity',
  summary: 'Prove live == replay: recompute views from the archive and compare row by row',
  usage: 'kfs verify-parity [--views a,b] [--group <id>] [--json]',
  help: `
For each view, replays its topic's raw archive through the same decode and operators the live
engine ran, and compares the result with the rows the live engine wrote to the view's offline
table: same entities, same as_of, same values bit for bit, same order within each entity.
Both are read at the same checkpoint (a consistent cut), so it can run while the engine runs.
Prints one result per view: its matching counts and first differences, or why it could not be
checked (not computed yet, a table missing or damaged, no rows live or replayed); every selected
view is checked even when one before it fails. Exits 0 only when every view matched, 1 when any
view differs or could not be checked, or the engine has no checkpoint yet (with one view, its
failure is the command's error). A --group with no checkpoints, or a --views name that is not an
offline view of the module, exits 2 before anything is checked. --json prints a list with one
entry per view: status match, differ or unchecked (with its reason and error code).

Options:
${FEATURES_HELP}
  --views <a,b>          views to verify (default: every view of the module)
  --group <id>           the live engine's consumer group (default ${DEFAULT_GROUP})
  --json                 print the per-view results as JSON

Examples:
  kfs verify-parity
  kfs verify-parity --views user_purchases --json
`,
  options: { ...FEATURES_OPTION, views: { type: 'string', kind: 'names' }, group: { type: 'string', kind: 'name' } },
  async run(args, ctx) {
    const only = listOption(args, 'views')
    const groupId = stringOption(args, 'group') ?? DEFAULT_GROUP
    const runtime = await openReadSideRuntime(ctx)
    try {
      const { registry } = await openRegistry(ctx, { readRetry: readSideRetry(ctx, runtime) })
      const { set } = await loadFeatures(args, ctx, registry)
      // A re-keyed view is computed from its internal topic, so it is replayed from that topic's archive.
      const declared = viewsWith('offline', await publishedViews(set, registry, only), only !== undefined, 'verify')
      const views = declared.map((v) => consumedView(v))
      await requireCheckpoints(runtime.store, groupId, args.values.group !== undefined)
      const results: ViewResult[] = []
      const progress = progressFor(ctx)
      for (const [i, view] of views.entries()) {
        progress.ticking(`verifying ${view.name} (${i + 1}/${views.length}): replaying its archive…`)
        const result = await verifyView(view, declared[i]!, groupId, runtime, registry).catch((err: unknown) => {
          // One view selected: its error is the command's (message and --json error document as
          // before). Several: a view that cannot be checked must not hide the others' results, so
          // it is reported as unchecked with its reason and the next view runs. A bug still throws.
          if (views.length === 1 || !(err instanceof FeatureStoreError || isSystemError(err))) throw err
          return unchecked(view, err)
        })
        progress.done()
        results.push(result)
        if (!ctx.json) printResult(ctx, result)
      }
      if (ctx.json) ctx.out(`${JSON.stringify(results)}\n`)
      else if (results.length > 1) ctx.out(`${summary(results)}\n`)
      return results.every((r) => r.status === 'match') ? 0 : 1
    } finally {
      await runtime.close()
    }
  },
}

/** One view's outcome: `match` and `differ` carry the comparison; `unchecked` says why there is none. */
type ViewResult =
  | (ParityReport & { readonly status: 'match' | 'differ'; readonly checked: true })
  | (Partial<ParityReport> & {
      readonly view: string
      readonly status: 'unchecked'
      readonly ok: false
      readonly checked: false
      readonly reason: string
      /** kfs's error code (or the system's) when the check failed; absent when it compared nothing. */
      readonly code?: string
    })

async function verifyView(
  view: FeatureViewDef,
  declared: FeatureViewDef,
  groupId: string,
  runtime: Runtime,
  registry: Registry,
): Promise<ViewResult> {
  // Live and replay both split an entity whose events a topic with another partition count than
  // declared sent to two partitions: they would agree, and prove nothing (engine/source-partitions.ts).
  await requireDeclaredPartitions(await runtime.eventLogReader(), sourcesReadBy([declared]))
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
  // Zero rows on both sides proves nothing: "checked nothing" is a failure, not a match.
  if (report.liveRows + report.replayRows === 0)
    return {
      ...report,
      status: 'unchecked',
      ok: false,
      checked: false,
      reason: `nothing to compare — no rows live or replayed at group ${groupId}'s latest checkpoint`,
    }
  return { ...report, status: report.ok ? 'match' : 'differ', checked: true }
}

function unchecked(view: FeatureViewDef, err: FeatureStoreError | (Error & { code: string })): ViewResult {
  return {
    view: `${view.name}@${view.version}`,
    status: 'unchecked',
    ok: false,
    checked: false,
    reason: err.message,
    code: err.code,
  }
}

function printResult(ctx: CommandContext, result: ViewResult): void {
  if (result.status === 'unchecked') {
    // The line for a view with no rows at the cut is the one this command always printed.
    ctx.out(
      result.code === undefined ? `✗ ${result.view}: ${result.reason}\n` : `✗ ${result.view}: not checked — ${result.reason}\n`,
    )
    return
  }
  const pct = (100 * result.matchingRows) / Math.max(result.liveRows, result.replayRows)
  ctx.out(
    `${result.ok ? '✓' : '✗'} ${result.view}: ${result.matchingRows}/${result.liveRows} live rows identical to replay (${pct.toFixed(2)}%), ${result.entities} entities\n`,
  )
  for (const d of result.differences)
    ctx.out(`    ${d.entityKey} row ${d.index}: live ${JSON.stringify(d.live)} · replay ${JSON.stringify(d.replay)}\n`)
}

/** The last line of a run over several views: how many matched, differed, could not be checked. */
function summary(results: readonly ViewResult[]): string {
  const count = (status: ViewResult['status']) => results.filter((r) => r.status === status).length
  return `${results.length} views: ${count('match')} match, ${count('differ')} differ, ${count('unchecked')} not checked`
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
