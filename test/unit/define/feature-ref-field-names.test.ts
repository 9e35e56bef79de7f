/**
 * A feature named after an Avro field is reachable by reference. An aggregation's default name
 * starts with its field's name, and Avro field names may hold capitals and start with `_`
 * (`amountUsd` → `amountUsd_sum_1h`); the reference grammar took only lower-case feature names, so
 * no service, request feature or training set could name such a feature of a view it accepted.
 * Every op × field names of every shape Avro allows: each derived feature parses as a reference,
 * round-trips, and resolves in a service the registry's cross-checks accept; names outside Avro's
 * grammar are still refused.
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { DefinitionError } from '../../../core/errors.ts'
import { formatFeatureRef, parseFeatureRef } from '../../../features/feature-ref.ts'
import { entity, featureService, featureView, source, type AggregationOptions } from '../../../features/index.ts'
import type { AvroRecordSchema } from '../../../features/types.ts'
import { collectDefinitions } from '../../../registry/collect-definitions.ts'
import { validateDefinitions } from '../../../registry/validate-definitions.ts'

const FIELD_NAMES = ['amountUsd', 'AmountUSD', '_raw', '__x9', 'A', 'x_Y_z2'] as const

const schema: AvroRecordSchema = {
  type: 'record',
  name: 'Payment',
  fields: [
    { name: 'user_id', type: 'string' },
    { name: 'ts', type: { type: 'long', logicalType: 'timestamp-millis' } },
    ...FIELD_NAMES.map((name) => ({ name, type: 'double' })),
    ...FIELD_NAMES.map((name) => ({ name: `${name}Item`, type: 'string' })),
  ],
}
const user = entity({ name: 'user', joinKeys: ['user_id'] })
const payments = source({ name: 'payments', topic: 'payments', schema, eventTimeField: 'ts', keyedBy: user })

const NUMERIC_OPS = ['sum', 'avg', 'min', 'max', 'first', 'last', 'variance', 'stddev'] as const
const aggregations: AggregationOptions[] = FIELD_NAMES.flatMap((field): AggregationOptions[] => [
  ...NUMERIC_OPS.map((op): AggregationOptions => ({ op, field, windows: ['1h', 'lifetime'] })),
  { op: 'count', field, windows: ['1d'] },
  { op: 'approx_percentile', field, quantile: 0.9, windows: ['1d'] },
  { op: 'last_n', field: `${field}Item`, n: 3, windows: ['1d'] },
  { op: 'approx_distinct', field: `${field}Item`, windows: ['1d'] },
  { op: 'top_k', field: `${field}Item`, k: 2, windows: ['1d'] },
])

const view = featureView({
  name: 'user_payments',
  version: 1,
  entity: user,
  source: payments,
  ttl: '1d',
  freshnessSla: '1m',
  owner: 'team@example.com',
  description: 'features named after camelCase and _-led fields',
  aggregations,
})

void describe('define > feature references to features named after Avro fields', () => {
  void test('every feature of every op over every shape of field name parses, round-trips and resolves in a service', () => {
    const named = view.features.filter((f) => /[A-Z]|^_/.test(f.name))
    assert.ok(named.length >= FIELD_NAMES.length * 10, `${named.length} features with capitals or a leading _`)
    const refs = view.features.map((f) => `user_payments:${f.name}`)
    for (const ref of refs) {
      const parsed = parseFeatureRef(ref)
      assert.equal(formatFeatureRef(parsed), ref)
      assert.equal(formatFeatureRef(parseFeatureRef(`user_payments@1:${parsed.feature}`)), `user_payments@1:${parsed.feature}`)
    }
    const service = featureService({ name: 'payments_model', features: refs, owner: 'o', description: 'd' })
    const set = collectDefinitions({ user, payments, view, service })
    assert.doesNotThrow(() => validateDefinitions(set))
  })

  void test('a reference still names an existing feature, and names outside Avro’s grammar are refused', () => {
    const set = collectDefinitions({
      user,
      payments,
      view,
      service: featureService({ name: 'm', features: ['user_payments:amountusd_sum_1h'], owner: 'o', description: 'd' }),
    })
    assert.throws(() => validateDefinitions(set), /has no feature amountusd_sum_1h/)
    for (const bad of [
      'user_payments:amount-usd',
      'user_payments:',
      'user_payments:1abc',
      'user_payments:a b',
      'User_payments:amountUsd_sum_1h',
      'user_payments:é',
    ])
      assert.throws(() => parseFeatureRef(bad), DefinitionError, bad)
  })
})
