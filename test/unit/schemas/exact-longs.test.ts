import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { createDecoder } from '../../../schemas/decoder.ts'
import { createEncoder } from '../../../schemas/encoder.ts'
import { createFastType } from '../../../schemas/avro-type.ts'
import { avscLongsAreExact } from '../../../schemas/avsc-exact-longs.ts'
import { AvroSink } from '../../../schemas/avro-sink.ts'
import { ByteReader, ByteWriter } from '../../../operators/codec/bytes.ts'
import { InvariantViolation } from '../../../core/errors.ts'
import { randomSafeIntegers, referenceZigzag, safeIntegerEdges } from '../../support/integer-edges.ts'
import type { SchemaRegistry } from '../../../ports/schema-registry.ts'

const schema = {
  type: 'record',
  name: 'Row',
  fields: [
    { name: 'id', type: 'string' },
    { name: 'n', type: 'int' },
    { name: 'v', type: 'long' },
  ],
}
const registry: SchemaRegistry = {
  register: async () => 3,
  getById: async (id: number) => (id === 3 ? schema : undefined),
  latest: async () => undefined,
}
const framed = (body: Buffer): Buffer => Buffer.concat([Buffer.from([0, 0, 0, 0, 3]), body])
/** A Row body by hand: id "k", the int `n` and the long `v` as given varint bytes. */
const rowBody = (n: Buffer, v: Buffer): Buffer => Buffer.concat([Buffer.from([2, 0x6b]), n, v])

const values = [...safeIntegerEdges(), ...randomSafeIntegers(5_000)]

void describe('schemas > longs are exact at every magnitude', () => {
  void test('the mended varints are installed in the avsc kfs loads', () => {
    assert.ok(avscLongsAreExact())
  })

  void test('avsc writes and reads every edge and random safe long exactly (−2^52 − 1 stays negative)', () => {
    const long = createFastType('"long"')
    // avsc's own long holds ±(2^53 − 2); the two values beyond go to the wide long (next test).
    for (const v of values.filter((x) => Math.abs(x) <= 2 ** 53 - 2)) {
      assert.deepEqual(long.toBuffer(v), referenceZigzag(v), `bytes of ${v}`)
      assert.equal(long.fromBuffer(referenceZigzag(v)), v, `value of ${v}`)
    }
    assert.equal(long.fromBuffer(long.toBuffer(-4503599627370497)), -4503599627370497)
  })

  void test('encoder → decoder round-trips every edge long; beyond ±(2^53 − 2) as an exact bigint', async () => {
    const encoder = await createEncoder({ registry, subject: 'rows-value', schema })
    const decoder = createDecoder({ registry, readerSchema: schema })
    const wide = [2n ** 53n - 1n, -(2n ** 53n) + 1n, 2n ** 53n + 1n, -(2n ** 53n) - 1n, 2n ** 63n - 1n, -(2n ** 63n)]
    for (const v of [...values, ...wide]) {
      const bytes = encoder.encode({ id: 'k', n: 1, v })
      assert.deepEqual(bytes.subarray(5 + 3), referenceZigzag(v), `wire bytes of ${v}`)
      const out = await decoder.decode(bytes)
      assert.ok(out.ok, out.ok ? '' : out.detail)
      // A safe value comes back as a number, whichever way it was given.
      const expected = typeof v === 'bigint' && v >= -(2n ** 53n) + 1n && v <= 2n ** 53n - 1n ? Number(v) : v
      assert.equal(out.event.v, expected, `decoded ${v}`)
    }
  })

  void test('the ingest sink writes the same exact bytes as avsc', () => {
    const sink = new AvroSink(16)
    for (const v of values) {
      sink.pos = 0
      sink.writeLong(v)
      assert.deepEqual(Buffer.from(sink.written()), referenceZigzag(v), `sink bytes of ${v}`)
    }
  })

  void test('malformed varints are undecodable with the reason, never a wrapped value', async () => {
    const decoder = createDecoder({ registry, readerSchema: schema })
    const one = Buffer.from([2])
    const cases: [string, Buffer][] = [
      ['an 11-byte long', rowBody(one, Buffer.from([...Array(10).fill(0xff), 0x01]))],
      ['a 10-byte long with bits beyond the 64th', rowBody(one, Buffer.from([...Array(9).fill(0xff), 0x02]))],
      ['an int beyond 32 bits', rowBody(referenceZigzag(2 ** 31), one)],
      ['a negative int beyond 32 bits', rowBody(referenceZigzag(-(2 ** 31) - 1), one)],
    ]
    for (const [what, body] of cases) {
      const out = await decoder.decode(framed(body))
      assert.ok(!out.ok, `${what} decoded`)
      assert.equal(out.reason, 'undecodable', what)
      assert.match(out.detail, /malformed Avro (long|int)/, what)
    }
    const edge = await decoder.decode(framed(rowBody(referenceZigzag(-(2 ** 31)), referenceZigzag(-(2n ** 63n)))))
    assert.ok(edge.ok && edge.event.n === -(2 ** 31) && edge.event.v === -(2n ** 63n), 'int32 and int64 minimums decode')
  })

  void test('snapshot svarints round-trip every safe integer exactly and refuse an over-long one', () => {
    const w = new ByteWriter(8)
    for (const v of values) w.svarint(v)
    const r = new ByteReader(w.finish())
    for (const v of values) assert.equal(r.svarint(), v)
    assert.ok(r.done)
    const single = new ByteWriter(8)
    single.svarint(-(2 ** 52) - 1)
    assert.deepEqual(Buffer.from(single.finish()), referenceZigzag(-(2 ** 52) - 1))
    assert.throws(() => new ByteReader(Uint8Array.from([...Array(9).fill(0xff), 0x01])).svarint(), InvariantViolation)
  })
})
