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

  void test('what str writes, the reader reads back (lone surrogates as U+FFFD, as TextEncoder does)', () => {
    const strings = ['', 'plain', 'ключ-🙂', '\uD800x', 'y'.repeat(20000)]
    const w = new ByteWriter(4)
    for (const s of strings) w.str(s)
    const r = new ByteReader(w.finish())
    for (const s of strings) assert.equal(r.str(), new TextDecoder().decode(new TextEncoder().encode(s)))
    assert.ok(r.done)
  })
})
