import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { packInSlices, slicesOf, type PackedRow } from '../../../adapters/online-store/redis/write-chunks.ts'
import type { StampedRow } from '../../../features/types.ts'

const pack = (i: number): PackedRow => ({ row: { entityKey: `k${i}` } as StampedRow, key: `key${i}`, packed: String(i) })

void describe('redis write chunks', () => {
  void test('packInSlices packs every row in order and offers a yield between slices of 256 rows', async () => {
    const order: string[] = []
    const packed = await packInSlices(
      Array.from({ length: 700 }, (_, i) => i),
      (i) => (order.push(`p${i}`), pack(i)),
      async () => void order.push('yield'),
    )
    assert.deepEqual(
      packed.map((p) => p.packed),
      Array.from({ length: 700 }, (_, i) => String(i)),
    )
    assert.deepEqual(
      order.flatMap((o, i) => (o === 'yield' ? [order[i - 1], order[i + 1]] : [])),
      ['p255', 'p256', 'p511', 'p512'],
    )
  })

  void test('a batch of at most 256 rows never yields', async () => {
    let yields = 0
    await packInSlices(
      Array.from({ length: 256 }, (_, i) => i),
      pack,
      async () => void yields++,
    )
    assert.equal(yields, 0)
  })

  void test('slicesOf cuts in order, the last slice shorter', () => {
    assert.deepEqual(slicesOf([1, 2, 3, 4, 5], 2), [[1, 2], [3, 4], [5]])
    assert.deepEqual(slicesOf([], 3), [])
  })
})
