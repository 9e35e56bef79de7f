/**
 * `newestRowPerKey` (the Redis writer's coalescing of the rows themselves) keeps exactly the rows,
 * in exactly the order, that `coalesceRows` keeps of the same rows wrapped: the rows a write sends
 * and the order of its script calls are unchanged.
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { coalesceRows, newestRowPerKey } from '../../../ports/online-semantics.ts'

void describe('newestRowPerKey', () => {
  void test('equals coalesceRows over seeded batches with repeated keys, ties and older rows', () => {
    let seed = 7
    const next = (n: number): number => ((seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31), seed % n)
    for (let batch = 0; batch < 200; batch++) {
      const rows = Array.from({ length: next(60) }, (_, i) => ({
        entityKey: `k${next(12)}`,
        asOfMs: 1_000 + next(5),
        values: [i],
      }))
      const expected = coalesceRows(rows.map((row) => ({ row }))).map(({ row }) => row)
      const actual = newestRowPerKey(rows)
      assert.equal(actual.length, expected.length)
      for (let i = 0; i < actual.length; i++) assert.equal(actual[i], expected[i], `batch ${batch}, row ${i}`)
    }
  })

  void test('a tie on as_of goes to the later row', () => {
    const a = { entityKey: 'u', asOfMs: 5, values: [1] }
    const b = { entityKey: 'v', asOfMs: 3, values: [2] }
    const c = { entityKey: 'u', asOfMs: 5, values: [3] }
    const d = { entityKey: 'u', asOfMs: 4, values: [4] }
    assert.deepEqual(newestRowPerKey([a, b, c, d]), [c, b])
  })
})
