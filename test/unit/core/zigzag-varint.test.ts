import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { writeZigzagVarint, zigzagValue } from '../../../core/zigzag-varint.ts'
import { randomSafeIntegers, referenceZigzag, safeIntegerEdges } from '../../support/integer-edges.ts'

/** Splits reference bytes at bit 28 the way a reader does, and asks zigzagValue for the value. */
function valueOf(bytes: Buffer): number {
  let low = 0
  let high = 0
  let scale = 1
  bytes.forEach((b, i) => {
    if (i < 4) low |= (b & 0x7f) << (7 * i)
    else {
      high += (b & 0x7f) * scale
      scale *= 128
    }
  })
  return zigzagValue(low, high)
}

const values = [...safeIntegerEdges(), ...randomSafeIntegers(20_000)]

void describe('core > zigzag varint', () => {
  void test('writes the reference bytes for every edge and random safe integer', () => {
    const buf = new Uint8Array(10)
    for (const n of values) {
      const end = writeZigzagVarint(buf, 0, n)
      assert.deepEqual(Buffer.from(buf.subarray(0, end)), referenceZigzag(n), `bytes of ${n}`)
    }
  })

  void test('reads every safe integer back exactly, including negatives below −2^52', () => {
    for (const n of values) assert.equal(valueOf(referenceZigzag(n)), n, `value of ${n}`)
    assert.equal(valueOf(referenceZigzag(-4503599627370497)), -4503599627370497)
    assert.equal(valueOf(referenceZigzag(-Number.MAX_SAFE_INTEGER)), -Number.MAX_SAFE_INTEGER)
  })

  void test('a value beyond the safe range reads as a number beyond ±(2^53 − 2) with its sign', () => {
    for (const n of [2n ** 53n + 1n, -(2n ** 53n) - 1n, 2n ** 63n - 1n, -(2n ** 63n), -(2n ** 60n) - 7n]) {
      const v = valueOf(referenceZigzag(n))
      assert.ok(Math.abs(v) > 2 ** 53 - 2 && Math.sign(v) === (n < 0n ? -1 : 1), `${n} read as ${v}`)
    }
  })

  void test('writes past the end of the buffer are dropped and the returned end says how far it went', () => {
    const buf = new Uint8Array(3)
    assert.equal(writeZigzagVarint(buf, 1, -(2 ** 52) - 1), 1 + referenceZigzag(-(2 ** 52) - 1).length)
    assert.equal(buf.length, 3)
  })
})
