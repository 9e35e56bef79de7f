/** Plain FeatureViewDef/SourceDef objects for operator tests (the DSL builders live elsewhere). */
import type { AggregationDef, AggregationOp, EntityDef, EventRecord, FeatureDef, FeatureViewDef, SourceDef } from '../../../features/types.ts'

export function testSource(overrides: Partial<SourceDef> = {}): SourceDef {
  return {
    kind: 'source',
    name: 'clicks',
    topic: 'clicks',
    schema: { type: 'record', name: 'Click', fields: [] },
    eventTimeField: 'ts',
    keyedBy: 'user',
    partitions: 1,
    outOfOrdernessMs: 0,
    allowedLatenessMs: 0,
    idleTimeoutMs: 60_000,
    maxFutureSkewMs: 3_600_000,
    description: '',
    ...overrides,
  }
}

export function testEntity(joinKeys: readonly string[] = ['user'], keyType: EntityDef['keyType'] = 'string'): EntityDef {
  return { kind: 'entity', name: joinKeys.join('_'), joinKeys, keyType, description: '' }
}

export interface FeatureSpec {
  op: AggregationOp
  field?: string
  windowMs: number | null
  hopMs?: number
  n?: number
  quantile?: number
  /** Other parameters of the op (AggregationDef.params), and which further output the feature is. */
  params?: Readonly<Record<string, number | boolean>>
  output?: string
}

export function feature(spec: FeatureSpec, index = 0): FeatureDef {
  const aggregation: AggregationDef = {
    name: `${spec.op}_${spec.field ?? 'events'}_${spec.windowMs ?? 'life'}_${index}`,
    op: spec.op,
    field: spec.field,
    windowMs: spec.windowMs,
    hopMs: spec.windowMs === null ? 0 : (spec.hopMs ?? spec.windowMs),
    n: spec.n,
    quantile: spec.quantile,
    ...(spec.params === undefined ? {} : { params: spec.params }),
    ...(spec.output === undefined ? {} : { output: spec.output }),
  }
  const list = spec.op === 'last_n' || spec.op === 'top_k'
  const type = spec.op === 'count' || spec.op === 'approx_distinct' ? 'long' : spec.output === 'counts' ? 'long[]' : list ? 'double[]' : 'double'
  return { name: aggregation.name, type, aggregation }
}

export function testView(options: {
  name?: string
  source?: SourceDef
  entity?: EntityDef
  features: readonly FeatureSpec[]
  filter?: (e: EventRecord) => boolean
  map?: (e: EventRecord) => EventRecord
}): FeatureViewDef {
  return {
    kind: 'featureView',
    name: options.name ?? 'user_clicks',
    version: 1,
    entity: options.entity ?? testEntity(),
    source: options.source ?? testSource(),
    filter: options.filter,
    map: options.map,
    features: options.features.map((f, i) => feature(f, i)),
    ttlMs: 86_400_000,
    owner: 'test',
    description: '',
    tags: {},
    freshnessSlaMs: 60_000,
    online: true,
    offline: true,
  }
}
