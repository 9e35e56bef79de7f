import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { DefinitionError } from '../../../core/errors.ts'
import { entity, featureService, featureView, requestFeature, source, type AggregationOptions } from '../../../features/index.ts'
import { clickSchema, clicks, user, viewBase } from './fixtures.ts'

function view(aggregations: AggregationOptions[], extra: Record<string, unknown> = {}) {
  return featureView({ ...viewBase, aggregations, ...extra } as Parameters<typeof featureView>[0])
}

/** Asserts a DefinitionError whose message mentions every fragment (view, field and the fix). */
function throwsDefinition(fn: () => unknown, fragments: readonly (string | RegExp)[]): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof DefinitionError, `expected DefinitionError, got ${String(err)}`)
    assert.equal(err.code, 'DEFINITION_INVALID')
    for (const f of fragments) {
      if (typeof f === 'string') assert.ok(err.message.includes(f), `message ${JSON.stringify(err.message)} lacks ${JSON.stringify(f)}`)
      else assert.match(err.message, f)
    }
    return true
  })
}

void describe('define > featureView > names', () => {
  void test('derives <field>_<op>_<window>, count_<window>, lifetime names and overrides', () => {
    const v = view([
      { op: 'sum', field: 'price', windows: ['5m', '1h', '1d', '7d'] },
      { op: 'count', windows: ['1h'] },
      { op: 'max', field: 'price', windows: ['lifetime'] },
      { op: 'count' },
      { op: 'avg', field: 'price', windows: null },
      { op: 'min', field: 'price', windows: ['60m'] },
      { op: 'last', field: 'item_id', windows: ['1d'], name: 'last_item' },
    ])
    assert.deepEqual(
      v.features.map((f) => f.name),
      ['price_sum_5m', 'price_sum_1h', 'price_sum_1d', 'price_sum_7d', 'count_1h', 'price_max', 'count', 'price_avg', 'price_min_1h', 'last_item'],
    )
  })

  void test('percentiles name the quantile, last_n keeps its op name', () => {
    const v = view([
      { op: 'approx_percentile', field: 'price', quantile: 0.95, windows: ['1d'] },
      { op: 'approx_percentile', field: 'price', quantile: 0.999, windows: ['1d'] },
      { op: 'last_n', field: 'item_id', n: 5, windows: ['1h'] },
    ])
    assert.deepEqual(v.features.map((f) => f.name), ['price_p95_1d', 'price_p99_9_1d', 'item_id_last_n_1h'])
  })

  void test('value types follow the op and the Avro field type', () => {
    const v = view([
      { op: 'count', windows: ['1h'] },
      { op: 'sum', field: 'quantity', windows: ['1h'] },
      { op: 'avg', field: 'price', windows: ['1h'] },
      { op: 'first', field: 'item_id', windows: ['1h'] },
      { op: 'last', field: 'quantity', windows: ['1h'] },
      { op: 'last', field: 'category', windows: ['1h'] },
      { op: 'last_n', field: 'item_id', n: 3, windows: ['1h'] },
      { op: 'last_n', field: 'price', n: 3, windows: ['1d'] },
      { op: 'approx_distinct', field: 'item_id', windows: ['1h'] },
      { op: 'approx_percentile', field: 'quantity', quantile: 0.5, windows: ['1h'] },
    ])
    assert.deepEqual(
      v.features.map((f) => f.type),
      ['long', 'double', 'double', 'string', 'long', 'string', 'string[]', 'double[]', 'long', 'double'],
    )
  })
})

void describe('define > featureView > hops', () => {
  const MIN = 60_000
  void test('default hop per window length: ≤1h → 1m, ≤1d → 5m, longer → 1h, shorter than a minute → one tile', () => {
    const v = view([{ op: 'count', windows: ['30s', '5m', '1h', '2h', '1d', '7d', 'lifetime'] }])
    assert.deepEqual(
      v.features.map((f) => [f.aggregation.windowMs, f.aggregation.hopMs]),
      [
        [30_000, 30_000],
        [5 * MIN, MIN],
        [60 * MIN, MIN],
        [120 * MIN, 5 * MIN],
        [1440 * MIN, 5 * MIN],
        [7 * 1440 * MIN, 60 * MIN],
        [null, 0],
      ],
    )
  })

  void test('an explicit hop applies to every window', () => {
    const v = view([{ op: 'sum', field: 'price', windows: ['1h', '1d'], hop: '15m' }])
    assert.deepEqual(v.features.map((f) => f.aggregation.hopMs), [15 * MIN, 15 * MIN])
  })
})

void describe('define > featureView > errors name the view, the field and the fix', () => {
  void test('unknown field lists the fields and suggests the closest', () => {
    throwsDefinition(() => view([{ op: 'sum', field: 'prize', windows: ['1h'] }]), [
      'view user_stats',
      "aggregation sum on field 'prize'",
      'no such field in source clicks (Avro record Click)',
      "Did you mean 'price'?",
      'Fields: user_id, item_id, price',
    ])
  })

  void test('window not a multiple of the hop', () => {
    throwsDefinition(() => view([{ op: 'count', windows: ['1h'], hop: '7m' }]), ['view user_stats', 'window 1h is not a multiple of hop 7m', "hop: '1m'"])
  })

  void test('duplicate feature names', () => {
    throwsDefinition(
      () => view([{ op: 'count', windows: ['1h'] }, { op: 'count', windows: ['60m'] }]),
      ['view user_stats', "feature name 'count_1h' is produced twice", 'distinct name'],
    )
    throwsDefinition(() => view([{ op: 'count', windows: ['1h'] }, { op: 'sum', field: 'price', windows: ['1d'], name: 'count_1h' }]), ["'count_1h'"])
  })

  void test('bad durations', () => {
    throwsDefinition(() => view([{ op: 'count', windows: ['1 hour' as '1h'] }]), ['view user_stats', 'window', "'5m'"])
    throwsDefinition(() => view([{ op: 'count', windows: ['1h'] }], { ttl: '5 minutes' }), ['view user_stats', 'ttl "5 minutes" is not a duration'])
    throwsDefinition(() => view([{ op: 'count', windows: ['0m'] }]), ['view user_stats', 'window must be greater than zero'])
  })

  void test('version must be a positive integer', () => {
    for (const version of [0, -1, 1.5, '1']) {
      throwsDefinition(() => view([{ op: 'count', windows: ['1h'] }], { version }), ['view user_stats', 'version must be a positive integer'])
    }
  })

  void test('filter and map must be functions', () => {
    throwsDefinition(() => view([{ op: 'count', windows: ['1h'] }], { filter: 'price > 0' }), ['view user_stats', 'filter must be a function'])
    throwsDefinition(() => view([{ op: 'count', windows: ['1h'] }], { map: { price: 1 } }), ['view user_stats', 'map must be a function'])
  })

  void test('ttl, owner, description and freshnessSla are required', () => {
    throwsDefinition(() => view([{ op: 'count', windows: ['1h'] }], { ttl: undefined }), ['view user_stats', 'ttl is missing'])
    throwsDefinition(() => view([{ op: 'count', windows: ['1h'] }], { owner: '' }), ['view user_stats', 'owner is required'])
    throwsDefinition(() => view([{ op: 'count', windows: ['1h'] }], { freshnessSla: undefined }), ['view user_stats', 'freshnessSla is missing'])
  })

  void test('op and field type must fit', () => {
    throwsDefinition(() => view([{ op: 'sum', field: 'item_id', windows: ['1h'] }]), ["aggregation sum on field 'item_id'", 'needs a numeric field'])
    throwsDefinition(() => view([{ op: 'last', field: 'bot', windows: ['1h'] }]), ["field 'bot' is boolean", 'map booleans to 0/1'])
    throwsDefinition(() => view([{ op: 'avg', windows: ['1h'] }]), ['aggregation avg', 'needs a field'])
    throwsDefinition(() => view([{ op: 'median' as 'avg', field: 'price', windows: ['1h'] }]), ['"median"', 'use one of count, sum'])
    throwsDefinition(() => view([{ op: 'last_n', field: 'item_id', windows: ['1h'] }]), ['last_n needs n'])
    throwsDefinition(() => view([{ op: 'approx_percentile', field: 'price', quantile: 95, windows: ['1h'] }]), ['quantile in [0, 1]'])
    throwsDefinition(() => view([{ op: 'sum', field: 'price', windows: ['1h', '1d'], name: 'spend' }]), ["name 'spend' can only override a single window"])
  })

  void test('entity join keys must exist in the source (or in mapFields)', () => {
    const item = entity({ name: 'shop', joinKeys: ['shop_id'] })
    throwsDefinition(() => view([{ op: 'count', windows: ['1h'] }], { entity: item }), ["entity shop join key 'shop_id'", 'no such field in source clicks'])
    const mapped = view([{ op: 'sum', field: 'spend', windows: ['1h'] }], {
      entity: item,
      map: (e: Record<string, unknown>) => ({ ...e, shop_id: 's1', spend: Number(e.price) * Number(e.quantity) }),
      mapFields: { shop_id: 'string', spend: 'double' },
    })
    assert.deepEqual(mapped.features.map((f) => [f.name, f.type]), [['spend_sum_1h', 'double']])
  })
})

void describe('define > join keys are offline-table columns (issue #17 item 5)', () => {
  void test('an entity refuses join keys named as a row column of every feature table (any case) or not a plain name', () => {
    for (const key of ['entity_key', 'as_of', 'created_at', 'seq', 'AS_OF', 'Entity_Key']) {
      throwsDefinition(() => entity({ name: 'shop', joinKeys: ['shop_id', key] }), ['entity shop', `join key '${key}' is reserved`, `a column ${key.toLowerCase()}`])
    }
    throwsDefinition(() => entity({ name: 'shop', joinKeys: ['shop-id'] }), ['entity shop', 'join key "shop-id" is not a valid field name'])
    throwsDefinition(() => entity({ name: 'shop', joinKeys: ['1st'] }), ['join key "1st" is not a valid field name'])
    throwsDefinition(() => entity({ name: 'shop', joinKeys: ['id', 'ID'] }), ["join keys 'id' and 'ID' differ only in case"])
    // Plain names that merely contain a reserved word, and `deleted` outside attribute views, are fine.
    assert.deepEqual(entity({ name: 'shop', joinKeys: ['as_of_id', 'deleted', '_seq'] }).joinKeys, ['as_of_id', 'deleted', '_seq'])
  })

  void test('a feature may not share a join key\'s column name, in any case', () => {
    const shop = entity({ name: 'shop', joinKeys: ['Item_ID'] })
    throwsDefinition(() => view([{ op: 'last', field: 'price', windows: ['1h'], name: 'item_id' }], { entity: shop, map: (e: Record<string, unknown>) => ({ ...e, Item_ID: e.item_id }), mapFields: { Item_ID: 'string' } }), [
      "feature name 'item_id' is reserved (join key Item_ID of entity shop",
    ])
  })

  void test('a feature named entity_key or seq is refused in an offline view, allowed in an online-only one', () => {
    for (const name of ['entity_key', 'seq']) {
      throwsDefinition(() => view([{ op: 'sum', field: 'price', windows: ['1h'], name }]), [`feature name '${name}' is reserved (row column)`])
      assert.deepEqual(view([{ op: 'sum', field: 'price', windows: ['1h'], name }], { offline: false }).features.map((f) => f.name), [name])
    }
  })
})

void describe('define > source and entity', () => {
  void test('defaults', () => {
    assert.equal(clicks.outOfOrdernessMs, 5_000)
    assert.equal(clicks.allowedLatenessMs, 60_000)
    assert.equal(clicks.idleTimeoutMs, 30_000)
    assert.equal(clicks.keyedBy, 'user')
    assert.equal(user.keyType, 'string')
  })

  void test('event-time field must exist and hold epoch milliseconds', () => {
    throwsDefinition(() => source({ name: 'clicks', topic: 'clicks', schema: clickSchema, eventTimeField: 'time' }), ['source clicks', 'eventTimeField "time"', 'Fields: user_id'])
    throwsDefinition(() => source({ name: 'clicks', topic: 'clicks', schema: clickSchema, eventTimeField: 'price' }), ["eventTimeField 'price' must be a long of epoch milliseconds"])
  })

  void test('keyedBy entity join keys must be in the schema, topic must be valid, schema a record', () => {
    const shop = entity({ name: 'shop', joinKeys: ['shop_id'] })
    throwsDefinition(() => source({ name: 'clicks', topic: 'clicks', schema: clickSchema, eventTimeField: 'ts', keyedBy: shop }), ['source clicks', 'shop_id'])
    throwsDefinition(() => source({ name: 'clicks', topic: 'bad topic', schema: clickSchema, eventTimeField: 'ts' }), ['source clicks', 'not a valid Kafka topic name'])
    throwsDefinition(() => source({ name: 'clicks', topic: 'clicks', schema: { type: 'enum' } as never, eventTimeField: 'ts' }), ['source clicks', 'Avro record schema'])
  })

  void test('names are lower_snake_case', () => {
    throwsDefinition(() => entity({ name: 'User', joinKeys: ['user_id'] }), ['lower_snake_case'])
    throwsDefinition(() => entity({ name: 'user', joinKeys: [] }), ['entity user', 'joinKeys must be a non-empty list'])
  })
})

void describe('define > featureService and requestFeature', () => {
  const v = view([{ op: 'count', windows: ['1h', '1d'] }])
  void test('views expand to all their features; refs are validated', () => {
    const s = featureService({ name: 'model', features: [v, 'other:x_sum_1h', 'pinned@2:y'], owner: 'o', description: 'd' })
    assert.deepEqual(s.features, ['user_stats:count_1h', 'user_stats:count_1d', 'other:x_sum_1h', 'pinned@2:y'])
    throwsDefinition(() => featureService({ name: 'model', features: ['user_stats'], owner: 'o', description: 'd' }), ['feature service model', "'view:feature'"])
    throwsDefinition(() => featureService({ name: 'model', features: [v, 'user_stats:count_1h'], owner: 'o', description: 'd' }), ["'user_stats:count_1h' is listed twice"])
  })

  void test('request features check types and fn', () => {
    const base = { name: 'ratio', request: { amount: 'double' as const }, features: ['user_stats:count_1h'], outputType: 'double' as const, description: 'd', fn: () => 1 }
    assert.equal(requestFeature(base).name, 'ratio')
    throwsDefinition(() => requestFeature({ ...base, request: { amount: 'float' as 'double' } }), ['request feature ratio', "request field 'amount'", 'long, double, string, boolean'])
    throwsDefinition(() => requestFeature({ ...base, fn: 'x' as never }), ['request feature ratio', 'fn must be a function'])
    throwsDefinition(() => requestFeature({ ...base, outputType: 'int' as 'long' }), ['outputType "int"'])
  })
})
