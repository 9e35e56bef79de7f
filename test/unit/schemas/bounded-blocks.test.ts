import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { createDecoder } from '../../../schemas/decoder.ts'
import { createFastType } from '../../../schemas/avro-type.ts'
import { avscBlocksAreBounded, MAX_ZERO_WIDTH_ITEMS } from '../../../schemas/avsc-bounded-blocks.ts'
import { referenceZigzag as zz } from '../../support/integer-edges.ts'
import type { AvroSchema, SchemaRegistry } from '../../../ports/schema-registry.ts'

const itemTypes: Record<string, unknown> = {
  long: 'long',
  string: 'string',
  double: 'double',
  union: ['null', 'long'],
  record: { type: 'record', name: 'Pair', fields: [{ name: 'a', type: 'int' }] },
  nested: { type: 'array', items: 'long' },
}
const row = (field: unknown): AvroSchema =>
  ({
    type: 'record',
    name: 'Row',
    fields: [
      { name: 'id', type: 'string' },
      { name: 'xs', type: field },
    ],
  }) as AvroSchema
const lean = row('long')

function registryOf(byId: Record<number, AvroSchema>): SchemaRegistry {
  return { register: async () => 1, getById: async (id: number) => byId[id], latest: async () => undefined }
}
const framed = (id: number, ...parts: (number[] | Buffer)[]): Buffer =>
  Buffer.concat([Buffer.from([0, 0, 0, 0, id]), Buffer.from([2, 0x6b]), ...parts.map((p) => Buffer.from(p))])

/** Counts no body of a few bytes can hold, as block headers: plain and negative (sized) blocks. */
const hugeCounts = [3, 1000, 1e8, 2 ** 40, 2 ** 53 - 2]
const headers = (n: number): Buffer[] => [zz(n), Buffer.concat([zz(-n), zz(4)])]

async function refusal(decoderSchema: AvroSchema, writer: AvroSchema, body: Buffer): Promise<string> {
  const out = await createDecoder({ registry: registryOf({ 5: writer }), readerSchema: decoderSchema }).decode(body)
  assert.ok(!out.ok, 'decoded')
  assert.equal(out.reason, 'undecodable')
  return out.detail
}

void describe('schemas > array and map blocks the bytes cannot hold', () => {
  void test('the checked block readers are installed in the avsc kfs loads', () => {
    assert.ok(avscBlocksAreBounded())
  })

  void test('an array block of every item type claiming more items than bytes is refused at once', async () => {
    for (const [name, items] of Object.entries(itemTypes)) {
      const schema = row({ type: 'array', items })
      for (const n of hugeCounts)
        for (const header of headers(n)) {
          const detail = await refusal(schema, schema, framed(5, header, [2, 4]))
          assert.match(detail, /malformed Avro array: a block of \d+ items with \d+ bytes left/, `${name} × ${n}`)
        }
    }
  })

  void test('a map block claiming more entries than bytes is refused at once', async () => {
    const schema = row({ type: 'map', values: 'long' })
    for (const n of hugeCounts)
      for (const header of headers(n))
        assert.match(await refusal(schema, schema, framed(5, header, [2, 0x61])), /malformed Avro map/, `× ${n}`)
  })

  void test('the same blocks in a writer-only field (the skip path) are refused too', async () => {
    for (const field of [
      { type: 'array', items: 'long' },
      { type: 'array', items: 'null' },
      { type: 'map', values: 'string' },
    ]) {
      const writer = {
        type: 'record',
        name: 'Row',
        fields: [
          { name: 'id', type: 'string' },
          { name: 'junk', type: field },
          { name: 'xs', type: 'long' },
        ],
      } as AvroSchema
      for (const n of [1e8, 2 ** 40])
        assert.match(await refusal(lean, writer, framed(5, zz(n), [2])), /malformed Avro (array|map)/, JSON.stringify(field))
      // A sized block of negative size would move the reader back into the same block forever.
      assert.match(await refusal(lean, writer, framed(5, zz(-1), zz(-3), [2])), /negative size/, JSON.stringify(field))
    }
  })

  void test('zero-width items: a big block decodes up to the cap, and beyond it is refused', async () => {
    const schema = row({ type: 'array', items: 'null' })
    const registry = registryOf({ 5: schema })
    const ok = await createDecoder({ registry, readerSchema: schema }).decode(framed(5, zz(5000), [0]))
    assert.ok(ok.ok && (ok.event.xs as unknown[]).length === 5000)
    assert.match(await refusal(schema, schema, framed(5, zz(MAX_ZERO_WIDTH_ITEMS + 1), [0])), /malformed Avro array/)
    const two = framed(5, zz(MAX_ZERO_WIDTH_ITEMS), zz(2), [0])
    assert.match(await refusal(schema, schema, two), /malformed Avro array/, 'the cap counts every block of the array')
  })

  void test('valid arrays and maps of every shape still decode: several blocks, sized blocks, nesting', async () => {
    const schema = row({ type: 'array', items: { type: 'map', values: { type: 'array', items: 'long' } } })
    const type = createFastType(schema)
    const value = { id: 'k', xs: [{ a: [1, -(2 ** 52) - 1], b: [] }, {}, { c: [3] }] }
    assert.deepEqual(structuredClone(type.fromBuffer(type.toBuffer(value))), value)
    // Hand-built: two blocks, the second sized (negative count), then the end.
    const ints = row({ type: 'array', items: 'long' })
    const body = framed(5, zz(2), zz(7), zz(-8), zz(-1), zz(1), zz(9), [0])
    const out = await createDecoder({ registry: registryOf({ 5: ints }), readerSchema: ints }).decode(body)
    assert.ok(out.ok, out.ok ? '' : out.detail)
    assert.deepEqual(out.event.xs, [7, -8, 9])
  })
})
