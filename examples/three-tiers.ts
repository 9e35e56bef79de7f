/**
 * The shop with all three tiers (docs/table-and-changelog-sources.md): everything in
 * ./with-new-view.ts (streaming windows over clicks and purchases, a request-time feature), plus
 * its batch tier — the nightly `users` table export and the `orders` database changelog
 * (docs/design.md §11) — and a service mixing the three. `npm start` ingests the users snapshots,
 * publishes the orders changelog and builds a training set over this service.
 */
import { changelogSource, entity, featureService, featureView, tableSource } from '../features/index.ts'
import { amountVsAvg7d, user } from './features.ts'

export * from './with-new-view.ts'

/** The users table's row: what the nightly export holds (examples/generate-tables.ts usersSnapshot). */
export const userRow = {
  type: 'record',
  name: 'UserRow',
  namespace: 'shop',
  fields: [
    { name: 'user_id', type: 'string' },
    { name: 'status', type: 'string' },
    { name: 'credit_limit', type: 'double' },
    { name: 'country', type: 'string' },
    { name: 'updated_at', type: { type: 'long', logicalType: 'timestamp-millis' } },
  ],
} as const

/** The orders table's row, as its changelog's before/after images carry it (orderChanges). */
export const orderRow = {
  type: 'record',
  name: 'OrderRow',
  namespace: 'shop',
  fields: [
    { name: 'order_id', type: 'string' },
    { name: 'user_id', type: 'string' },
    { name: 'amount', type: 'double' },
    { name: 'status', type: 'string' },
  ],
} as const

export const order = entity({ name: 'order', joinKeys: ['order_id'], description: 'An order in the shop database' })

/** The nightly export of the accounts database's users table (`kfs ingest --source users`). */
export const users = tableSource({
  name: 'users',
  topic: 'users',
  schema: userRow,
  keyedBy: user,
  eventTimeField: 'updated_at',
  location: { format: 'parquet', path: '.kfs/demo/tables/users' },
  partitions: 2,
  description: 'Nightly Parquet export of the users table',
})

/** The orders table's changelog, as a CDC tool (Debezium) publishes it. */
export const orders = changelogSource({
  name: 'orders',
  topic: 'shop.public.orders',
  schema: orderRow,
  keyedBy: order,
  format: 'json',
  partitions: 2,
  description: 'Debezium changelog of the orders table',
})

export const userProfile = featureView({
  name: 'user_profile',
  version: 1,
  entity: user,
  source: users,
  attributes: ['status', 'credit_limit', 'country'],
  ttl: '400d',
  freshnessSla: '2d',
  owner: 'risk@shop.example',
  description: 'The user row as of the latest export',
  tags: { team: 'risk', tier: 'batch' },
})

export const userOpenOrders = featureView({
  name: 'user_open_orders',
  version: 1,
  entity: user,
  source: orders,
  // Only open orders count; an order that ships or is deleted leaves its user's total.
  filter: (row) => row.status === 'open',
  aggregations: [{ op: 'count' }, { op: 'sum', field: 'amount' }, { op: 'avg', field: 'amount' }],
  ttl: '30d',
  freshnessSla: '5m',
  owner: 'risk@shop.example',
  description: 'Open orders per user, and how much they are worth',
  tags: { team: 'risk', tier: 'changelog' },
})

export const fraudModelV4 = featureService({
  name: 'fraud_model_v4',
  features: [
    'user_purchases:amount_sum_1h',
    'user_purchases:amount_avg_7d',
    'user_clicks:count_1h',
    'user_profile:status',
    'user_profile:credit_limit',
    'user_open_orders:count',
    'user_open_orders:amount_sum',
  ],
  requestFeatures: [amountVsAvg7d],
  owner: 'risk@shop.example',
  description: 'Fraud model inputs from all three tiers: batch attributes, streaming windows, request time',
  tags: { team: 'risk', model: 'fraud-v4' },
})
