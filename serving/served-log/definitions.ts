/**
 * The served-feature log as an ordinary kfs source, for a features module to include:
 *
 *   export const { servedView, servedFeatures, servedLookups } = servedLog({ topic: 'kfs.served-features' })
 *
 * Why a view too: the engine consumes (and so archives) the topics its views read, nothing else.
 * `served_lookups` gives the log a reader — counts of lookups and distinct entities served per
 * view — so `kfs run` archives every served record into the topic's raw archive Iceberg table,
 * exactly as it archives `clicks` or `purchases`, and `kfs skew-report` reads it from there.
 *
 * Records are keyed by the view ref (`user_clicks@1`), the served_view entity's key, so the topic
 * is partitioned the way the view needs and no re-key stage is involved.
 */
import { entity, featureView, source } from '../../features/index.ts'
import type { EntityDef, FeatureViewDef, SourceDef } from '../../features/types.ts'
import { SERVED_FEATURES_SCHEMA } from './served-record.ts'

export const DEFAULT_SERVED_LOG_TOPIC = 'kfs.served-features'

export interface ServedLogDefinitionOptions {
  /** The topic `kfs serve` logs to (KFS_SERVE_LOG_TOPIC / --log-topic); default kfs.served-features. */
  readonly topic?: string
  readonly partitions?: number
  /** Names of the source and view (default served_features, served_lookups). */
  readonly sourceName?: string
  readonly viewName?: string
}

export interface ServedLogDefinitions {
  readonly servedView: EntityDef
  readonly servedFeatures: SourceDef
  readonly servedLookups: FeatureViewDef
}

export function servedLog(options: ServedLogDefinitionOptions = {}): ServedLogDefinitions {
  const servedView = entity({ name: 'served_view', joinKeys: ['view'], description: 'A view version as served (<name>@<version>)' })
  const servedFeatures = source({
    name: options.sourceName ?? 'served_features',
    topic: options.topic ?? DEFAULT_SERVED_LOG_TOPIC,
    schema: SERVED_FEATURES_SCHEMA,
    eventTimeField: 'served_at',
    keyedBy: servedView,
    partitions: options.partitions ?? 3,
    // Several servers batch their records: a few seconds of disorder, never minutes.
    outOfOrderness: '10s',
    allowedLateness: '5m',
    idleTimeout: '1m',
    description: 'What kfs serve answered, one record per (view, entity) lookup of a sampled request',
  })
  const servedLookups = featureView({
    name: options.viewName ?? 'served_lookups',
    version: 1,
    entity: servedView,
    source: servedFeatures,
    aggregations: [
      { op: 'count', windows: ['1h', '1d'] },
      { op: 'approx_distinct', field: 'entity_key', windows: ['1d'] },
    ],
    ttl: '7d',
    freshnessSla: '5m',
    owner: 'kfs',
    description: 'Sampled lookups served per view: how many, and how many distinct entities',
    tags: { builtin: 'served-log' },
  })
  return { servedView, servedFeatures, servedLookups }
}
