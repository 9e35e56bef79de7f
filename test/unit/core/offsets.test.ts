import assert from 'node:assert/strict'
import { test } from 'node:test'
import { nextOffsetValue, offsetValue } from '../../../core/offsets.ts'

void test('offsets > a number while exact, a bigint past 15 digits or when not plain digits; the same int64 either way', () => {
  assert.equal(offsetValue('0'), 0)
  assert.equal(offsetValue('123456789012345'), 123_456_789_012_345)
  assert.equal(offsetValue('1234567890123456'), 1_234_567_890_123_456n)
  assert.equal(offsetValue('9223372036854775807'), 9_223_372_036_854_775_807n)
  assert.equal(offsetValue(''), 0n)
  // What BigInt accepts and Number reads otherwise (or not at all) stays BigInt's business.
  assert.equal(offsetValue('0x10'), 16n)
  assert.throws(() => offsetValue('1e3'), SyntaxError)
  assert.ok(offsetValue('41') < offsetValue('1234567890123456'))
  assert.ok(offsetValue('1234567890123457') > 1_234_567_890_123_456)
})

void test('offsets > the next offset stays exact across 2^53', () => {
  assert.equal(nextOffsetValue(41), 42)
  assert.equal(nextOffsetValue(Number.MAX_SAFE_INTEGER - 1), Number.MAX_SAFE_INTEGER)
  assert.equal(nextOffsetValue(Number.MAX_SAFE_INTEGER), 2n ** 53n)
  assert.equal(nextOffsetValue(2n ** 60n), 2n ** 60n + 1n)
  assert.equal(String(nextOffsetValue(offsetValue('999999999999999'))), '1000000000000000')
})
