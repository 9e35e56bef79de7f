/**
 * The join keys as typed feature-table columns (issue #17 item 5): the pinned schema layout (new
 * columns second in order, last in ids, so every older column keeps its id), the row mapping
 * (string, int, int64 past 2^53, composite keys with escapes) and tables created before kfs 0.2,
 * which are written and read as they are. The readers' side (DuckDB reads the typed columns) is the
 * offline contract's test/contracts/offline-join-keys.ts.
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { encodeEntityKey } from '../../../core/entity-key.ts'
import { SchemaError } from '../../../core/errors.ts'
import type { EntityDef, FeatureViewDef } from '../../../features/types.ts'
import * as examples from '../../../examples/features.ts'
import { MemoryObjectStore } from '../../../adapters/object-store/index.ts'
import {
  createTable,
  featureTablePartitionSpec,
  featureTableSchema,
  loadTable,
  readRows,
  type IcebergSchema,
} from '../../../adapters/offline/iceberg/index.ts'
import { int64OfKeyPart, joinKeyValuesOf } from '../../../adapters/offline/iceberg/join-key-columns.ts'
import { IcebergOfflineSink, featureTablePath } from '../../../adapters/offline/iceberg/offline-sink.ts'
import { listStoredTables } from '../../../adapters/offline/iceberg/table-listing.ts'
import { currentSchema } from '../../../adapters/offline/iceberg/table-metadata.ts'
import { featureRowsToColumns, featureRowToTableRow } from '../../../adapters/offline/iceberg/table-schemas.ts'
import { entityOf } from '../../contracts/offline-join-keys.ts'

const T0 = Date.UTC(2024, 0, 15, 10)
const aggregation = examples.userClicks.features[0]!.aggregation
const shopItem = entityOf('shop_item', ['shop_id', 'item_id'], 'int')

function viewOf(entity: EntityDef, changeMode?: 'attributes'): FeatureViewDef {
  const features = [
    { name: 'price', type: 'double' as const, aggregation },
    { name: 'items', type: 'string[]' as const, aggregation },
    { name: 'n', type: 'long' as const, aggregation },
  ]
  return { ...examples.userClicks, name: 'jk', version: 1, entity, features, ...(changeMode === undefined ? {} : { changeMode }) }
}

const layout = (schema: IcebergSchema): string[] =>
  schema.fields.map(
    (f) =>
      `${f.id} ${f.name} ${typeof f.type === 'string' ? f.type : `list<${f.type.element}>#${f.type['element-id']}`}${f.required ? ' required' : ''}`,
  )

/** The layout kfs wrote before join-key columns (0.1): what older tables hold, ids and all. */
const BEFORE_JOIN_KEYS = [
  '1 entity_key string required',
  '2 as_of timestamptz required',
  '3 created_at timestamptz required',
  '4 seq long',
  '5 price double',
  '6 items list<string>#8',
  '7 n long',
]

void describe('iceberg > feature table > join-key columns', () => {
  void test('pinned layout: join keys right after entity_key, with the next ids after every older column (which keep theirs)', () => {
    const plain = featureTableSchema(viewOf(examples.user))
    assert.deepEqual(layout(plain), ['1 entity_key string required', '9 user_id string', ...BEFORE_JOIN_KEYS.slice(1)])
    const attributes = featureTableSchema(viewOf(shopItem, 'attributes'))
    assert.deepEqual(layout(attributes), [
      '1 entity_key string required',
      '10 shop_id long',
      '11 item_id long',
      ...BEFORE_JOIN_KEYS.slice(1),
      '9 deleted boolean',
    ])
    // Without the new columns, exactly the older layout: an older table's ids mean the same columns.
    assert.deepEqual(layout({ ...plain, fields: plain.fields.filter((f) => f.name !== 'user_id') }), BEFORE_JOIN_KEYS)
    assert.deepEqual(
      attributes.fields.filter((f) => f.doc !== undefined).map((f) => f.doc),
      [
        'join key 1 of 2 of entity shop_item (part 1 of entity_key, typed)',
        'join key 2 of 2 of entity shop_item (part 2 of entity_key, typed)',
      ],
    )
  })

  void test('a join key clashing with a column of the table is refused (the definitions refuse it first)', () => {
    for (const key of ['AS_OF', 'n', 'Deleted']) {
      assert.throws(
        () => featureTableSchema(viewOf(entityOf('odd', [key], 'string'), 'attributes')),
        (err: unknown) =>
          err instanceof SchemaError && err.message.includes(`join key ${key} of entity odd clashes with a column`),
        key,
      )
    }
    // `deleted` is a column of attribute views only.
    assert.equal(featureTableSchema(viewOf(entityOf('odd', ['deleted'], 'string'))).fields[1]!.name, 'deleted')
  })

  void test('int key parts: canonical int64 digits exactly (a number while exact, else a bigint), anything else null', () => {
    const cases: [string, number | bigint | null][] = [
      ['0', 0],
      ['-1', -1],
      ['999999999999999', 999_999_999_999_999],
      ['9007199254740993', 9_007_199_254_740_993n],
      ['9223372036854775807', 9_223_372_036_854_775_807n],
      ['-9223372036854775808', -9_223_372_036_854_775_808n],
      ['9223372036854775808', null],
      ['-9223372036854775809', null],
      ['12345678901234567890123', null],
      ['-0', null],
      ['007', null],
      ['+7', null],
      ['1e3', null],
      ['', null],
    ]
    assert.deepEqual(
      cases.map(([part]) => int64OfKeyPart(part)),
      cases.map(([, value]) => value),
    )
  })

  void test('values decode each row entity key: one string key as is, composite keys with escapes, int parts exact; a key of the wrong arity gives nulls', () => {
    const keys = ['u1', 'a\u001fb']
    assert.equal(joinKeyValuesOf(examples.user, keys)[0], keys, 'one string key: the entity keys themselves, no copy')
    const userItem = entityOf('user_item', ['user_id', 'item_id'], 'string')
    assert.deepEqual(
      joinKeyValuesOf(userItem, [encodeEntityKey(['a\\b', 'c\u001fd']), encodeEntityKey(['u', '']), 'no-separator']),
      [
        ['a\\b', 'u', null],
        ['c\u001fd', '', null],
      ],
    )
    assert.deepEqual(
      joinKeyValuesOf(shopItem, [encodeEntityKey(['9007199254740993', '-5']), encodeEntityKey(['1', '99999999999999999999'])]),
      [
        [9_007_199_254_740_993n, 1],
        [-5, null],
      ],
    )
    assert.deepEqual(joinKeyValuesOf(entityOf('account', ['account_id'], 'int'), ['42', '9007199254740993', 'x']), [
      [42, 9_007_199_254_740_993n, null],
    ])
  })

  void test('featureRowToTableRow and featureRowsToColumns fill the join-key columns alike', () => {
    const view = viewOf(shopItem, 'attributes')
    const rows = [
      { entityKey: encodeEntityKey(['9007199254740993', '7']), asOfMs: T0, createdAtMs: T0 + 1, values: [1.5, ['a'], 2] },
      {
        entityKey: encodeEntityKey(['-3', '9223372036854775807']),
        asOfMs: T0 + 1,
        createdAtMs: T0 + 2,
        values: [null, null, null],
        deleted: true as const,
      },
    ]
    const asRows = rows.map((r, i) => featureRowToTableRow(view, r, i))
    assert.deepEqual(
      asRows.map((r) => [r.shop_id, r.item_id]),
      [
        [9_007_199_254_740_993n, 7],
        [-3, 9_223_372_036_854_775_807n],
      ],
    )
    const columns = featureRowsToColumns(view, rows, (r) => rows.indexOf(r)).columns
    assert.deepEqual(
      Object.keys(columns).sort(),
      featureTableSchema(view)
        .fields.map((f) => f.name)
        .sort(),
    )
    for (const name of Object.keys(columns))
      assert.deepEqual(
        columns[name],
        asRows.map((r) => r[name]),
        name,
      )
  })
})

void describe('iceberg > feature table > tables created before kfs 0.2 (no join-key columns)', () => {
  void test('are written and read as they are: schema, ids and last-column-id untouched; kfs tables lists no join keys', async () => {
    const store = new MemoryObjectStore()
    const view = viewOf(examples.user)
    const current = featureTableSchema(view)
    const legacy: IcebergSchema = { ...current, fields: current.fields.filter((f) => f.name !== 'user_id') }
    await createTable(store, featureTablePath(view), {
      schema: legacy,
      partitionSpec: featureTablePartitionSpec(legacy),
      properties: { 'kfs.view': view.name, 'kfs.version': '1' },
    })
    const before = (await loadTable(store, featureTablePath(view))).metadata

    const sink = new IcebergOfflineSink(store)
    const rows = ['u1', 'u2'].map((entityKey, i) => ({
      entityKey,
      asOfMs: T0 + i,
      createdAtMs: T0 + i,
      values: [i + 0.5, ['x'], i],
      origin: { partition: 0, offset: String(i), seq: 0, marker: false },
    }))
    await sink.commit(featureTablePath(view), [await sink.stageFeatureRows(view, rows)], {}, {})

    const after = await loadTable(store, featureTablePath(view))
    assert.deepEqual(currentSchema(after.metadata), legacy)
    assert.equal(after.metadata['last-column-id'], before['last-column-id'])
    assert.deepEqual((await new IcebergOfflineSink(store).readFeatureRows(view)).get('u2'), [
      { entityKey: 'u2', asOfMs: T0 + 1, values: [1.5, ['x'], 1] },
    ])
    const read: Record<string, unknown>[] = []
    for await (const r of readRows(after)) read.push(r)
    assert.deepEqual(
      read.map((r) => Object.keys(r).sort()),
      [0, 1].map(() => legacy.fields.map((f) => f.name).sort()),
    )
    const [listed] = await listStoredTables(store)
    assert.deepEqual(listed?.joinKeys, [])
  })

  void test('a table kfs creates now names its join keys in kfs.join-keys, and kfs tables lists them typed', async () => {
    const store = new MemoryObjectStore()
    const view = viewOf(shopItem)
    const sink = new IcebergOfflineSink(store)
    await sink.featureTable(view)
    assert.equal((await loadTable(store, featureTablePath(view))).metadata.properties['kfs.join-keys'], 'shop_id,item_id')
    const [listed] = await listStoredTables(store)
    assert.deepEqual(listed?.joinKeys, [
      { name: 'shop_id', type: 'long' },
      { name: 'item_id', type: 'long' },
    ])
  })
})
