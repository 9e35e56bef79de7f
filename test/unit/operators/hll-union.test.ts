import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { approxDistinctKernel as approxDistinct, hllUnionEstimate, type HllAcc } from '../../../operators/aggregators/approx-distinct.ts'
import { ByteReader, ByteWriter } from '../../../operators/codec/bytes.ts'

void describe('operators > approx_distinct > union estimate', () => {
  void test('equals merge-then-estimate for sparse and dense tiles, at any stride and offset', () => {
    fc.assert(
      fc.property(
        fc.array(fc.array(fc.oneof(fc.integer({ min: 0, max: 5000 }), fc.string({ maxLength: 4 })), { maxLength: 700 }), { minLength: 1, maxLength: 5 }),
        fc.integer({ min: 1, max: 3 }),
        fc.nat({ max: 2 }),
        (tiles, stride, at) => {
          const flat: unknown[] = []
          const accs = tiles.map((values) => {
            let acc = approxDistinct.init()
            values.forEach((v, i) => (acc = approxDistinct.add(acc, v, i, String(i))))
            return acc
          })
          accs.forEach((acc, i) => {
            for (let j = 0; j < stride; j++) flat[(at + i) * stride + j] = j === 0 ? acc : 'other column'
          })
          let merged = approxDistinct.init()
          for (const acc of accs) merged = approxDistinct.merge(merged, acc)
          assert.equal(hllUnionEstimate(flat, at * stride, stride, accs.length), approxDistinct.finish(merged))
          // The scratch registers are cleared: a second call sees no leftovers.
          assert.equal(hllUnionEstimate(flat, at * stride, stride, 1), approxDistinct.finish(accs[0] as HllAcc))
        },
      ),
      { numRuns: 150 },
    )
  })
})

void describe('operators > approx_distinct > one-register sketch', () => {
  void test('is encoded exactly like a one-entry sparse sketch and decodes to the same estimate and bytes', () => {
    fc.assert(
      fc.property(fc.array(fc.oneof(fc.integer(), fc.string({ maxLength: 6 })), { minLength: 1, maxLength: 3 }), (values) => {
        let acc = approxDistinct.init()
        for (const v of values) acc = approxDistinct.add(acc, v, 0, '0')
        const w = new ByteWriter(16)
        approxDistinct.encode(acc, w)
        const bytes = w.finish()
        const r = new ByteReader(bytes)
        const again = approxDistinct.decode(r)
        assert.ok(r.done)
        assert.equal(approxDistinct.finish(again), approxDistinct.finish(acc))
        const w2 = new ByteWriter(16)
        approxDistinct.encode(again, w2)
        assert.deepEqual(w2.finish(), bytes)
        if (typeof acc === 'number') {
          // Form byte 0 (sparse), one entry, the packed register: the layout of a one-entry array.
          const sparse = new ByteWriter(16)
          sparse.u8(0)
          sparse.uvarint(1)
          sparse.uvarint(acc)
          assert.deepEqual(bytes, sparse.finish())
        }
      }),
      { numRuns: 300 },
    )
  })
})
