import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { DefinitionError } from '../../../core/errors.ts'
import { changeEnvelopeSchema } from '../../../features/change-envelope.ts'
import { changelogSource, entity, featureView, tableSource, type FeatureViewOptions, type TableSourceOptions } from '../../../features/index.ts'
import type { AvroRecordSchema } from '../../../features/types.ts'
import { clicks, user } from './fixtures.ts'

const orderRow: AvroRecordSchema = {
  type: 'record',
  name: 'OrderRow',
  namespace: 'shop',
  fields: [
    { name: 'order_id', type: 'string' },
    { name: 'user_id', type: 'string' },
    { name: 'amount', type: 'double' },
    { name: 'quantity', type: 'int' },
    { name: 'status', type: ['null', 'string'] },
    { name: 'paid', type: 'boolean' },
    { name: 'lines', type: { type: 'array', items: 'string' } },
    { name: 'updated_at', type: { type: 'long', logicalType: 'timestamp-millis' } },
    { name: 'note_date', type: { type: 'int', logicalType: 'date' } },
  ],
}
const order = entity({ name: 'order', joinKeys: ['order_id'] })
const tableBase: TableSourceOptions = { name: 'orders', topic: 'orders', schema: orderRow, keyedBy: order, eventTimeField: 'updated_at', location: { format: 'parquet', path: 'data/orders' } }
const orders = tableSource(tableBase)
const orderChanges = changelogSource({ name: 'order_changes', topic: 'pg.public.orders', schema: orderRow, keyedBy: order, format: 'json' })

const viewBase = { name: 'order_state', version: 1, entity: order, source: orders, ttl: '30d', freshnessSla: '5m', owner: 'shop@example.com', description: 'orders' } as const
const view = (patch: Record<string, unknown>) => featureView({ ...viewBase, ...patch } as FeatureViewOptions)

/** Asserts a DefinitionError whose message holds every fragment. */
function throwsDefinition(fn: () => unknown, fragments: readonly string[]): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof DefinitionError, `expected DefinitionError, got ${String(err)}`)
    for (const f of fragments) assert.ok(err.message.includes(f), `message ${JSON.stringify(err.message)} lacks ${JSON.stringify(f)}`)
    return true
  })
}

void describe('define > tableSource', () => {
  void test('carries the change envelope as its schema, ts_ms as event time, and the table in changes', () => {
    assert.equal(orders.kind, 'source')
    assert.equal(orders.topic, 'orders')
    assert.deepEqual(orders.schema, changeEnvelopeSchema(orderRow))
    assert.equal(orders.eventTimeField, 'ts_ms')
    assert.equal(orders.keyedBy, 'order')
    assert.deepEqual(orders.changes, { kind: 'table', rowSchema: orderRow, primaryKey: ['order_id'], rowTimeField: 'updated_at', location: { format: 'parquet', path: 'data/orders' }, format: 'avro' })
    assert.equal(orders.partitions, 3)
    assert.equal(orders.allowedLatenessMs, 60_000)
    const iceberg = tableSource({ ...tableBase, location: { format: 'iceberg', table: 'shop.orders' }, partitions: 6, allowedLateness: '5m' })
    assert.deepEqual(iceberg.changes?.location, { format: 'iceberg', table: 'shop.orders' })
    assert.equal(iceberg.partitions, 6)
    assert.equal(iceberg.allowedLatenessMs, 300_000)
  })

  void test('refuses a bad location, naming what to write', () => {
    throwsDefinition(() => tableSource({ ...tableBase, location: undefined as never }), ['table source orders', 'location is required', "format: 'parquet'"])
    throwsDefinition(() => tableSource({ ...tableBase, location: { format: 'csv', path: ' ' } }), ['location.path must name a csv file or folder'])
    throwsDefinition(() => tableSource({ ...tableBase, location: { format: 'iceberg', path: 'x' } as never }), ['location.table must name the Iceberg table'])
    throwsDefinition(() => tableSource({ ...tableBase, location: { format: 'orc', path: 'x' } as never }), ['location.format "orc" is not supported', "'parquet', 'csv' or 'iceberg'"])
  })

  void test('shares the event source checks: topic, row time column, primary key columns, durations', () => {
    throwsDefinition(() => tableSource({ ...tableBase, topic: '__orders' }), ['table source orders', 'not a valid Kafka topic name'])
    throwsDefinition(() => tableSource({ ...tableBase, eventTimeField: 'update_at' }), ['eventTimeField "update_at"', "Did you mean 'updated_at'?"])
    throwsDefinition(() => tableSource({ ...tableBase, eventTimeField: 'note_date' }), ["eventTimeField 'note_date' must be a long of epoch milliseconds"])
    throwsDefinition(() => tableSource({ ...tableBase, keyedBy: entity({ name: 'order', joinKeys: ['id'] }) }), ['keyedBy entity order has join key(s) id missing from Avro record OrderRow'])
    throwsDefinition(() => tableSource({ ...tableBase, keyedBy: 'order' as never }), ['keyedBy must be the entity', "primary-key columns"])
    throwsDefinition(() => tableSource({ ...tableBase, partitions: 0 }), ['partitions must be a whole number'])
    throwsDefinition(() => tableSource({ ...tableBase, idleTimeout: 'soon' as never }), ['idleTimeout "soon" is not a duration'])
    throwsDefinition(() => tableSource({ ...tableBase, schema: { type: 'record', name: 'X' } as never }), ['schema must be an Avro record schema'])
  })
})

void describe('define > changelogSource', () => {
  void test('is a change source without row time or location; format defaults to avro', () => {
    assert.equal(orderChanges.eventTimeField, 'ts_ms')
    assert.deepEqual(orderChanges.changes, { kind: 'changelog', rowSchema: orderRow, primaryKey: ['order_id'], format: 'json' })
    const avro = changelogSource({ name: 'order_changes', topic: 'orders.cdc', schema: orderRow, keyedBy: order })
    assert.equal(avro.changes?.format, 'avro')
    assert.equal('rowTimeField' in (avro.changes ?? {}), false)
  })

  void test('refuses an unknown format and a keyedBy that is not an entity', () => {
    throwsDefinition(() => changelogSource({ name: 'c', topic: 'c', schema: orderRow, keyedBy: order, format: 'protobuf' as never }), ['changelog source c', 'format "protobuf" is not supported', "'avro'", "'json'"])
    throwsDefinition(() => changelogSource({ name: 'c', topic: 'c', schema: orderRow, keyedBy: undefined as never }), ['changelog source c: keyedBy must be the entity'])
  })

  void test("carries the connector's unavailable-value placeholder when set; Debezium's default otherwise", () => {
    assert.equal('unavailableValue' in (orderChanges.changes ?? {}), false)
    const own = changelogSource({ name: 'c', topic: 'c', schema: orderRow, keyedBy: order, format: 'json', unavailableValue: '__toasted__' })
    assert.equal(own.changes?.unavailableValue, '__toasted__')
    const bad: readonly [unknown, string][] = [
      ['', '""'],
      [7, '7'],
      [null, 'null'],
      [['__toasted__'], '["__toasted__"]'],
    ]
    for (const [value, shown] of bad) {
      throwsDefinition(
        () => changelogSource({ name: 'c', topic: 'c', schema: orderRow, keyedBy: order, unavailableValue: value as never }),
        ['changelog source c: unavailableValue must be a non-empty string', `got ${shown}`],
      )
    }
  })
})

void describe('define > featureView over a change source > attributes', () => {
  void test('makes one attribute feature per column, typed by the column, with changeMode attributes', () => {
    const v = view({ attributes: ['status', 'amount', 'quantity'], source: orderChanges })
    assert.equal(v.changeMode, 'attributes')
    assert.deepEqual(
      v.features.map((f) => [f.name, f.type]),
      [['status', 'string'], ['amount', 'double'], ['quantity', 'long']],
    )
    assert.deepEqual(v.features[0]?.aggregation, { name: 'status', op: 'attribute', field: 'status', windowMs: null, hopMs: 0, n: undefined, quantile: undefined })
  })

  void test('columns a map adds count, so a boolean can be mapped to a long', () => {
    const v = view({ attributes: ['paid'], map: (r: Record<string, unknown>) => ({ ...r, paid: r.paid ? 1 : 0 }), mapFields: { paid: 'long' } })
    assert.deepEqual(v.features.map((f) => [f.name, f.type]), [['paid', 'long']])
  })

  void test('refuses another entity than the primary key, pointing to aggregations', () => {
    throwsDefinition(() => view({ entity: user, attributes: ['status'] }), [
      'view order_state: an attribute view over table source orders is keyed by its primary-key entity order (order_id), not entity user (user_id)',
      'use aggregations',
    ])
    const renamed = entity({ name: 'order', joinKeys: ['order_id', 'user_id'] })
    throwsDefinition(() => view({ entity: renamed, attributes: ['status'] }), ['keyed by its primary-key entity order (order_id)'])
  })

  void test('refuses unknown, key, duplicate, boolean and non-scalar columns', () => {
    throwsDefinition(() => view({ attributes: ['stauts'] }), ['attribute "stauts" — no such column in table source orders (row Avro record OrderRow)', "Did you mean 'status'?"])
    throwsDefinition(() => view({ attributes: ['order_id'] }), ["attribute 'order_id' is a primary-key column"])
    throwsDefinition(() => view({ attributes: ['status', 'status'] }), ["attribute 'status' is listed twice"])
    throwsDefinition(() => view({ attributes: ['paid'] }), ["attribute 'paid' is a boolean", 'map it to a long', "mapFields: { paid: 'long' }"])
    throwsDefinition(() => view({ attributes: ['lines'] }), ["attribute 'lines' is not a scalar column"])
    throwsDefinition(() => view({ attributes: [] }), ['attributes must list at least one column'])
    const withDeleted = tableSource({ ...tableBase, schema: { ...orderRow, fields: [...orderRow.fields, { name: 'deleted', type: 'string' }] } })
    throwsDefinition(() => view({ source: withDeleted, attributes: ['deleted'] }), ["attribute 'deleted' is reserved (the tombstone column of attribute views)"])
    // Nor may the key be named so: the offline table has a typed column per join key beside deleted.
    const keyedByDeleted = entity({ name: 'order', joinKeys: ['Deleted'] })
    const deletedKeyed = tableSource({ ...tableBase, keyedBy: keyedByDeleted, schema: { ...orderRow, fields: [...orderRow.fields, { name: 'Deleted', type: 'string' }] } })
    throwsDefinition(() => view({ entity: keyedByDeleted, source: deletedKeyed, attributes: ['status'] }), ["join key 'Deleted' of entity order is reserved in attribute views"])
    assert.deepEqual(view({ entity: keyedByDeleted, source: deletedKeyed, aggregations: [{ op: 'count' }] }).entity.joinKeys, ['Deleted'], 'aggregations over current state have no deleted column')
  })

  void test('refuses attributes over an event source, and both or neither of attributes and aggregations', () => {
    throwsDefinition(() => view({ entity: user, source: clicks, attributes: ['price'] }), ['view order_state: attributes are columns of a table', 'source clicks is an event source', 'tableSource/changelogSource'])
    throwsDefinition(() => view({ attributes: ['status'], aggregations: [{ op: 'count' }] }), ['either attributes', 'or aggregations', 'not both'])
    throwsDefinition(() => view({}), ['a view over table source orders needs attributes', 'or aggregations'])
  })
})

void describe('define > featureView over a change source > current state', () => {
  void test('groups by another entity with lifetime count, sum and avg; changeMode current_state', () => {
    const v = view({ name: 'user_open_orders', entity: user, filter: (r: Record<string, unknown>) => r.status === 'open', aggregations: [{ op: 'count' }, { op: 'sum', field: 'amount', windows: ['lifetime'] }, { op: 'avg', field: 'quantity', windows: null }] })
    assert.equal(v.changeMode, 'current_state')
    assert.deepEqual(v.features.map((f) => [f.name, f.type, f.aggregation.op, f.aggregation.windowMs]), [
      ['count', 'long', 'count', null],
      ['amount_sum', 'double', 'sum', null],
      ['quantity_avg', 'double', 'avg', null],
    ])
  })

  void test('refuses ops that cannot be retracted, with the reason', () => {
    for (const op of ['max', 'last', 'approx_distinct'] as const) {
      throwsDefinition(() => view({ entity: user, aggregations: [{ op, field: 'amount' }] }), [
        `view order_state: ${op} over table source orders is not invertible: a change retracts the old row's contribution, and only count, sum and avg can (docs/design.md §11)`,
      ])
    }
    throwsDefinition(() => view({ entity: user, source: orderChanges, aggregations: [{ op: 'min', field: 'amount' }] }), ['min over changelog source order_changes is not invertible'])
  })

  void test('refuses windows and hops: current state has none', () => {
    throwsDefinition(() => view({ entity: user, aggregations: [{ op: 'sum', field: 'amount', windows: ['1h'] }] }), [
      "aggregation sum on field 'amount' — current-state aggregations over table source orders have no windows",
      'Remove windows',
    ])
    throwsDefinition(() => view({ entity: user, aggregations: [{ op: 'count', windows: ['lifetime', '1d'] }] }), ['have no windows'])
    throwsDefinition(() => view({ entity: user, aggregations: [{ op: 'count', hop: '1m' }] }), ['have no windows', 'Remove windows and hop'])
  })

  void test('resolves fields and join keys against the row, not the envelope', () => {
    throwsDefinition(() => view({ entity: user, aggregations: [{ op: 'sum', field: 'after' }] }), ['no such field in table source orders (row Avro record OrderRow)'])
    throwsDefinition(() => view({ entity: user, aggregations: [{ op: 'sum', field: 'status' }] }), ['sum needs a numeric field'])
    const shop = entity({ name: 'shop', joinKeys: ['shop_id'] })
    throwsDefinition(() => view({ entity: shop, aggregations: [{ op: 'count' }] }), ["entity shop join key 'shop_id' — no such field in table source orders (row Avro record OrderRow)"])
    throwsDefinition(() => view({ entity: user, aggregations: [{ op: 'nope' }] }), ['has op "nope"; use one of'])
  })

  void test('an event view has no changeMode member at all', () => {
    const v = view({ entity: user, source: clicks, aggregations: [{ op: 'count', windows: ['1h'] }] })
    assert.equal('changeMode' in v, false)
  })
})
