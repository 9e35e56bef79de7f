import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { murmur2, partitionForKey } from '../../../core/murmur2.ts'

void describe('event log > murmur2', () => {
  // Apache Kafka's own UtilsTest.testMurmur2 vectors: the Java client's results.
  const vectors: [string, number][] = [
    ['21', -973932308],
    ['foobar', -790332482],
    ['a-little-bit-long-string', -985981536],
    ['a-little-bit-longer-string', -1486304829],
    ['lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8', -58897971],
    ['abc', 479470107],
  ]
  for (const [input, expected] of vectors) {
    void test(`matches Kafka for '${input}'`, () => {
      assert.equal(murmur2(Buffer.from(input)), expected)
    })
  }

  void test('partition is toPositive(hash) mod partitions, for string and byte keys alike', () => {
    for (const [input, hash] of vectors) {
      for (const n of [1, 3, 7, 12]) {
        const expected = (hash & 0x7fffffff) % n
        assert.equal(partitionForKey(input, n), expected)
        assert.equal(partitionForKey(Buffer.from(input), n), expected)
      }
    }
  })
})
