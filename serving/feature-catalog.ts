/**
 * What serving can answer, resolved once at start-up from the definitions it was given: views by
 * `name` (its highest served version) and `name@version`, services, request-time features, and
 * the read plan of a feature list. Any reference that does not resolve is a ConfigError at
 * start-up (for services) or a 404 naming it (for requests).
 */
import { ConfigError } from '../core/errors.ts'
import type { FeatureServiceDef, FeatureViewDef, RequestFeatureDef } from '../features/types.ts'
import { duplicateFeatureMessage } from '../features/feature-ref.ts'
import { badRequest, notFound } from './errors.ts'
import { clippedName } from './clipped-name.ts'

export type PlannedOutput =
  | { readonly kind: 'stored'; readonly name: string; readonly view: FeatureViewDef; readonly feature: string }
  | { readonly kind: 'request'; readonly name: string; readonly def: RequestFeatureDef }

export interface ViewRead {
  readonly view: FeatureViewDef
  /** Every feature this plan needs from the view: outputs plus request-feature inputs. */
  readonly features: readonly string[]
}

export interface FeaturePlan {
  readonly outputs: readonly PlannedOutput[]
  readonly reads: readonly ViewRead[]
  readonly requestFeatures: readonly RequestFeatureDef[]
}

export interface FeatureCatalog {
  readonly views: readonly FeatureViewDef[]
  readonly services: readonly FeatureServiceDef[]
  readonly requestFeatures: readonly RequestFeatureDef[]
  /** Every join key of a served view's entity: the names a request's `entities` may use. */
  readonly joinKeys: ReadonlySet<string>
  view(name: string): FeatureViewDef
  plan(refs: readonly string[]): FeaturePlan
  servicePlan(name: string): FeaturePlan
}

export function createFeatureCatalog(defs: {
  readonly views: readonly FeatureViewDef[]
  readonly services?: readonly FeatureServiceDef[]
  readonly requestFeatures?: readonly RequestFeatureDef[]
}): FeatureCatalog {
  const byName = new Map<string, FeatureViewDef>()
  for (const v of defs.views) {
    const exact = `${v.name}@${v.version}`
    if (byName.has(exact)) throw new ConfigError(`view ${exact} is served twice`)
    byName.set(exact, v)
    const latest = byName.get(v.name)
    if (!latest || latest.version < v.version) byName.set(v.name, v)
  }
  const requestFeatures = new Map((defs.requestFeatures ?? []).map((r) => [r.name, r]))
  const services = new Map((defs.services ?? []).map((s) => [s.name, s]))

  const view = (name: string): FeatureViewDef => {
    const v = byName.get(name)
    if (!v) throw notFound(`unknown view ${clippedName(name)}`, { view: clippedName(name) })
    return v
  }

  const storedRef = (ref: string): { view: FeatureViewDef; feature: string } => {
    const colon = ref.lastIndexOf(':')
    const v = view(ref.slice(0, colon))
    const feature = ref.slice(colon + 1)
    if (!v.features.some((f) => f.name === feature))
      throw notFound(`unknown feature ${clippedName(ref)}`, { feature: clippedName(ref) })
    return { view: v, feature }
  }

  const plan = (refs: readonly string[]): FeaturePlan => {
    const outputs: PlannedOutput[] = []
    const reads = new Map<FeatureViewDef, Set<string>>()
    const rfs: RequestFeatureDef[] = []
    const need = (ref: string): void => {
      const { view: v, feature } = storedRef(ref)
      let set = reads.get(v)
      if (!set) reads.set(v, (set = new Set()))
      set.add(feature)
    }
    // What each output is (view version and feature, or request feature) → the ref that asked for
    // it: a feature asked for twice is refused as a training set refuses it (training/plan.ts),
    // rather than answered once under two names or collapsed to one answer the client did not expect.
    const seen = new Map<string, string>()
    const once = (id: string, ref: string, what: string): void => {
      const earlier = seen.get(id)
      if (earlier !== undefined)
        throw badRequest(`features: ${duplicateFeatureMessage(earlier, ref, what)}`, { feature: clippedName(ref) })
      seen.set(id, ref)
    }
    for (const ref of refs) {
      if (typeof ref !== 'string' || ref.length === 0) throw badRequest('features must be non-empty strings')
      if (ref.includes(':')) {
        const { view: v, feature } = storedRef(ref)
        once(`${v.name}@${v.version}:${feature}`, ref, `feature ${feature} of ${v.name} v${v.version}`)
        need(ref)
        outputs.push({ kind: 'stored', name: ref, view: v, feature })
      } else {
        const def = requestFeatures.get(ref)
        if (!def) throw notFound(`unknown request feature ${clippedName(ref)}`, { feature: clippedName(ref) })
        once(ref, ref, `request feature ${ref}`)
        for (const dep of def.features) need(dep)
        rfs.push(def)
        outputs.push({ kind: 'request', name: ref, def })
      }
    }
    return { outputs, reads: [...reads].map(([v, set]) => ({ view: v, features: [...set] })), requestFeatures: rfs }
  }

  const servicePlans = new Map<string, FeaturePlan>()
  for (const s of services.values()) {
    try {
      servicePlans.set(s.name, plan([...s.features, ...s.requestFeatures]))
    } catch (err: unknown) {
      throw new ConfigError(`service ${s.name} does not resolve: ${(err as Error).message}`, { cause: err })
    }
  }
  for (const r of requestFeatures.values()) {
    try {
      plan(r.features)
    } catch (err: unknown) {
      throw new ConfigError(`request feature ${r.name} does not resolve: ${(err as Error).message}`, { cause: err })
    }
  }

  return {
    views: defs.views,
    services: [...services.values()],
    requestFeatures: [...requestFeatures.values()],
    joinKeys: new Set(defs.views.flatMap((v) => v.entity.joinKeys)),
    view,
    plan,
    servicePlan(name) {
      const p = servicePlans.get(name)
      if (!p) throw notFound(`unknown service ${clippedName(name)}`, { service: clippedName(name) })
      return p
    },
  }
}
