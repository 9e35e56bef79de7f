/** Plain definition objects for serving tests (the DSL builders are not needed to serve). */
import type { FeatureServiceDef, RequestFeatureDef } from '../../../features/types.ts'
import { entity, feature, view } from '../../contracts/online-store.ts'

export const userEntity = entity('user', ['user_id'])
export const itemEntity = { ...entity('item', ['item_id']), keyType: 'int' as const }
export const userItemEntity = entity('user_item', ['user_id', 'item_id'])

export const userStats = view('user_stats', [feature('clicks_1h', 'long'), feature('spend_1h', 'double'), feature('last_city', 'string')], {
  entity: userEntity,
  ttlMs: 3_600_000,
  owner: 'growth',
})
export const itemStats = view('item_stats', [feature('price', 'double'), feature('recent_buyers', 'string[]')], { entity: itemEntity, ttlMs: 86_400_000 })
export const userItem = view('user_item', [feature('views_1d', 'long')], { entity: userItemEntity })

export const spendPerClick: RequestFeatureDef = {
  kind: 'requestFeature',
  name: 'discounted_price',
  request: { discount: 'double' },
  features: ['item_stats:price', 'user_stats:spend_1h'],
  outputType: 'double',
  fn: (request, features) => {
    const price = features['item_stats:price']
    if (typeof price !== 'number') return null
    return price * (1 - (request.discount as number)) + (typeof features['user_stats:spend_1h'] === 'number' ? 0 : 1)
  },
  description: 'price after the request discount (+1 when the user has no spend)',
}

export const rankingService: FeatureServiceDef = {
  kind: 'featureService',
  name: 'ranking',
  features: ['user_stats:clicks_1h', 'item_stats:price', 'user_item:views_1d'],
  requestFeatures: ['discounted_price'],
  owner: 'ranking-team',
  description: 'features for the ranker',
  tags: {},
}

export const allViews = [userStats, itemStats, userItem]
