/**
 * Row keys as the source's entity holds them (ingest/row-keys.ts): every kind of primary-key
 * column against each key type, and every spelling of a key part, against the engine's own
 * reading of a key (operators/task/event-fields.ts entityKeyOf) — a row ingest keys is a row the
 * views key the same, and a row the views would refuse is rejected at ingest.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { SchemaError } from '../../../core/errors.ts'
import type { AvroRecordSchema, EntityDef, KeyType } from '../../../features/types.ts'
import { rowColumns } from '../../../ingest/row-columns.ts'
import { checkKeyColumns, keyOf } from '../../../ingest/row-keys.ts'
import { entityKeyOf } from '../../../operators/task/event-fields.ts'

const TYPES: readonly (readonly [string, unknown, Record<KeyType, boolean>])[] = [
  ['string', 'string', { string: true, int: true }],
  ['long', 'long', { string: false, int: true }],
  ['int', 'int', { string: false, int: true }],
  ['double', 'double', { string: false, int: false }],
  ['boolean', 'boolean', { string: false, int: false }],
  // Judged value by value: an enum's symbols are text keys, bytes are no key (the next test).
  ['bytes', 'bytes', { string: true, int: true }],
  ['enum', { type: 'enum', name: 'Tier', symbols: ['gold', 'silver'] }, { string: true, int: true }],
  ['nullable string', ['null', 'string'], { string: true, int: true }],
  ['timestamp', { type: 'long', logicalType: 'timestamp-millis' }, { string: false, int: true }],
]

const rowOf = (type: unknown): AvroRecordSchema =>
  ({ type: 'record', name: 'R', fields: [{ name: 'k', type }] }) as AvroRecordSchema

void describe('row keys', () => {
  void it('a primary-key column is refused when the entity never holds its values, named with the entity', () => {
    for (const [what, type, fits] of TYPES)
      for (const keyType of ['string', 'int'] as const) {
        const check = () => checkKeyColumns(rowColumns(rowOf(type)), ['k'], { name: 'e', keyType }, 'memory:s')
        if (fits[keyType]) assert.doesNotThrow(check, `${what} for ${keyType}`)
        else
          assert.throws(
            check,
            (err: unknown) => err instanceof SchemaError && /primary-key column k is .*entity e's keys are/.test(err.message),
            `${what} for ${keyType}`,
          )
      }
  })

  void it('every spelling of a key part: ingest keys it as the engine does, or rejects the row the engine would refuse', () => {
    const values: unknown[] = [
      '7',
      '-7',
      '0',
      '007',
      '+7',
      '-0',
      '7.0',
      '1e3',
      ' 7',
      'abc',
      '',
      'a\u0001',
      'x'.repeat(600),
      '9007199254740993',
      7,
      -7,
      0,
      -0,
      1.5,
      Number.NaN,
      Infinity,
      2n ** 63n - 1n,
      -(2n ** 63n),
      true,
      Buffer.from('ab'),
    ]
    for (const keyType of ['string', 'int'] as const) {
      const entity: EntityDef = { kind: 'entity', name: 'e', joinKeys: ['k'], keyType, description: '' }
      for (const v of values) {
        const ours = keyOf(['k'], [[v]], 0, { name: 'e', keyType })
        const engine = entityKeyOf(entity, { k: v })
        const label = `${keyType}: ${typeof v} ${String(v).slice(0, 20)}`
        if (engine.ok) assert.equal(ours, engine.key, label)
        else assert.equal(typeof ours === 'string' ? ours : ours.reason, 'missing_key', label)
      }
    }
  })

  void it('a composite key of an int entity: each part its one form, the row rejected for any other', () => {
    const entity = { name: 'e', keyType: 'int' as const }
    const composite: EntityDef = { kind: 'entity', name: 'e', joinKeys: ['a', 'b'], keyType: 'int', description: '' }
    const engine = entityKeyOf(composite, { a: 7, b: '12' })
    assert.ok(engine.ok)
    assert.equal(keyOf(['a', 'b'], [[7], ['12']], 0, entity), engine.key)
    const bad = keyOf(['a', 'b'], [[7], ['012']], 0, entity)
    assert.ok(typeof bad !== 'string' && /primary-key column b holds text "012", not an integer/.test(bad.detail))
  })
})
