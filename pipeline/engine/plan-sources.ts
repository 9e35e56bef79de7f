/**
 * Groups feature views by the source they read. A view whose entity is not the one its topic is
 * keyed by needs re-keying (DESIGN §2) before per-partition state is correct.
 */
import { ConfigError } from '../../core/errors.ts'
import type { FeatureViewDef, SourceDef } from '../../operators/define/types.ts'

export interface SourcePlan {
  readonly source: SourceDef
  readonly topic: string
  readonly views: readonly FeatureViewDef[]
}

export function isKeyedForView(view: FeatureViewDef): boolean {
  return view.source.keyedBy === undefined || view.source.keyedBy === view.entity.name
}

export function planSources(views: readonly FeatureViewDef[]): SourcePlan[] {
  const bySource = new Map<string, { source: SourceDef; views: FeatureViewDef[] }>()
  for (const view of views) {
    if (!isKeyedForView(view)) {
      throw new ConfigError(
        `view ${view.name} (entity ${view.entity.name}) reads topic ${view.source.topic}, which is keyed by ${view.source.keyedBy}: ` +
          'run it with re-keying enabled (planRekeyedSources) or declare a source keyed by the view entity',
      )
    }
    const entry = bySource.get(view.source.name) ?? { source: view.source, views: [] }
    entry.views.push(view)
    bySource.set(view.source.name, entry)
  }
  return [...bySource.values()]
    .sort((a, b) => (a.source.name < b.source.name ? -1 : 1))
    .map(({ source, views }) => ({ source, topic: source.topic, views: [...views].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : a.version - b.version)) }))
}
