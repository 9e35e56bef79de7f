/**
 * Which views a live command runs: the module's views that are published with the same logic hash
 * (a view must be applied before it runs, so the registry always describes what is running), and
 * their backfill state settled first (DESIGN §8).
 */
import type { Logger } from '../../core/logger.ts'
import { DefinitionError, FeatureStoreError } from '../../core/errors.ts'
import type { FeatureViewDef } from '../../features/types.ts'
import { consumedView } from '../../engine/plan-sources.ts'
import { viewHash, type DefinitionSet, type Registry } from '../../registry/index.ts'
import { backfillView, type BackfillOptions, type BackfillResult } from '../../replay/backfill.ts'
import type { Runtime } from '../runtime.ts'
import { UsageError } from './command.ts'

/** `only` (from --views) must name views of the module: an unknown name is a usage error. */
export async function publishedViews(
  set: DefinitionSet,
  registry: Registry,
  only: readonly string[] | undefined,
): Promise<FeatureViewDef[]> {
  const views = set.views.filter((v) => only === undefined || only.includes(v.name))
  const unknown = (only ?? []).filter((name) => !views.some((v) => v.name === name))
  if (unknown.length > 0) {
    throw new UsageError(
      `--views: ${unknown.join(', ')} ${unknown.length === 1 ? 'is' : 'are'} not defined in the features module; views: ${set.views.map((v) => v.name).join(', ') || '(none)'}`,
    )
  }
  for (const view of views) {
    const stored = await registry.getView(view.name, view.version)
    if (!stored) throw new DefinitionError(`view ${view.name} v${view.version} is not published: run \`kfs apply\` first`)
    if (stored.hash !== viewHash(view)) {
      throw new DefinitionError(
        `view ${view.name} v${view.version} differs from its published definition: publish it as a new version with \`kfs apply\``,
      )
    }
  }
  return views
}

/**
 * Settles the backfill of every view before it goes live: a view with archived history is
 * backfilled from the archive (the engine then adopts its state); a view with none is complete.
 * A re-keyed view's history is the archive of its internal topic (DESIGN §2), so it is backfilled
 * as the engine consumes it (`consumedView`).
 */
export async function settleBackfills(
  declared: readonly FeatureViewDef[],
  registry: Registry,
  runtime: Runtime,
  groupId: string,
  logger: Logger,
  progress: (line: string) => void,
): Promise<void> {
  for (const view of declared.map((v) => consumedView(v))) {
    const status = await registry.getBackfillStatus(view.name, view.version)
    if (status?.state === 'complete') continue
    const end = await runtime.offline.archiveEnd(view.source.topic)
    if (Object.keys(end.nextOffsets).length === 0) {
      await registry.setBackfillStatus(view.name, view.version, {
        state: 'complete',
        completeThrough: [],
        detail: 'no archived history: live from the start',
      })
      continue
    }
    progress(`backfilling ${view.name} v${view.version} from the archive of ${view.source.topic}…`)
    const result = await backfillRecorded(registry, runtime, {
      view,
      liveGroupId: groupId,
      online: await runtime.onlineStore(),
      logger,
    })
    progress(`backfilled ${view.name} v${view.version}: ${result.records} records → ${result.rows} rows`)
  }
}

/**
 * Backfills one view with the runtime's stores, recording its status in the registry: running,
 * then complete with the offsets it is complete through (what the live hand-off starts from).
 */
export async function backfillRecorded(
  registry: Registry,
  runtime: Runtime,
  options: Omit<BackfillOptions, 'offline' | 'stateStore' | 'decoder' | 'clock'>,
): Promise<BackfillResult> {
  const { view } = options
  await registry.setBackfillStatus(view.name, view.version, { state: 'running' })
  const result = await backfillView({
    ...options,
    offline: runtime.offline,
    stateStore: runtime.store,
    decoder: runtime.decoderFor(view.source),
    clock: runtime.clock,
  })
  await registry.setBackfillStatus(view.name, view.version, {
    state: 'complete',
    completeThrough: Object.entries(result.completeThrough).map(([p, offset]) => ({
      topic: view.source.topic,
      partition: Number(p),
      offset,
    })),
    detail: `archive snapshot ${result.archiveSnapshotId}; ${result.records} records, ${result.rows} rows`,
  })
  return result
}

/**
 * The views of `views` that have `store` (online/offline): an explicitly named view without it is a
 * usage error (the command would silently skip it), none at all is "nothing to do" (exit 1).
 */
export function viewsWith(
  store: 'online' | 'offline',
  views: readonly FeatureViewDef[],
  named: boolean,
  doing: string,
): FeatureViewDef[] {
  const kept = views.filter((v) => v[store])
  const without = views.filter((v) => !v[store]).map((v) => v.name)
  if (named && without.length > 0)
    throw new UsageError(
      `--views: ${without.join(', ')} ${without.length === 1 ? 'has' : 'have'} no ${store} store (${store}: false), so there is nothing to ${doing}`,
    )
  if (kept.length === 0)
    throw new FeatureStoreError('NOT_FOUND', `nothing to ${doing}: no view of the features module has an ${store} store`)
  return kept
}
