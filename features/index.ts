/**
 * Features as code: the builders users import in their definition modules. Pure (imports only
 * core/ and the aggregations' contracts in operators/aggregators/: docs/aggregations.md), so the
 * same definitions load in the engine, replay, serving and the registry.
 */
export { entity, type EntityOptions } from './entity.ts'
export { source, SOURCE_DEFAULTS, type SourceOptions } from './source.ts'
export { tableSource, type TableSourceOptions } from './table-source.ts'
export { changelogSource, type ChangelogSourceOptions } from './changelog-source.ts'
export type { ChangeSourceOptions } from './change-source.ts'
export { ATTRIBUTE_OP, INVERTIBLE_OPS } from './change-view.ts'
export { featureView, type FeatureViewOptions, type MappedFieldType } from './feature-view.ts'
export { featureService, type FeatureServiceOptions } from './feature-service.ts'
export { requestFeature, type RequestFeatureOptions } from './request-feature.ts'
export { defaultHopMs, windowLabel, type AggregationOptions, type WindowSpec } from './aggregations.ts'
export { parseFeatureRef, formatFeatureRef, type ParsedFeatureRef } from './feature-ref.ts'
export { isBranded as isDefinition } from './validate.ts'
export { DEFAULT_VALUE_LIMITS, type ValueLimitsOptions } from './limits.ts'
export { NO_CONSTANTS, MAX_CONSTANTS_BYTES } from './constants.ts'
export type * from './types.ts'
