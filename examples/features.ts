/**
 * A small shop's features, as code: what `kfs apply --features examples/features.ts` publishes.
 * Users and items, a clicks topic keyed by user and a purchases topic keyed by user; `item_clicks`
 * is keyed by item, so the engine re-keys clicks for it (docs/design.md §2).
 */
import { entity, featureService, featureView, requestFeature, source } from '../features/index.ts'
import { readAvroSchema } from '../schemas/avro/read-schema.ts'

// The same .avsc files producers register with the schema registry.
const clickSchema = readAvroSchema(new URL('../schemas/avro/clicks.avsc', import.meta.url))
const purchaseSchema = readAvroSchema(new URL('../schemas/avro/purchases.avsc', import.meta.url))

export const user = entity({ name: 'user', joinKeys: ['user_id'], description: 'A signed-in shopper' })
export const item = entity({ name: 'item', joinKeys: ['item_id'], description: 'A product in the catalogue' })

export const clicks = source({
  name: 'clicks',
  topic: 'clicks',
  schema: clickSchema,
  eventTimeField: 'ts',
  keyedBy: user,
  outOfOrderness: '5s',
  allowedLateness: '1m',
  idleTimeout: '30s',
  description: 'Product page views from the web and app front ends',
})

export const purchases = source({
  name: 'purchases',
  topic: 'purchases',
  schema: purchaseSchema,
  eventTimeField: 'ts',
  keyedBy: user,
  description: 'Completed checkouts, one event per item',
})

export const userClicks = featureView({
  name: 'user_clicks',
  version: 1,
  entity: user,
  source: clicks,
  aggregations: [
    { op: 'count', windows: ['5m', '1h', '1d'] },
    { op: 'approx_distinct', field: 'item_id', windows: ['1d'] },
    { op: 'last_n', field: 'item_id', n: 10, windows: ['1d'] },
  ],
  ttl: '1d',
  freshnessSla: '30s',
  owner: 'growth@shop.example',
  description: 'How much and what a user has been browsing recently',
  tags: { team: 'growth', pii: 'no' },
})

export const userPurchases = featureView({
  name: 'user_purchases',
  version: 1,
  entity: user,
  source: purchases,
  aggregations: [
    { op: 'sum', field: 'amount', windows: ['1h', '1d', '7d'] },
    { op: 'avg', field: 'amount', windows: ['1h', '1d', '7d'] },
    { op: 'max', field: 'amount', windows: ['1h', '1d', '7d'] },
    { op: 'count', windows: ['lifetime'] },
  ],
  ttl: '30d',
  freshnessSla: '1m',
  owner: 'risk@shop.example',
  description: 'Spend per user over short and long windows, and lifetime order count',
  tags: { team: 'risk' },
})

export const itemClicks = featureView({
  name: 'item_clicks',
  version: 1,
  entity: item,
  source: clicks,
  // Bots browse without dwelling; their page views would inflate popularity.
  filter: (event) => event.dwell_ms !== null && Number(event.dwell_ms) >= 500,
  aggregations: [
    { op: 'count', windows: ['1h', '1d'] },
    { op: 'approx_distinct', field: 'user_id', windows: ['1d'] },
    { op: 'approx_percentile', field: 'dwell_ms', quantile: 0.5, windows: ['1d'] },
  ],
  ttl: '2d',
  freshnessSla: '1m',
  owner: 'search@shop.example',
  description: 'Popularity of an item among human visitors',
  tags: { team: 'search' },
})

export const amountVsAvg7d = requestFeature({
  name: 'amount_vs_avg_7d',
  request: { amount: 'double' },
  features: ['user_purchases:amount_avg_7d'],
  outputType: 'double',
  description: 'Requested amount divided by the user 7-day average purchase (null without history)',
  fn: (request, features) => {
    const avg = features['user_purchases:amount_avg_7d']
    const amount = request.amount
    return typeof avg === 'number' && avg > 0 && typeof amount === 'number' ? amount / avg : null
  },
})

export const fraudModel = featureService({
  name: 'fraud_model',
  features: [
    'user_purchases:amount_sum_1h',
    'user_purchases:amount_avg_7d',
    'user_purchases:amount_max_1d',
    'user_purchases:count',
    'user_clicks:count_5m',
    'user_clicks:count_1h',
    'user_clicks:item_id_approx_distinct_1d',
  ],
  requestFeatures: [amountVsAvg7d],
  owner: 'risk@shop.example',
  description: 'Inputs of the checkout fraud model',
  tags: { team: 'risk', model: 'fraud-v3' },
})

export const recommender = featureService({
  name: 'recommender',
  features: [userClicks, 'item_clicks:count_1d', 'item_clicks:user_id_approx_distinct_1d'],
  owner: 'growth@shop.example',
  description: 'Candidate ranking for the home page',
  tags: { team: 'growth' },
})
