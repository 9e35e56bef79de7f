/**
 * JSON number literals a double hides: a fraction rounded to an integer is refused by integer
 * fields of a Debezium JSON change, a literal beyond a double's or float's range is refused, and
 * everything else parses exactly as JSON.parse does (schemas/json-number-literals.ts).
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import type { AvroRecordSchema } from '../../../features/types.ts'
import { parseDebeziumLine } from '../../../schemas/debezium-json.ts'
import { isIntegralDecimal, parseJsonNumbersExact, LossyNumber } from '../../../schemas/json-number-literals.ts'
import { prng } from '../../../examples/generate-events.ts'

/** Reference: the literal's exact rational value, in BigInt, is an integer. */
function integralByBigInt(literal: string): boolean {
  const m = /^-?(\d+)(?:\.(\d+))?(?:[eE]([+-]?\d+))?$/.exec(literal)!
  const fraction = m[2] ?? ''
  const digits = BigInt(m[1]! + fraction)
  const exponent = Number(m[3] ?? '0') - fraction.length
  return exponent >= 0 || digits % 10n ** BigInt(-exponent) === 0n
}

/** A random JSON number literal: integer digits, maybe a fraction (often zeros), maybe an exponent. */
function randomLiteral(next: () => number): string {
  const pick = (n: number): number => Math.floor(next() * n)
  const digitsOf = (n: number, zeros: boolean): string =>
    Array.from({ length: n }, () => (zeros && next() < 0.7 ? '0' : String(pick(10)))).join('')
  const intPart = next() < 0.2 ? '0' : String(1 + pick(9)) + digitsOf(pick(18), false)
  const fraction = next() < 0.6 ? `.${digitsOf(1 + pick(20), next() < 0.5)}` : ''
  const exponent = next() < 0.4 ? `${next() < 0.5 ? 'e' : 'E'}${['', '+', '-'][pick(3)]}${pick(30)}` : ''
  return `${next() < 0.3 ? '-' : ''}${intPart}${fraction}${exponent}`
}

void describe('schemas > JSON number literals', () => {
  void test('isIntegralDecimal agrees with exact BigInt arithmetic on 20,000 random literals and the edges', () => {
    const next = prng(21)
    const edges = [
      '0',
      '-0',
      '0.0',
      '0e5',
      '0.000e-9',
      '1',
      '10',
      '1.0',
      '1.5',
      '2.50e1',
      '25e-1',
      '1e0',
      '1e-1',
      '100e-2',
      '100e-3',
      '3.0000000000000001',
      '9007199254740993',
      '1.7976931348623157e308',
      '5e-324',
    ]
    const literals = [...edges, ...Array.from({ length: 20_000 }, () => randomLiteral(next))]
    let fractions = 0
    for (const literal of literals) {
      const expected = integralByBigInt(literal)
      if (!expected) fractions++
      assert.equal(isIntegralDecimal(literal), expected, literal)
    }
    assert.ok(fractions > 1_000 && fractions < literals.length - 1_000, `both kinds drawn (${fractions} fractions)`)
  })

  void test('parses as JSON.parse does, except a fraction rounded to an integer, which it marks with its literal', () => {
    const next = prng(5)
    let marked = 0
    for (let i = 0; i < 5_000; i++) {
      const literal = randomLiteral(next)
      const text = `{"a":[${literal},"x${literal}"],"b":{"c":${literal}}}`
      const plain = JSON.parse(text) as { a: [number, string]; b: { c: number } }
      const exact = parseJsonNumbersExact(text) as { a: [unknown, string]; b: { c: unknown } }
      const rounded = Number.isInteger(plain.b.c) && !integralByBigInt(literal)
      if (rounded) marked++
      for (const got of [exact.a[0], exact.b.c]) {
        if (rounded) assert.deepEqual(got, new LossyNumber(plain.b.c, literal), literal)
        else assert.equal(got, plain.b.c, literal)
      }
      assert.equal(exact.a[1], plain.a[1])
    }
    assert.ok(marked > 100, `rounded fractions drawn: ${marked}`)
  })

  void test('a text without fraction or exponent parses to exactly JSON.parse; infinities keep their literal', () => {
    const text = '{"a":1,"b":[-2,3],"c":"1.5e3","d":null,"e":true}'
    assert.deepEqual(parseJsonNumbersExact(text), JSON.parse(text))
    assert.throws(() => parseJsonNumbersExact('{"a":1.}'), SyntaxError)
    assert.deepEqual(parseJsonNumbersExact('[1e400,-2.5E999,1.5]'), [
      new LossyNumber(Infinity, '1e400'),
      new LossyNumber(-Infinity, '-2.5E999'),
      1.5,
    ])
  })
})

const schema: AvroRecordSchema = {
  type: 'record',
  name: 'Row',
  fields: [
    { name: 'id', type: 'long' },
    { name: 'n', type: 'int' },
    { name: 'x', type: 'double' },
    { name: 'f', type: 'float' },
    { name: 'u', type: ['null', 'long', 'double'], default: null },
    { name: 'm', type: { type: 'map', values: 'long' }, default: {} },
  ],
}
const base = '"id":1,"n":2,"x":0.5,"f":0.25'
const change = (row: string, ts = '5'): string => `{"op":"c","after":{${row}},"ts_ms":${ts}}`
const parse = (text: string) => parseDebeziumLine(text, schema)

void describe('schemas > Debezium JSON numbers', () => {
  void test('an integer field refuses a fraction JSON rounds to an integer, naming the field and the literal', () => {
    const cases: [string, string][] = [
      ['"id":3.0000000000000001,"n":2,"x":0.5,"f":0.25', 'after.id'],
      ['"id":1,"n":-7.00000000000000001,"x":0.5,"f":0.25', 'after.n'],
      ['"id":12345678901234.0001,"n":2,"x":0.5,"f":0.25', 'after.id'],
      ['"id":1,"n":2,"x":0.5,"f":0.25,"m":{"k":1.00000000000000000001}', 'after.m{k}'],
      ['"id":1e-400,"n":2,"x":0.5,"f":0.25', 'after.id'],
    ]
    for (const [row, field] of cases) {
      const out = parse(change(row))
      assert.equal(out.ok, false, row)
      if (out.ok) continue
      assert.equal(out.reason, 'schema_mismatch')
      assert.match(out.detail, new RegExp(`^${field.replace(/[.{}]/g, '\\$&')} is number [-0-9.e]+, a fraction`), out.detail)
    }
    const huge = parse(change('"id":1e400,"n":2,"x":0.5,"f":0.25'))
    assert.ok(!huge.ok && huge.detail === 'after.id is number 1e400, not a long', JSON.stringify(huge))
    const time = parse(change(base, '1700000000000.0000001'))
    assert.ok(!time.ok && time.detail.includes('number 1700000000000.0000001'), JSON.stringify(time))
  })

  void test('integral literals in any form are integers; floating fields take rounded literals as JSON does', () => {
    for (const [literal, value] of [
      ['2.0', 2],
      ['1e3', 1000],
      ['2.50e1', 25],
      // An integer has no negative zero (Avro's zig-zag neither): 0, as the Avro decoder gives.
      ['-0.0', 0],
      ['120e-1', 12],
    ] as const) {
      const out = parse(change(`"id":${literal},"n":${literal},"x":0.5,"f":0.25`))
      assert.ok(out.ok, literal)
      const after = out.event.after as Record<string, unknown>
      assert.equal(after.id, value)
      assert.equal(after.n, value)
    }
    const out = parse(change('"id":1,"n":2,"x":3.0000000000000001,"f":0.1,"u":4.00000000000000001'))
    assert.ok(out.ok)
    assert.deepEqual(out.event.after, { id: 1, n: 2, x: 3, f: Math.fround(0.1), u: 4, m: {} })
  })

  void test('a literal beyond the range of a double or a float is refused, not read as Infinity', () => {
    for (const [row, field, type] of [
      ['"id":1,"n":2,"x":1e400,"f":0.25', 'after.x', 'double'],
      ['"id":1,"n":2,"x":-1e400,"f":0.25', 'after.x', 'double'],
      ['"id":1,"n":2,"x":0.5,"f":1e39', 'after.f', 'float'],
      ['"id":1,"n":2,"x":0.5,"f":0.25,"u":1e309', 'after.u', 'union'],
    ] as const) {
      const out = parse(change(row))
      assert.ok(!out.ok && out.reason === 'schema_mismatch' && out.detail.startsWith(`${field} is number`), JSON.stringify(out))
      if (type !== 'union') assert.ok(!out.ok && out.detail.endsWith(`beyond the range of a ${type}`), out.ok ? '' : out.detail)
    }
    const max = parse(change('"id":1,"n":2,"x":1.7976931348623157e308,"f":3.4028234663852886e38'))
    assert.ok(max.ok)
    assert.deepEqual(
      [(max.event.after as { x: number }).x, (max.event.after as { f: number }).f],
      [Number.MAX_VALUE, 3.4028234663852886e38],
    )
  })
})
