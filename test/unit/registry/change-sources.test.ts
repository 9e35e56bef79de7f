import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { MemoryObjectStore } from '../../../adapters/object-store/index.ts'
import type { Clock } from '../../../core/clock.ts'
import { changelogSource, entity, featureView, source, tableSource, type FeatureViewOptions, type TableSourceOptions } from '../../../features/index.ts'
import type { AvroRecordSchema } from '../../../features/types.ts'
import { collectDefinitions, createRegistry, sourceKindText, validateDefinitions, viewHash, viewLogic } from '../../../registry/index.ts'
import { describeSource } from '../../../registry/describe.ts'
import { renderList, renderShow } from '../../../main/commands/registry-format.ts'
import { clickSchema, user } from '../define/fixtures.ts'

const orderRow: AvroRecordSchema = {
  type: 'record',
  name: 'OrderRow',
  fields: [
    { name: 'order_id', type: 'string' },
    { name: 'user_id', type: 'string' },
    { name: 'amount', type: 'double' },
    { name: 'status', type: 'string' },
    { name: 'updated_at', type: 'long' },
  ],
}
const order = entity({ name: 'order', joinKeys: ['order_id'] })
const tableBase: TableSourceOptions = { name: 'orders', topic: 'orders', schema: orderRow, keyedBy: order, eventTimeField: 'updated_at', location: { format: 'parquet', path: 'data/orders' } }
const orders = tableSource(tableBase)
const viewBase = { name: 'order_state', version: 1, entity: order, source: orders, attributes: ['status', 'amount'], ttl: '30d', freshnessSla: '5m', owner: 'o@example.com', description: 'd' } as const
const hashOf = (patch: Record<string, unknown>): string => viewHash(featureView({ ...viewBase, ...patch } as FeatureViewOptions))

void describe('registry > event views hash as before change sources existed', () => {
  void test('the example views keep the hashes they had (computed before #15)', async () => {
    const m = await import('../../../examples/features.ts')
    assert.equal(viewHash(m.userClicks), '44cfe0559381a38eccf7cfb7d385a20783eb0f642929576bddcbf51347780832')
    assert.equal(viewHash(m.userPurchases), '3ba5beef7cf5494af3d6a503efd5991d3f51772b801ab2c54f494a7a16d375a7')
    assert.equal('changeMode' in viewLogic(m.userClicks), false)
    assert.equal('changes' in viewLogic(m.userClicks).source, false)
    assert.equal('changes' in describeSource(m.clicks), false)
  })
})

void describe('registry > views over change sources', () => {
  void test('their logic carries the source changes and the view mode as plain data', () => {
    const logic = viewLogic(featureView({ ...viewBase } as FeatureViewOptions))
    assert.equal(logic.changeMode, 'attributes')
    assert.deepEqual(logic.source.changes, { kind: 'table', rowSchema: orderRow, primaryKey: ['order_id'], rowTimeField: 'updated_at', format: 'avro' })
    assert.equal(logic.source.eventTimeField, 'ts_ms')
    assert.deepEqual(logic.features.map((f) => [f.name, f.op, f.field]), [['status', 'attribute', 'status'], ['amount', 'attribute', 'amount']])
  })

  void test('the hash changes with row time, kind, format and mode, and ignores row docs and the location', () => {
    const h = hashOf({})
    assert.equal(hashOf({ source: tableSource({ ...tableBase, schema: { ...orderRow, doc: 'documented' } as AvroRecordSchema }) }), h)
    // Moving the files changes no value: no new version (the source's record keeps the location).
    assert.equal(hashOf({ source: tableSource({ ...tableBase, location: { format: 'parquet', path: 'data/orders_v2' } }) }), h)
    assert.equal(hashOf({ source: tableSource({ ...tableBase, location: { format: 'iceberg', table: 'shop.orders' } }) }), h)
    const changelog = (format: 'avro' | 'json') => changelogSource({ name: 'orders', topic: 'orders', schema: orderRow, keyedBy: order, format })
    const variants = [
      hashOf({ source: tableSource({ ...tableBase, schema: { ...orderRow, fields: [...orderRow.fields, { name: 'created_at', type: 'long' }] }, eventTimeField: 'created_at' }) }),
      hashOf({ source: changelog('avro') }),
      hashOf({ source: changelog('json') }),
      hashOf({ entity: user, attributes: undefined, aggregations: [{ op: 'sum', field: 'amount' }] }),
      // Another placeholder takes other values as real.
      hashOf({ source: changelogSource({ name: 'orders', topic: 'orders', schema: orderRow, keyedBy: order, format: 'json', unavailableValue: '__toasted__' }) }),
    ]
    for (const [i, v] of variants.entries()) assert.notEqual(v, h, `variant #${i} should change the hash`)
    assert.equal(new Set(variants).size, variants.length, 'every variant hashes differently')
  })

  void test('describeSource and the listings say the source kind, primary key and location', () => {
    assert.deepEqual(describeSource(orders).changes?.location, { format: 'parquet', path: 'data/orders' })
    assert.equal(sourceKindText(describeSource(orders).changes), 'table: primary key order_id, parquet data/orders')
    const cdc = changelogSource({ name: 'order_changes', topic: 'pg.orders', schema: orderRow, keyedBy: order, format: 'json' })
    assert.equal(sourceKindText(describeSource(cdc).changes), 'changelog: primary key order_id, json')
    assert.equal(sourceKindText(describeSource(tableSource({ ...tableBase, location: { format: 'iceberg', table: 'shop.orders' } })).changes), 'table: primary key order_id, iceberg shop.orders')
    assert.equal(sourceKindText(undefined), 'event')
  })
})

void describe('registry > validate and publish change sources', () => {
  void test('checks the keying entity against the row, not the envelope', () => {
    const v = featureView({ ...viewBase } as FeatureViewOptions)
    validateDefinitions(collectDefinitions([v]))
    const other = entity({ name: 'order', joinKeys: ['user_id'] })
    assert.throws(() => validateDefinitions(collectDefinitions([orders, other])), /source orders: keyedBy entity order has join keys user_id, but the source's primary key is order_id/)
  })

  void test('refuses two sources on one topic', () => {
    const twin = changelogSource({ name: 'order_changes', topic: 'orders', schema: orderRow, keyedBy: order })
    assert.throws(() => validateDefinitions(collectDefinitions([orders, twin, order])), /sources order_changes and orders both read topic orders; declare one source per topic/)
    const events = source({ name: 'order_events', topic: 'orders', schema: clickSchema, eventTimeField: 'ts' })
    assert.throws(() => validateDefinitions(collectDefinitions([orders, events, order])), /sources order_events and orders both read topic orders/)
  })

  void test('apply stores them; list, show and lineage name the kind and the mode', async () => {
    const clock: Clock = { nowMs: () => 1_700_000_000_000, sleep: async () => {} }
    const registry = createRegistry({ store: new MemoryObjectStore(), clock })
    const attributes = featureView({ ...viewBase } as FeatureViewOptions)
    const openOrders = featureView({ ...viewBase, name: 'user_open_orders', entity: user, attributes: undefined, aggregations: [{ op: 'count' }] } as FeatureViewOptions)
    const plan = await registry.apply(collectDefinitions([attributes, openOrders, user]))
    assert.deepEqual(plan.views.map((v) => [v.name, v.change, v.hash]), [['order_state', 'added', viewHash(attributes)], ['user_open_orders', 'added', viewHash(openOrders)]])
    assert.equal((await registry.apply(collectDefinitions([attributes, openOrders, user]))).views.every((v) => v.change === 'unchanged'), true)
    const snap = await registry.snapshot()
    assert.match(renderList(snap), /orders\s+orders\s+order\s+3\s+ts_ms\s+table: primary key order_id, parquet data\/orders/)
    const stored = await registry.getView('order_state')
    assert.ok(stored !== undefined)
    const shown = renderShow(stored, [1], [])
    assert.match(shown, /source kind {3}table: primary key order_id, avro\n {2}mode {10}attributes/)
    assert.match(shown, /status\s+string\s+attribute\(status\)\s+current row/)
    const labels = (await registry.lineage()).nodes.map((n) => n.label)
    assert.ok(labels.includes('source orders (topic orders; table: primary key order_id, parquet data/orders)'), labels.join(' | '))
    assert.ok(labels.includes('view order_state v1 (attributes)'), labels.join(' | '))
    assert.ok(labels.includes('view user_open_orders v1 (current state)'), labels.join(' | '))
  })
})
