/** The small feature-like table the Iceberg table tests write: entity_key, as_of, clicks, and any further fields given. */
import type { Clock } from '../../../core/clock.ts'
import type { IcebergSchema } from '../../../adapters/offline/iceberg/index.ts'

export const testClock: Clock = { nowMs: () => Date.now(), sleep: () => new Promise((r) => setImmediate(r)) }

export function clicksSchema(extra: IcebergSchema['fields'] = []): IcebergSchema {
  return {
    type: 'struct',
    'schema-id': 0,
    fields: [
      { id: 1, name: 'entity_key', required: true, type: 'string' },
      { id: 2, name: 'as_of', required: true, type: 'timestamptz' },
      { id: 3, name: 'clicks', required: false, type: 'long' },
      ...extra,
    ],
  }
}
