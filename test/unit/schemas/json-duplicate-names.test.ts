/**
 * A JSON object holding one name twice (core/json-duplicate-names.ts): found wherever it is,
 * named with its object's path, whatever the text's spacing or strings hold — and never reported
 * for the same name in different objects, or for `":` inside a string. A Debezium message holding
 * one is refused `undecodable` (schemas/debezium-json.ts), not read as JSON.parse's last value.
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import type { AvroRecordSchema } from '../../../features/types.ts'
import { parseDebeziumLine } from '../../../schemas/debezium-json.ts'
import { duplicateName } from '../../../core/json-duplicate-names.ts'
import { parseJsonNumbersExact } from '../../../schemas/json-number-literals.ts'

const find = (text: string) => duplicateName(text, parseJsonNumbersExact(text))

void describe('schemas > JSON duplicate names', () => {
  const duplicates: [string, string, { path: string; name: string }][] = [
    ['at the top', '{"op":"u","op":"d"}', { path: '', name: 'op' }],
    ['in a nested object', '{"after":{"a":1,"b":2,"a":3}}', { path: 'after', name: 'a' }],
    ['deeper', '{"x":{"y":{"z":1,"z":1}}}', { path: 'x.y', name: 'z' }],
    ['in an object inside an array', '{"l":[1,{"k":1,"k":2}]}', { path: 'l[]', name: 'k' }],
    ['with spaces before the colon', '{"op" : "u", "op" : "d"}', { path: '', name: 'op' }],
    ['pretty-printed', '{\n  "a": 1,\n  "a": 2\n}', { path: '', name: 'a' }],
    ['written with an escape', '{"op":"u","\\u006fp":"d"}', { path: '', name: 'op' }],
    ['whose names hold quotes and backslashes', '{"a\\"b\\\\":1,"a\\"b\\\\":2}', { path: '', name: 'a"b\\' }],
    // A string value holding `":` overcounts the cheap count; the duplicate must still be found.
    ['next to a string holding a colon after a quote', '{"s":"x\\":y","a":1,"a":2}', { path: '', name: 'a' }],
    ['whose value holds a lossy number', '{"n":1e400,"n":2}', { path: '', name: 'n' }],
  ]
  for (const [label, text, want] of duplicates) {
    void test(`found: ${label}`, () => assert.deepEqual(find(text), want))
  }

  const clean: [string, string][] = [
    ['the same name in sibling objects', '{"before":{"a":1},"after":{"a":2}}'],
    ['the same name at two depths', '{"a":{"a":{"a":1}}}'],
    ['names in objects of one array', '{"l":[{"k":1},{"k":2}]}'],
    ['a string value holding ":', '{"s":"\\":\\":","t":"a\\": b"}'],
    ['a string value holding " : (the exact scan)', '{"s":"x\\" : y","a":1}'],
    ['spaces before colons, no duplicate', '{ "a" : 1 , "b" : { "a" : 2 } }'],
    ['no objects', '[1,"a",null]'],
    ['a name like __proto__', '{"__proto__":1,"a":2}'],
  ]
  for (const [label, text] of clean) {
    void test(`not reported: ${label}`, () => assert.equal(find(text), undefined))
  }

  void test('a value nested deeper than the call stack is read, not a crash', () => {
    const deep = (inner: string) => `{"a":1,"x":${'['.repeat(400_000)}${inner}${']'.repeat(400_000)}}`
    assert.equal(find(deep('{"k":1}')), undefined)
    assert.deepEqual(find(deep('{"k":1,"k":2}')), { path: `x${'[]'.repeat(400_000)}`, name: 'k' })
  })

  void test('a Debezium message holding a name twice is undecodable, naming where', () => {
    const rowSchema = {
      type: 'record',
      name: 'R',
      fields: [
        { name: 'id', type: 'string' },
        { name: 'n', type: ['null', 'long'], default: null },
      ],
    } as unknown as AvroRecordSchema
    const good = '{"op":"c","before":null,"after":{"id":"k","n":1},"ts_ms":5}'
    assert.equal(parseDebeziumLine(good, rowSchema).ok, true)
    const cases: [string, string][] = [
      [good.replace('"n":1', '"n":1,"n":2'), 'the object at after holds the name "n" twice: which value is meant is not known'],
      [good.replace('"op":"c"', '"op":"c","op":"d"'), 'the message holds the name "op" twice: which value is meant is not known'],
      [
        `{"schema":{},"payload":${good.replace('"ts_ms":5', '"ts_ms":5,"ts_ms":6')}}`,
        'the object at payload holds the name "ts_ms" twice: which value is meant is not known',
      ],
    ]
    for (const [text, detail] of cases)
      assert.deepEqual(parseDebeziumLine(text, rowSchema), { ok: false, reason: 'undecodable', detail })
  })
})
