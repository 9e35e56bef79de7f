/**
 * The duplicate-key scan of POST bodies (serving/request-body.ts) against JSON text of every shape:
 * no valid body without a repeated key is refused (JSON.stringify never repeats one), and a key
 * repeated in the body, its entities or its request object is found however the JSON around it
 * is written — escapes, braces and quotes inside strings, whitespace.
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import fc from 'fast-check'
import { duplicateKey, parseJsonBody } from '../../../serving/request-body.ts'

/** JSON texts and the key repeated in a checked object (undefined: none). */
const CASES: readonly (readonly [string, string | undefined])[] = [
  ['{"a":1,"a":2}', 'a'],
  ['{ "a" : 1 , "a" : 2 }', 'a'],
  ['{\n\t"a":1,\r\n"a":2}', 'a'],
  ['{"a":1,"\\u0061":2}', 'a'],
  ['{"a\\"":1,"a\\"":2}', 'a"'],
  ['{"a\\\\":1,"a\\\\":2}', 'a\\'],
  ['{"a{":1,"a{":2}', 'a{'],
  ['{"x":"\\",\\"x\\":","x":2}', 'x'],
  ['{"entities":{"u":[1],"u":[2]}}', 'u'],
  ['{"request":{"amount":1,"b":[{"c":1}],"amount":2}}', 'amount'],
  ['{"a":{"b":1},"c":{"b":1}}', undefined],
  ['{"a":"a","b":"a"}', undefined],
  ['{"a":["a","a"]}', undefined],
  ['{"a":[{"k":1,"k":2}]}', undefined],
  ['{"a":{"b":{"k":1,"k":2}}}', undefined],
  ['[{"k":1,"k":2}]', undefined],
  ['{"":1,"":2}', ''],
  ['{"a\\\\\\"":1,"a\\\\\\"":1}', 'a\\"'],
]

void describe('serving > POST body > keys given twice', () => {
  for (const [text, key] of CASES) {
    void test(`${text.replace(/\s/g, '·')}: ${key === undefined ? 'none in a checked object' : `finds ${JSON.stringify(key)}`}`, () => {
      JSON.parse(text)
      assert.equal(duplicateKey(text), key)
    })
  }

  void test('a body JSON.stringify wrote never has one; the same body with a checked key written twice does', () => {
    fc.assert(
      fc.property(
        fc.dictionary(fc.string(), fc.jsonValue()),
        fc.dictionary(fc.string(), fc.jsonValue(), { minKeys: 1 }),
        fc.nat(),
        (top, inner, pick) => {
          const text = JSON.stringify({ ...top, entities: inner })
          assert.equal(duplicateKey(text), undefined, text)
          const keys = Object.keys(inner)
          const twice = keys[pick % keys.length]!
          // The same object with `twice` written again at its end: JSON.parse keeps the last. (A function, so `$` in a key is not a replacement pattern.)
          const inner2 = JSON.stringify(inner).slice(0, -1) + `,${JSON.stringify(twice)}:0}`
          const withTwice = JSON.stringify({ ...top, entities: '§' }).replace('"§"', () => inner2)
          assert.equal(duplicateKey(withTwice), twice, withTwice)
        },
      ),
      { numRuns: 300 },
    )
  })

  void test('parseJsonBody refuses it as a 400 naming the key, and reads a body without one', () => {
    assert.throws(() => parseJsonBody(Buffer.from('{"entities":{},"entities":{}}')), {
      status: 400,
      message: /names key entities twice/,
    })
    assert.deepEqual(parseJsonBody(Buffer.from('{"entities":{"user_id":["u1"]}}')), { entities: { user_id: ['u1'] } })
  })
})
