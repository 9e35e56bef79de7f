/**
 * The benchmark's source and view, named after the run so benches sharing the stack (and the
 * tests) never see each other's topics, tables or Redis keys. The view is the run-scoped fixture's
 * purchase view (test/fixtures/features/run-scoped.ts): 9 features over sum/avg/max/count/last.
 */
import { entity, featureView, source } from '../../features/index.ts'
import type { Duration } from '../../core/duration.ts'
import type { FeatureViewDef, SourceDef } from '../../features/types.ts'
import { readAvroSchema } from '../../schemas/avro/read-schema.ts'

export function newRunId(): string {
  return `b${Date.now().toString(36)}${Math.floor(Math.random() * 1e6).toString(36)}`
}

export function benchViews(run: string, options: { partitions?: number; idleTimeout?: Duration } = {}): { source: SourceDef; view: FeatureViewDef } {
  const user = entity({ name: 'user', joinKeys: ['user_id'], description: 'A signed-in shopper' })
  const purchases = source({
    name: `purchases_${run}`,
    topic: `purchases-${run}`,
    schema: readAvroSchema(new URL('../../schemas/avro/purchases.avsc', import.meta.url)),
    eventTimeField: 'ts',
    keyedBy: user,
    partitions: options.partitions ?? 4,
    outOfOrderness: '5s',
    allowedLateness: '1m',
    idleTimeout: options.idleTimeout ?? '1h',
    description: 'Completed checkouts (benchmark-run scoped)',
  })
  const view = featureView({
    name: `user_purchases_${run}`,
    version: 1,
    entity: user,
    source: purchases,
    aggregations: [
      { op: 'sum', field: 'amount', windows: ['1h', '1d', '7d'] },
      { op: 'avg', field: 'amount', windows: ['1h', '7d'] },
      { op: 'max', field: 'amount', windows: ['1d'] },
      { op: 'count', windows: ['1h', 'lifetime'] },
      { op: 'last', field: 'item_id', windows: ['1d'] },
    ],
    ttl: '30d',
    freshnessSla: '1m',
    owner: 'bench@kfs',
    description: 'Spend per user (benchmark-run scoped)',
  })
  return { source: purchases, view }
}
