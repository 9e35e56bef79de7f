/** A small clicks source and user entity the definition tests build views over. */
import { entity, source } from '../../../features/index.ts'
import type { AvroRecordSchema } from '../../../features/types.ts'

export const clickSchema: AvroRecordSchema = {
  type: 'record',
  name: 'Click',
  fields: [
    { name: 'user_id', type: 'string' },
    { name: 'item_id', type: 'string' },
    { name: 'price', type: 'double' },
    { name: 'quantity', type: 'long' },
    { name: 'bot', type: 'boolean' },
    { name: 'category', type: ['null', 'string'] },
    { name: 'ts', type: { type: 'long', logicalType: 'timestamp-millis' } },
  ],
}

export const user = entity({ name: 'user', joinKeys: ['user_id'] })
export const clicks = source({ name: 'clicks', topic: 'clicks', schema: clickSchema, eventTimeField: 'ts', keyedBy: user })

export const viewBase = {
  name: 'user_stats',
  version: 1,
  entity: user,
  source: clicks,
  ttl: '1d',
  freshnessSla: '1m',
  owner: 'team@example.com',
  description: 'test view',
} as const
