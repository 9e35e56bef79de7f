import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import {
  HLL_PRECISION,
  approxDistinctKernel as approxDistinct,
  type HllAcc,
} from '../../../operators/aggregators/approx-distinct.ts'
import { hash32, hash32OfNumber } from '../../../operators/aggregators/hash32.ts'
import { ByteWriter } from '../../../operators/codec/bytes.ts'

// Integers at every digit count and sign, the int32 edges and just past them, −0, fractions,
// exponents, and the non-finite values (refused upstream, but the hash must still agree).
const edgeNumbers = [
  0,
  -0,
  1,
  -1,
  9,
  10,
  -10,
  99,
  100,
  2 ** 31 - 1,
  -(2 ** 31),
  2 ** 31,
  -(2 ** 31) - 1,
  1e21,
  1e-7,
  0.1,
  -2.5,
  Number.MAX_SAFE_INTEGER,
  Number.NaN,
  Infinity,
  -Infinity,
]
const numberArb = fc.oneof(fc.integer(), fc.integer({ min: -9999, max: 9999 }), fc.double(), fc.constantFrom(...edgeNumbers))

function bytesOf(acc: HllAcc): Uint8Array {
  const w = new ByteWriter(64)
  approxDistinct.encode(acc, w)
  return w.finish()
}

/** The classic estimator over a sketch's registers, as docs/semantics.md §5 states it. */
function referenceEstimate(acc: HllAcc): number {
  const m = 1 << HLL_PRECISION
  const regs = new Uint8Array(m)
  if (acc instanceof Uint8Array) regs.set(acc)
  else for (const packed of typeof acc === 'number' ? [acc] : acc) regs[Math.floor(packed / 64)] = packed % 64
  let sum = 0
  let zeros = 0
  for (const r of regs) {
    sum += 2 ** -r
    if (r === 0) zeros++
  }
  if (zeros === m) return 0
  const raw = ((0.7213 / (1 + 1.079 / m)) * m * m) / sum
  return raw <= 2.5 * m && zeros > 0 ? Math.round(m * Math.log(m / zeros)) : Math.round(raw)
}

void describe('operators > approx_distinct > hashing numbers', () => {
  void test('hash32OfNumber(v) is hash32(String(v)) for every kind of number', () => {
    for (const v of edgeNumbers) assert.equal(hash32OfNumber(v), hash32(String(v)), String(v))
    fc.assert(
      fc.property(numberArb, (v) => hash32OfNumber(v) === hash32(String(v))),
      { numRuns: 2000 },
    )
  })

  void test('a sketch of numbers has the bytes of the sketch of their strings, whichever arrives first', () => {
    fc.assert(
      fc.property(fc.array(numberArb, { maxLength: 400 }), fc.array(fc.boolean(), { maxLength: 400 }), (values, asString) => {
        let ofNumbers = approxDistinct.init()
        let ofStrings = approxDistinct.init()
        values.forEach((v, i) => {
          ofNumbers = approxDistinct.add(ofNumbers, asString[i] === true ? String(v) : v, i, String(i))
          ofStrings = approxDistinct.add(ofStrings, String(v), i, String(i))
        })
        assert.deepEqual(bytesOf(ofNumbers), bytesOf(ofStrings))
      }),
      { numRuns: 200 },
    )
  })
})

void describe('operators > approx_distinct > estimate', () => {
  void test('equals the classic estimator on the registers, in the linear-counting range and above it', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 8000 }), fc.integer(), (n, base) => {
        let acc = approxDistinct.init()
        for (let i = 0; i < n; i++) acc = approxDistinct.add(acc, base + i * 7919, i, String(i))
        assert.equal(approxDistinct.finish(acc), referenceEstimate(acc))
      }),
      { numRuns: 120 },
    )
  })
})
