import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { isJsonObject } from '../../../core/json-object.ts'
import { isTopicName } from '../../../core/topic-name.ts'
import { LossyNumber, parseJsonNumbersExact } from '../../../schemas/json-number-literals.ts'

void describe('isJsonObject', () => {
  void test('an object JSON.parse or the exact-number parse makes, or one without a prototype, is one', () => {
    for (const value of [
      JSON.parse('{}'),
      JSON.parse('{"a":[1]}'),
      parseJsonNumbersExact('{"n": 3.0000000000000001}'),
      Object.create(null) as object,
      { a: 1 },
    ]) {
      assert.equal(isJsonObject(value), true, JSON.stringify(value))
    }
  })

  void test('null, arrays, primitives and class instances are not', () => {
    const lossy = (parseJsonNumbersExact('{"n": 3.0000000000000001}') as { n: unknown }).n
    assert.ok(lossy instanceof LossyNumber, 'the exact parse keeps a fraction that rounds to an integer as a LossyNumber')
    for (const value of [
      null,
      undefined,
      [],
      [{}],
      JSON.parse('[]'),
      0,
      'x',
      true,
      lossy,
      new Date(0),
      new Map(),
      Buffer.alloc(1),
    ]) {
      assert.equal(isJsonObject(value), false, String(value))
    }
  })
})

void describe('isTopicName', () => {
  void test("Kafka's rule: letters, digits, '.', '_', '-', 1 to 249 of them, not '.' or '..'", () => {
    for (const name of ['a', 'kfs.served-features', 'A_b-c.9', 'x'.repeat(249), '__consumer_offsets', '...', '.a', '..a'])
      assert.equal(isTopicName(name), true, name)
    for (const name of ['', 'x'.repeat(250), 'bad topic', 'a/b', 'é', 'a\n', 'a:b', 'a*', '.', '..'])
      assert.equal(isTopicName(name), false, JSON.stringify(name))
  })
})
