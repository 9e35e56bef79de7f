import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { frame, unframe } from '../../../schemas/codec.ts'

void describe('schemas > codec', () => {
  void test('frame writes magic 0, the big-endian id, then the body', () => {
    const framed = frame(0x01020304, Buffer.from([9, 8, 7]))
    assert.deepEqual([...framed], [0, 1, 2, 3, 4, 9, 8, 7])
  })

  void test('unframe reads back what frame wrote, for ids across the 32-bit range', () => {
    for (const id of [0, 1, 255, 65_536, 2 ** 31 + 5, 2 ** 32 - 1]) {
      const out = unframe(frame(id, Buffer.from('body')))
      assert.ok(out.ok)
      assert.equal(out.schemaId, id)
      assert.equal(out.body.toString(), 'body')
    }
  })

  void test('unframe accepts a plain Uint8Array view into a larger buffer', () => {
    const backing = new Uint8Array([42, 0, 0, 0, 0, 7, 1, 2])
    const out = unframe(backing.subarray(1))
    assert.ok(out.ok)
    assert.equal(out.schemaId, 7)
    assert.deepEqual([...out.body], [1, 2])
  })

  void test('wrong magic byte and short values are refused, not thrown', () => {
    assert.equal(unframe(Buffer.from([1, 0, 0, 0, 1, 2])).ok, false)
    assert.equal(unframe(Buffer.from([0, 0, 0])).ok, false)
    assert.equal(unframe(Buffer.alloc(0)).ok, false)
  })

  void test('ids that do not fit 4 bytes are a programming error', () => {
    assert.throws(() => frame(-1, Buffer.alloc(0)), RangeError)
    assert.throws(() => frame(2 ** 32, Buffer.alloc(0)), RangeError)
  })
})
