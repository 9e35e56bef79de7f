/**
 * A join key whose field can never hold one of the entity's keys is refused when the view is
 * defined, for every field kind × key type, with and without a map: the engine would otherwise
 * dead-letter every record `invalid_key` (operators/task/event-fields.ts reads the keys). The
 * kinds the definition accepts are checked against that run-time reading, so the two cannot drift.
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { DefinitionError } from '../../../core/errors.ts'
import { entity, featureView, source } from '../../../features/index.ts'
import type { AvroRecordSchema, EventRecord } from '../../../features/types.ts'
import { entityKeyOf } from '../../../operators/task/event-fields.ts'

/** Each Avro type a key field may have, and the value of it most likely to be a key, as the decoder hands it over. */
const KINDS: readonly { readonly type: unknown; readonly value: unknown }[] = [
  { type: 'string', value: '42' },
  { type: ['null', 'string'], value: '42' },
  { type: 'int', value: 42 },
  { type: 'long', value: 42 },
  { type: ['null', 'long'], value: 42 },
  { type: 'double', value: 42 },
  { type: 'float', value: 42 },
  { type: 'boolean', value: true },
  { type: ['null', 'double'], value: 42 },
]

function schemaWithKey(type: unknown): AvroRecordSchema {
  return {
    type: 'record',
    name: 'Event',
    fields: [
      { name: 'k', type },
      { name: 'ts', type: { type: 'long', logicalType: 'timestamp-millis' } },
      { name: 'amount', type: 'double' },
    ],
  } as AvroRecordSchema
}

function define(type: unknown, keyType: 'string' | 'int', extra: Record<string, unknown> = {}) {
  const e = entity({ name: 'thing', joinKeys: ['k'], keyType })
  const s = source({ name: 'events', topic: 'events', schema: schemaWithKey(type), eventTimeField: 'ts', keyedBy: e })
  return featureView({
    name: 'thing_stats',
    version: 1,
    entity: e,
    source: s,
    ttl: '1d',
    freshnessSla: '1m',
    owner: 'team@example.com',
    description: 'test view',
    aggregations: [{ op: 'count', windows: ['1h'] }],
    ...extra,
  } as Parameters<typeof featureView>[0])
}

void describe('define > featureView > join key kinds', () => {
  for (const keyType of ['string', 'int'] as const) {
    for (const { type, value } of KINDS) {
      const runs = entityKeyOf({ name: 'thing', joinKeys: ['k'], keyType } as never, { k: value } as EventRecord).ok
      void test(`a ${JSON.stringify(type)} key field for keyType ${keyType}: ${runs ? 'defined' : 'refused'}, as the engine ${runs ? 'keys' : 'dead-letters'} its records`, () => {
        if (runs) {
          assert.equal(define(type, keyType).entity.keyType, keyType)
          return
        }
        assert.throws(
          () => define(type, keyType),
          (err: unknown) => {
            assert.ok(err instanceof DefinitionError, String(err))
            assert.match(err.message, /join key 'k' is a (double|boolean|long) in source events/)
            assert.match(err.message, /every record would be dead-lettered invalid_key/)
            return true
          },
        )
      })
    }
  }

  void test('a map may rewrite the key: judged by the kind mapFields declares, not judged when it declares none', () => {
    const toText = (e: EventRecord) => ({ ...e, k: String(e.k) })
    assert.doesNotThrow(() => define('double', 'string', { map: toText }))
    assert.doesNotThrow(() => define('double', 'string', { map: toText, mapFields: { k: 'string' } }))
    assert.throws(() => define('string', 'string', { map: toText, mapFields: { k: 'double' } }), /join key 'k' is a double/)
    assert.throws(
      () => define('long', 'string', { mapFields: { other: 'long' }, map: undefined }),
      /mapFields describes what map adds/,
    )
  })
})
