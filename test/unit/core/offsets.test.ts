import assert from 'node:assert/strict'
import { test } from 'node:test'
import { atOrPast, nextOffsetValue, offsetValue } from '../../../core/offsets.ts'

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

void test('offsets > atOrPast keeps the records at or past a position, in order, against a filter, for random batches', () => {
  let seed = 19
  const next = (n: number) => ((seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31), seed % n)
  const offsetText = () => (next(4) === 0 ? String(2n ** 60n + BigInt(next(20))) : String(next(20)))
  for (let run = 0; run < 500; run++) {
    const records = Array.from({ length: next(8) }, (_, i) => ({ offset: offsetText(), i }))
    const fromText = next(3) === 0 ? String(2n ** 60n + BigInt(next(20))) : String(next(22))
    const from = offsetValue(fromText)
    const expected = records.filter((r) => BigInt(r.offset) >= BigInt(fromText))
    const kept = atOrPast(records, from)
    assert.deepEqual(kept, expected, `run ${run}`)
    // Nothing dropped: the batch itself, not a copy of it.
    assert.equal(kept === records, expected.length === records.length, `run ${run}`)
  }
})
