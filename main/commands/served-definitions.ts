/**
 * What `kfs serve` serves of a definitions module, held to what the registry published — the same
 * definitions a training set reads (training/plan.ts), so that serving answers what a model trained on:
 *
 * - a view version whose logic differs from its published definition, or that is not published,
 *   is not served;
 * - a request feature whose function differs from its published one is not served (a training set
 *   refuses it with DEFINITION_CHANGED; serving ran the edited function unannounced). One never
 *   published is served, as a training set runs it;
 * - a view whose registry holds a newer version than the module serves is served, with a note: a
 *   request naming it without a version reads the module's version, a training set the registry's
 *   latest.
 *
 * - a feature service whose features or request features differ from its published ones is not
 *   served (a training set of the service reads the published list: the model would be served
 *   other inputs than it trained on); one never published is served, as for request features.
 *
 * Each refusal and mismatch is a line for `note` (stderr at start-up).
 */
import { FeatureStoreError } from '../../core/errors.ts'
import type { FeatureServiceDef, FeatureViewDef, RequestFeatureDef } from '../../features/types.ts'
import { requestFeatureHash, viewHash, type DefinitionSet, type Registry } from '../../registry/index.ts'

export async function servedDefinitions(
  set: Pick<DefinitionSet, 'views' | 'requestFeatures'> & Partial<Pick<DefinitionSet, 'services'>>,
  registry: Pick<Registry, 'getView' | 'snapshot'>,
  note: (line: string) => void,
): Promise<{
  readonly views: FeatureViewDef[]
  readonly requestFeatures: RequestFeatureDef[]
  readonly services: FeatureServiceDef[]
}> {
  const views: FeatureViewDef[] = []
  for (const view of set.views) {
    const stored = await registry.getView(view.name, view.version)
    if (stored?.hash === viewHash(view)) views.push(view)
    else
      note(
        `not serving ${view.name} v${view.version}: ${stored ? 'it differs from its published definition' : 'not published'} (run kfs apply)\n`,
      )
  }
  // A server that answers every lookup "unknown view" checked nothing: say so and stop.
  if (views.length === 0 && set.views.length > 0) {
    throw new FeatureStoreError(
      'NOT_FOUND',
      `nothing to serve: none of the ${set.views.length} views of the features module is published as defined (run kfs apply)`,
    )
  }
  const snapshot = await registry.snapshot()
  const requestFeatures: RequestFeatureDef[] = []
  for (const def of set.requestFeatures) {
    const published = snapshot.requestFeatures.find((r) => r.name === def.name)
    if (published === undefined || published.hash === requestFeatureHash(def)) requestFeatures.push(def)
    else
      note(
        `not serving request feature ${def.name}: it differs from its published definition, which training sets run (run kfs apply)\n`,
      )
  }
  const served = new Map<string, number>()
  for (const v of views) served.set(v.name, Math.max(served.get(v.name) ?? 0, v.version))
  for (const [name, version] of served) {
    const latest = Math.max(...snapshot.views.filter((v) => v.name === name).map((v) => v.version))
    if (latest > version) {
      note(
        `${name}: requests naming it without a version read v${version}, but the registry's latest is v${latest}, which training sets read; pin ${name}@${version}:… in both or serve v${latest}\n`,
      )
    }
  }
  const services: FeatureServiceDef[] = []
  const inputs = (s: { features: readonly string[]; requestFeatures: readonly string[] }): string =>
    JSON.stringify([s.features, s.requestFeatures])
  for (const def of set.services ?? []) {
    const published = snapshot.services.find((s) => s.name === def.name)
    if (published === undefined || inputs(published) === inputs(def)) services.push(def)
    else
      note(
        `not serving feature service ${def.name}: its features differ from its published definition, which training sets read (run kfs apply)\n`,
      )
  }
  return { views, requestFeatures, services }
}
