/**
 * The shop's definitions a few weeks later: everything in ./features.ts plus a view added after
 * its events were already archived. `npm start` applies this module midway to show a backfill from
 * the archive and the hand-off to live consumption.
 */
import { featureView } from '../features/index.ts'
import { purchases, user } from './features.ts'

export * from './features.ts'

export const userBigSpends = featureView({
  name: 'user_big_spends',
  version: 1,
  entity: user,
  source: purchases,
  filter: (event) => Number(event.amount) >= 100,
  aggregations: [
    { op: 'count', windows: ['1d', '7d'] },
    { op: 'sum', field: 'amount', windows: ['7d'] },
    { op: 'last', field: 'item_id', windows: ['7d'] },
  ],
  ttl: '30d',
  freshnessSla: '1m',
  owner: 'risk@shop.example',
  description: 'Purchases of 100 or more: how many and how much, per user',
  tags: { team: 'risk' },
})
