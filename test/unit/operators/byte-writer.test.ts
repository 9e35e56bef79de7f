/**
 * ByteWriter.str writes UTF-8 straight into its buffer; its layout must stay exactly the length
 * prefix + `TextEncoder.encode` bytes that snapshots have always had (snapshots restore across
 * versions and are compared byte for byte between live and replay).
 */
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { ByteReader, ByteWriter } from '../../../operators/codec/bytes.ts'

/** The layout as it was: uvarint byte length, then the encoded bytes. */
function reference(strings: readonly string[]): Uint8Array {
  const w = new ByteWriter(1)
  for (const s of strings) w.bytes(new TextEncoder().encode(s))
  return w.finish()
}

const pieces = ['a', 'é', '€', '🙂', '\uD800', '\uDFFF', 'z\uD83D', '\u0000', 'ключ']

void describe('operators > codec > ByteWriter.str', () => {
  void test('same bytes as length + TextEncoder.encode: ASCII, 2-, 3- and 4-byte characters, lone surrogates, around every prefix-size boundary', () => {
    let seed = 12345
    const rnd = (n: number): number => ((seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31), seed % n)
    const strings: string[] = ['']
    // Lengths where the reserved prefix (3 bytes per unit) and the written length straddle 1, 2 and 3 varint bytes.
    for (const n of [1, 2, 42, 43, 44, 127, 128, 129, 5461, 5462, 16383, 16384, 16385, 60000]) {
      strings.push('x'.repeat(n))
      strings.push(Array.from({ length: n }, () => pieces[rnd(pieces.length)]).join('').slice(0, n))
    }
    for (let i = 0; i < 300; i++) strings.push(Array.from({ length: rnd(80) }, () => (rnd(3) === 0 ? pieces[rnd(pieces.length)] : String.fromCharCode(32 + rnd(90)))).join(''))
    // One writer for all (growth from a 1-byte buffer on the way), and one per string.
    const all = new ByteWriter(1)
    for (const s of strings) all.str(s)
    assert.deepEqual(all.finish(), reference(strings))
    for (const s of strings) {
      const one = new ByteWriter(1)
      one.u8(7)
      one.str(s)
      assert.deepEqual(one.finish(), reference(['\u0007', s]).subarray(1), `string of length ${s.length}`)
    }
  })

  void test('a string whose ASCII run ends in a non-ASCII unit (the ASCII fast path gives up there) keeps the layout', () => {
    const strings: string[] = []
    for (const tail of ['\u0080', 'é', '€', '🙂', '\uD800'])
      for (const n of [0, 1, 5, 125, 126, 127, 128]) {
        strings.push('k'.repeat(n) + tail, tail + 'k'.repeat(n), 'k'.repeat(n >> 1) + tail + 'k'.repeat(n >> 1))
      }
    strings.push('\u007F', '\u007F'.repeat(127))
    // A small buffer: the fast path's own growth, then a fall back onto what it grew.
    const w = new ByteWriter(1)
    for (const s of strings) w.str(s)
    assert.deepEqual(w.finish(), reference(strings))
  })

  void test('uvarint: LEB128 on both sides of the one-byte fast path; non-integers and negatives refused', () => {
    const values = [0, 1, 63, 64, 126, 127, 128, 129, 255, 16383, 16384, 2 ** 31 - 1, 2 ** 31, 2 ** 32, 2 ** 53 - 1]
    const w = new ByteWriter(1)
    for (const v of values) w.uvarint(v)
    const r = new ByteReader(w.finish())
    for (const v of values) assert.equal(r.uvarint(), v)
    assert.ok(r.done)
    const one = new ByteWriter(1)
    one.uvarint(127)
    one.uvarint(128)
    assert.deepEqual(one.finish(), new Uint8Array([0x7f, 0x80, 0x01]))
    for (const bad of [-1, 0.5, 127.5, -0.5, Number.NaN, Infinity, 2 ** 53]) assert.throws(() => new ByteWriter(1).uvarint(bad), /uvarint out of range/)
  })

  void test('what str writes, the reader reads back (lone surrogates as U+FFFD, as TextEncoder does)', () => {
    const strings = ['', 'plain', 'ключ-🙂', '\uD800x', 'y'.repeat(20000)]
    const w = new ByteWriter(4)
    for (const s of strings) w.str(s)
    const r = new ByteReader(w.finish())
    for (const s of strings) assert.equal(r.str(), new TextDecoder().decode(new TextEncoder().encode(s)))
    assert.ok(r.done)
  })
})

void describe('operators > codec > ByteWriter.take', () => {
  void test('the bytes of finish, without a copy when they fill half the buffer; the writer starts empty again', () => {
    const full = new ByteWriter(16)
    for (let i = 0; i < 12; i++) full.u8(i)
    const expected = new ByteWriter(16)
    for (let i = 0; i < 12; i++) expected.u8(i)
    const taken = full.take()
    assert.deepEqual(taken, expected.finish())
    assert.equal(taken.buffer.byteLength, 16, 'a view of the writer buffer')
    // Written again: new bytes only, and the taken ones stay as they were.
    full.str('after')
    full.uvarint(300)
    assert.deepEqual(full.finish(), new Uint8Array([5, 97, 102, 116, 101, 114, 0xac, 0x02]))
    assert.deepEqual(taken, expected.finish())
    const sparse = new ByteWriter(1024)
    sparse.f64(1.5)
    const copy = sparse.take()
    assert.equal(copy.buffer.byteLength, 8, 'a copy: a view would keep 1 KiB for 8 bytes')
    const empty = new ByteWriter(0)
    empty.u8(1)
    assert.deepEqual(empty.take(), new Uint8Array([1]))
  })
})
