/**
 * Which views a command runs: the module's views that are published with the same logic hash
 * (a view must be applied before it runs, so the registry always describes what is running), and
 * the runtime's stores as a backfill needs them (settling backfills is replay/backfill-before-live.ts).
 */
import { DefinitionError, FeatureStoreError } from '../../core/errors.ts'
import { createDeadLetterTopicSink } from '../../engine/dead-letter-topic.ts'
import type { DeadLetterSink } from '../../ports/dead-letters.ts'
import type { FeatureViewDef } from '../../features/types.ts'
import { viewHash, type DefinitionSet, type Registry } from '../../registry/index.ts'
import type { BackfillEnvironment } from '../../replay/backfill-before-live.ts'
import { DEAD_LETTER_TOPIC } from '../internal-topics.ts'
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

/** The runtime's stores, as a backfill needs them (replay/backfill-before-live.ts). */
export function backfillEnvironment(runtime: Runtime): BackfillEnvironment {
  // The topic kfs run writes and kfs dead-letters reads: a backfill's refusals are listed with
  // live's. The log is opened at the first letter, so a backfill with none never needs it (the
  // embedded log has one owner at a time).
  let topic: Promise<DeadLetterSink> | undefined
  const sink = () => (topic ??= runtime.eventLog().then((log) => createDeadLetterTopicSink(log, DEAD_LETTER_TOPIC)))
  const deadLetters: DeadLetterSink = {
    write: async (letters) => (letters.length === 0 ? undefined : (await sink()).write(letters)),
    flush: async () => (topic === undefined ? undefined : (await topic).flush()),
  }
  return {
    offline: runtime.offline,
    stateStore: runtime.store,
    decoderFor: (source) => runtime.decoderFor(source),
    clock: runtime.clock,
    online: () => runtime.onlineStore(),
    deadLetters: async () => deadLetters,
  }
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
