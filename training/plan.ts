/**
 * Resolves what a training set asks for — feature references or a service name — into the view
 * versions to read (from the registry: published logic, never a local edit), the output columns,
 * and the request-time features to run (from the definitions module, checked against the hash the
 * registry published so training runs the function serving runs).
 *
 * Output columns: a stored feature is `<view>__<feature>`; a request feature keeps its name. When
 * another output would have the same name — one feature of a view asked for in two versions
 * (`v@1:f` and `v@2:f`, or `v:f` resolving to v2 beside `v@1:f`), or a request feature named
 * `v__f` — the stored feature's column is `<view>@<version>__<feature>`: serving answers such a
 * list (keying the view `name@version` only when it reads two versions), and neither a view nor a
 * request feature name holds an `@`, so these names cannot collide. Every other column keeps its
 * plain name, so a list that was answered before is named, and rebuilt, as before.
 */
import { FeatureStoreError } from '../core/errors.ts'
import { duplicateFeatureMessage, parseFeatureRef } from '../features/feature-ref.ts'
import type { FeatureValueType, RequestFeatureDef } from '../features/types.ts'
import { requestFeatureHash, type Registry } from '../registry/index.ts'

export interface PlannedView {
  readonly name: string
  readonly version: number
  readonly hash: string
  readonly entity: string
  readonly joinKeys: readonly string[]
  /** The entity's key type: an `int` entity's label keys must be canonical integers, as serving reads them. */
  readonly keyType: 'string' | 'int'
  readonly ttlMs: number
  /** Every feature read from the view: outputs and request-feature inputs, in first-use order. */
  readonly features: readonly { readonly name: string; readonly type: FeatureValueType }[]
}

export type PlannedOutput =
  | { readonly kind: 'stored'; readonly column: string; readonly ref: string; readonly view: number; readonly feature: string; readonly type: FeatureValueType }
  | {
      readonly kind: 'request'
      readonly column: string
      readonly def: RequestFeatureDef
      /** Where each of the def's input refs is read: an unpinned one at the version it resolved to, not any version of its view. */
      readonly inputs: readonly { readonly ref: string; readonly view: number; readonly feature: string }[]
    }

export interface TrainingPlan {
  readonly refs: readonly string[]
  readonly views: readonly PlannedView[]
  readonly outputs: readonly PlannedOutput[]
  /** Request feature name → published hash of its logic. */
  readonly requestFeatureHashes: Readonly<Record<string, string>>
}

export type FeatureSelection = { readonly refs: readonly string[] } | { readonly service: string }

/**
 * What a recorded training set read, for its rebuild: its refs (a service's list as it was) and,
 * per view, the version its unpinned refs resolved to — the latest then, maybe not now.
 */
export interface RecordedFeatures {
  readonly refs: readonly string[]
  readonly versions: ReadonlyMap<string, number>
}

export async function planTrainingSet(
  registry: Registry,
  selection: FeatureSelection,
  requestFeatures: readonly RequestFeatureDef[] = [],
  recorded?: RecordedFeatures,
): Promise<TrainingPlan> {
  let refs: readonly string[]
  if (recorded !== undefined) {
    refs = recorded.refs
  } else if ('service' in selection) {
    const snap = await registry.snapshot()
    const service = snap.services.find((s) => s.name === selection.service)
    if (service === undefined) {
      throw new FeatureStoreError('NOT_FOUND', `no service named ${selection.service} in the registry. Services: ${snap.services.map((s) => s.name).join(', ') || '(none; run kfs apply)'}`)
    }
    refs = [...service.features, ...service.requestFeatures]
  } else {
    refs = selection.refs
  }
  if (refs.length === 0) throw new FeatureStoreError('BAD_REQUEST', 'a training set needs at least one feature')

  const views: (PlannedView & { features: { name: string; type: FeatureValueType }[] })[] = []
  const viewIndex = new Map<string, number>()
  const storedRegistry = await registry.snapshot()

  async function need(ref: string): Promise<{ view: number; feature: string; type: FeatureValueType }> {
    const parsed = parseFeatureRef(ref)
    const stored = await registry.getView(parsed.view, parsed.version ?? recorded?.versions.get(parsed.view))
    if (stored === undefined) {
      throw new FeatureStoreError('NOT_FOUND', `feature ${ref}: view ${parsed.view}${parsed.version === undefined ? '' : ` v${parsed.version}`} is not in the registry; run kfs apply first`, { context: { feature: ref } })
    }
    // Its offline table is never written (the engine skips it), so the join would read no rows: all nulls.
    if (!stored.metadata.offline) {
      throw new FeatureStoreError(
        'BAD_REQUEST',
        `feature ${ref}: view ${stored.name} v${stored.version} has no offline store (offline: false), so a training set has no rows of it; publish a version with offline: true and backfill it with kfs replay`,
        { context: { feature: ref } },
      )
    }
    const id = `${stored.name}@${stored.version}`
    let index = viewIndex.get(id)
    if (index === undefined) {
      index = views.length
      viewIndex.set(id, index)
      views.push({
        name: stored.name,
        version: stored.version,
        hash: stored.hash,
        entity: stored.logic.entity.name,
        joinKeys: stored.logic.entity.joinKeys,
        keyType: stored.logic.entity.keyType === 'int' ? 'int' : 'string',
        ttlMs: stored.logic.ttlMs,
        features: [],
      })
    }
    const logic = stored.logic.features.find((f) => f.name === parsed.feature)
    if (logic === undefined) {
      throw new FeatureStoreError('NOT_FOUND', `feature ${ref}: view ${stored.name} v${stored.version} has no feature ${parsed.feature}. Features: ${stored.logic.features.map((f) => f.name).join(', ')}`, { context: { feature: ref } })
    }
    const type = logic.type as FeatureValueType
    const planned = views[index]!
    if (!planned.features.some((f) => f.name === parsed.feature)) planned.features.push({ name: parsed.feature, type })
    return { view: index, feature: parsed.feature, type }
  }

  const outputs: PlannedOutput[] = []
  const hashes: Record<string, string> = {}
  // What each output is (view version and feature, or request feature) → the ref that asked for
  // it: a feature asked for twice is refused, as serving's batch endpoint refuses it
  // (serving/feature-catalog.ts), rather than silently giving one column for two names.
  const seen = new Map<string, string>()
  const once = (id: string, ref: string, what: string): void => {
    const earlier = seen.get(id)
    if (earlier !== undefined) throw new FeatureStoreError('BAD_REQUEST', duplicateFeatureMessage(earlier, ref, what), { context: { feature: ref } })
    seen.set(id, ref)
  }
  for (const ref of refs) {
    if (ref.includes(':')) {
      const { view, feature, type } = await need(ref)
      const { name, version } = views[view]!
      once(`${name}@${version}:${feature}`, ref, `feature ${feature} of ${name} v${version}`)
      outputs.push({ kind: 'stored', column: `${name}__${feature}`, ref, view, feature, type })
      continue
    }
    once(ref, ref, `request feature ${ref}`)
    const def = requestFeatures.find((r) => r.name === ref)
    if (def === undefined) {
      throw new FeatureStoreError('NOT_FOUND', `request feature ${ref} is not defined in the definitions module (its TypeScript function is needed to compute it)`, { context: { feature: ref } })
    }
    const hash = requestFeatureHash(def)
    const published = storedRegistry.requestFeatures.find((r) => r.name === ref)
    if (published !== undefined && published.hash !== hash) {
      throw new FeatureStoreError('DEFINITION_CHANGED', `request feature ${ref} differs from the published one; run kfs apply so training and serving run the same function`, { context: { feature: ref } })
    }
    hashes[ref] = hash
    const inputs: { ref: string; view: number; feature: string }[] = []
    for (const dep of def.features) inputs.push({ ref: dep, ...(await need(dep)) })
    outputs.push({ kind: 'request', column: ref, def, inputs })
  }
  const named = versionedColumns(outputs, views)
  const columns = new Set<string>()
  for (const o of named) {
    // Cannot happen (see versionedColumns): a check that the naming rule holds, not a user error.
    if (columns.has(o.column)) {
      throw new FeatureStoreError('INVARIANT_VIOLATED', `two features of the training set would both be named ${o.column}`, { context: { column: o.column } })
    }
    columns.add(o.column)
  }
  return { refs: [...refs], views, outputs: named, requestFeatureHashes: hashes }
}

/**
 * Names `<view>@<version>__<feature>` each stored column whose plain name another output shares.
 * Two stored outputs with the same plain name are two versions of one feature (one version twice
 * is refused above); request features keep their names, which are distinct (likewise refused).
 */
function versionedColumns(outputs: readonly PlannedOutput[], views: readonly PlannedView[]): PlannedOutput[] {
  const count = new Map<string, number>()
  for (const o of outputs) count.set(o.column, (count.get(o.column) ?? 0) + 1)
  return outputs.map((o) => {
    if (o.kind !== 'stored' || count.get(o.column)! < 2) return o
    const { name, version } = views[o.view]!
    return { ...o, column: `${name}@${version}__${o.feature}` }
  })
}
