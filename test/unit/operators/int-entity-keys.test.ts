/**
 * An `int` entity's key as the engine reads it from an event (docs/semantics.md §20): a number, a
 * bigint, or a string in the one canonical form the engine, serving and label files share
 * (core/entity-key.ts CANONICAL_INT_KEY). Every other spelling of an integer is `invalid_key`: the
 * engine keys state by the string, so `-0` beside `0` (or `007` beside `7`) would be two entities.
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import type { EntityDef } from '../../../features/types.ts'
import { entityKeyOf } from '../../../operators/task/event-fields.ts'

const ACCOUNT: EntityDef = { kind: 'entity', name: 'account', joinKeys: ['account_id'], keyType: 'int', description: '' }

const KEYS: readonly (readonly [unknown, string])[] = [
  [7, '7'],
  [-7, '-7'],
  [0, '0'],
  [-0, '0'],
  [9007199254740993n, '9007199254740993'],
  [-9007199254740993n, '-9007199254740993'],
  ['7', '7'],
  ['-7', '-7'],
  ['0', '0'],
  ['9007199254740993', '9007199254740993'],
]

const NOT_KEYS: readonly unknown[] = [
  '-0',
  '-00',
  '007',
  '+7',
  '7.0',
  ' 7',
  '7 ',
  '1e3',
  '0x7',
  '',
  '-',
  7.5,
  Number.NaN,
  2 ** 60,
  true,
]

void describe('operators > int entity keys', () => {
  void test('every integer reads as its canonical string, whatever type carries it', () => {
    for (const [value, key] of KEYS)
      assert.deepEqual(entityKeyOf(ACCOUNT, { account_id: value }), { ok: true, key }, String(value))
  })

  void test('every other spelling is invalid_key, never a second entity of the same integer', () => {
    for (const value of NOT_KEYS) {
      const got = entityKeyOf(ACCOUNT, { account_id: value })
      assert.equal(got.ok, false, `${typeof value} ${String(value)}`)
      assert.equal(!got.ok && got.reason, 'invalid_key', String(value))
    }
  })
})
