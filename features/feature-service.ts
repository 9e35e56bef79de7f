import { DefinitionError } from '../core/errors.ts'
import { formatFeatureRef, parseFeatureRef } from './feature-ref.ts'
import type { FeatureRef, FeatureServiceDef, FeatureViewDef, RequestFeatureDef } from './types.ts'
import { brand, checkName, checkTags, checkText } from './validate.ts'

export interface FeatureServiceOptions {
  readonly name: string
  /** `'view:feature'` refs, or whole views (all their features, unpinned). */
  readonly features: readonly (FeatureRef | string | FeatureViewDef)[]
  readonly requestFeatures?: readonly (RequestFeatureDef | string)[]
  readonly owner: string
  readonly description: string
  readonly tags?: Readonly<Record<string, string>>
}

/**
 * Declares what one model reads: stored features plus request-time features. Existence of the
 * referenced features is checked by the registry, which sees every definition.
 *
 * @example
 * export const fraudModel = featureService({
 *   name: 'fraud_model', features: [userClicks, 'user_purchases:amount_avg_7d'],
 *   requestFeatures: [amountVsAvg7d], owner: 'risk@example.com', description: 'Inputs of the fraud model',
 * })
 */
export function featureService(options: FeatureServiceOptions): FeatureServiceDef {
  const name = checkName(options?.name, 'feature service')
  const where = `feature service ${name}`
  if (!Array.isArray(options.features) || options.features.length === 0) {
    throw new DefinitionError(`${where}: features must list at least one 'view:feature' ref or view`)
  }
  const refs: FeatureRef[] = []
  for (const item of options.features) {
    if (typeof item === 'string') {
      refs.push(formatFeatureRef(parseFeatureRef(item, where)))
    } else if (item?.kind === 'featureView') {
      for (const f of item.features) refs.push(`${item.name}:${f.name}`)
    } else {
      throw new DefinitionError(`${where}: features entries must be 'view:feature' strings or views from featureView({...})`)
    }
  }
  const dup = refs.find((r, i) => refs.indexOf(r) !== i)
  if (dup !== undefined) throw new DefinitionError(`${where}: feature '${dup}' is listed twice`)
  // One feature of one view unpinned and pinned ('v:f' and 'v@1:f'): the unpinned one names
  // whichever version is latest, which may be the pinned one — then serving and a training set
  // refuse the service's list as naming one feature twice — so say it here. Two distinct pins
  // ('v@1:f' and 'v@2:f') are two features: both answer them (a training set names their columns
  // v@1__f and v@2__f, training/plan.ts).
  const byFeature = new Map<string, { ref: FeatureRef; version: number | undefined }>()
  for (const ref of refs) {
    const { view, feature, version } = parseFeatureRef(ref, where)
    const key = `${view}:${feature}`
    const other = byFeature.get(key)
    if (other !== undefined && (other.version === undefined || version === undefined)) {
      throw new DefinitionError(
        `${where}: '${other.ref}' and '${ref}' are feature ${feature} of view ${view} twice (the unpinned one reads the latest version, which may be the pinned one); pin both to distinct versions or list one`,
      )
    }
    if (other === undefined) byFeature.set(key, { ref, version })
  }
  const requestFeatures = (options.requestFeatures ?? []).map((r) => {
    if (typeof r === 'string') return checkName(r, `${where}: requestFeatures entry`)
    if (r?.kind === 'requestFeature') return r.name
    throw new DefinitionError(`${where}: requestFeatures entries must be request features from requestFeature({...}) or their names`)
  })
  const twice = requestFeatures.find((r, i) => requestFeatures.indexOf(r) !== i)
  if (twice !== undefined) throw new DefinitionError(`${where}: request feature '${twice}' is listed twice`)
  return brand({
    kind: 'featureService',
    name,
    features: Object.freeze(refs),
    requestFeatures: Object.freeze(requestFeatures),
    owner: checkText(options.owner, where, 'owner', { required: true }),
    description: checkText(options.description, where, 'description', { required: true }),
    tags: checkTags(options.tags, where),
  } satisfies FeatureServiceDef)
}
