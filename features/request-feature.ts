import { DefinitionError } from '../core/errors.ts'
import { formatFeatureRef, parseFeatureRef } from './feature-ref.ts'
import type { Constants, FeatureRef, FeatureValue, RequestFeatureDef, RequestValueType } from './types.ts'
import { checkConstants, hasConstants } from './constants.ts'
import { checkSelfContained } from './closure/self-contained.ts'
import { brand, checkName, checkText, describeGivenValue } from './validate.ts'

export interface RequestFeatureOptions<C extends Constants = Constants> {
  readonly name: string
  /** Fields the caller sends with the request, and their types. */
  readonly request: Readonly<Record<string, RequestValueType>>
  /** Stored features the function reads, as `'view:feature'`. */
  readonly features: readonly (FeatureRef | string)[]
  readonly outputType: RequestValueType
  /** Values fn reads, given to it as its third argument: JSON data, part of the feature's hash (docs/semantics.md §27). */
  readonly constants?: C
  /**
   * Pure and null-safe: a missing stored feature arrives as null. Runs in serving and training sets.
   * Its source text is hashed, so it may read nothing from outside it but its parameters and pure
   * globals (a module constant is refused: use `constants`).
   */
  readonly fn: (request: Readonly<Record<string, unknown>>, features: Readonly<Record<string, FeatureValue>>, constants: C) => FeatureValue | boolean
  readonly description: string
}

const TYPES: readonly RequestValueType[] = ['long', 'double', 'string', 'boolean']

/**
 * Declares a request-time (on-demand) feature: a function of request fields and stored features.
 *
 * @example
 * export const amountVsAvg7d = requestFeature({
 *   name: 'amount_vs_avg_7d', request: { amount: 'double' }, features: ['user_purchases:amount_avg_7d'],
 *   outputType: 'double', description: 'Request amount relative to the 7-day average',
 *   fn: (req, f) => { const avg = f['user_purchases:amount_avg_7d']; return typeof avg === 'number' && avg !== 0 ? Number(req.amount) / avg : null },
 * })
 */
export function requestFeature<C extends Constants = Constants>(options: RequestFeatureOptions<C>): RequestFeatureDef {
  const name = checkName(options?.name, 'request feature')
  const where = `request feature ${name}`
  if (options.request === null || typeof options.request !== 'object' || Array.isArray(options.request)) {
    throw new DefinitionError(`${where}: request must map field names to types, e.g. { amount: 'double' }`)
  }
  const request: Record<string, RequestValueType> = {}
  for (const [field, type] of Object.entries(options.request)) {
    checkName(field, `${where}: request field`)
    if (!TYPES.includes(type)) throw new DefinitionError(`${where}: request field '${field}' has type ${describeGivenValue(type)}; use ${TYPES.join(', ')}`)
    request[field] = type
  }
  if (!Array.isArray(options.features)) throw new DefinitionError(`${where}: features must be a list of 'view:feature' refs (may be empty)`)
  const features = options.features.map((r) => formatFeatureRef(parseFeatureRef(r, where)))
  if (Object.keys(request).length === 0 && features.length === 0) {
    throw new DefinitionError(`${where}: needs at least one request field or stored feature as input`)
  }
  if (!TYPES.includes(options.outputType)) {
    throw new DefinitionError(`${where}: outputType ${describeGivenValue(options.outputType)} is not supported; use ${TYPES.join(', ')}`)
  }
  if (typeof options.fn !== 'function') throw new DefinitionError(`${where}: fn must be a function (request, features) => value`)
  checkSelfContained(options.fn, { where, what: 'fn', signature: '(request, features, constants) => … constants.<name> …' })
  const constants = checkConstants(options.constants, where)
  return brand({
    kind: 'requestFeature',
    name,
    request: Object.freeze(request),
    features: Object.freeze(features),
    outputType: options.outputType,
    // fn gets exactly `constants` (checked copy) as C: the same members the caller declared.
    fn: options.fn as RequestFeatureDef['fn'],
    ...(hasConstants(constants) ? { constants } : {}),
    description: checkText(options.description, where, 'description', { required: true }),
  } satisfies RequestFeatureDef)
}
