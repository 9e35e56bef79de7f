/**
 * Type names that come from outside kfs — a Debezium message's Connect semantic types and Connect
 * types, a writer schema's `logicalType` and `connect.name`, a foreign Iceberg table's column
 * types — are looked up in kfs's own tables of the names it knows. A name that is a member of every
 * JavaScript object (`toString`, `constructor`, `__proto__`…) was found there as if known: one
 * Debezium JSON message naming such a type in its `{schema, payload}` wrapper threw a TypeError
 * out of the decoder and stopped `kfs run` (exit 1, INTERNAL) on every restart, and a writer schema
 * naming one was refused with "on.includes is not a function". Each such name must mean what any
 * name kfs does not know means.
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { kindOfIcebergType } from '../../../adapters/offline/iceberg/foreign-table-columns.ts'
import type { AvroRecordSchema } from '../../../features/types.ts'
import type { AvroSchema } from '../../../ports/schema-registry.ts'
import { createWideType } from '../../../schemas/avro-type.ts'
import { createChangeJsonDecoder } from '../../../schemas/change-json-decoder.ts'
import { createDecoder, type DecodeResult } from '../../../schemas/decoder.ts'

/** Every member of Object.prototype, and `__proto__`, which an object literal does not list. */
const PROTOTYPE_NAMES = [...new Set([...Object.getOwnPropertyNames(Object.prototype), '__proto__'])]
/** A name kfs does not know: what each of the above must behave as. */
const UNKNOWN = 'kfs.test.NoSuchType'

const rowSchema: AvroRecordSchema = {
  type: 'record',
  name: 'Row',
  fields: [
    { name: 'id', type: 'string' },
    { name: 'n', type: 'long' },
  ],
}

/** A Debezium JSON message whose wrapper gives column n the Connect type `type` and semantic type `name`. */
function debezium(type: string, name: string): Buffer {
  const column = { field: 'n', type, name, optional: false }
  const schema = {
    type: 'struct',
    fields: [{ field: 'after', type: 'struct', fields: [{ field: 'id', type: 'string' }, column] }],
  }
  return Buffer.from(
    JSON.stringify({ schema, payload: { op: 'c', before: null, after: { id: 'a', n: 1_700_000_000_123 }, ts_ms: 5 } }),
  )
}

/** Decodes one record framed with writer schema id 1, whose column n has the type node `n`. */
async function decodeAvro(n: Record<string, unknown>): Promise<DecodeResult> {
  const writer = {
    ...rowSchema,
    fields: [
      { name: 'id', type: 'string' },
      { name: 'n', type: n },
    ],
  } as AvroSchema
  const registry = { register: async () => 1, getById: async () => writer, latest: async () => undefined }
  const decoder = createDecoder({ registry, readerSchema: rowSchema as AvroSchema })
  const body = createWideType(writer).toBuffer({ id: 'a', n: 1_700_000_000_123 })
  return decoder.decode(Buffer.concat([Buffer.from([0, 0, 0, 0, 1]), body]))
}

const plain = (r: DecodeResult): unknown => JSON.parse(JSON.stringify(r))

void describe('schemas > type names that are members of every JavaScript object', () => {
  void test('a Debezium JSON wrapper naming one as a column semantic type or Connect type: decoded as an unknown name is', async () => {
    const decoder = createChangeJsonDecoder({ rowSchema })
    const [asUnknownName, asUnknownType] = await decoder.decodeBatch([debezium('int64', UNKNOWN), debezium(UNKNOWN, UNKNOWN)])
    assert.ok(asUnknownName?.ok && asUnknownType?.ok, 'the reference messages decode')
    for (const name of PROTOTYPE_NAMES) {
      const [byName, byType] = await decoder.decodeBatch([debezium('int64', name), debezium(name, UNKNOWN)])
      assert.deepEqual(plain(byName!), plain(asUnknownName), `semantic type ${name}`)
      assert.deepEqual(plain(byType!), plain(asUnknownType), `Connect type ${name}`)
    }
  })

  void test("a writer schema naming one as a column's logicalType or connect.name: decoded as an unknown name is", async () => {
    for (const attribute of ['logicalType', 'connect.name']) {
      const reference = await decodeAvro({ type: 'long', [attribute]: UNKNOWN })
      assert.ok(reference.ok, `${attribute}: the reference record decodes`)
      for (const name of PROTOTYPE_NAMES)
        assert.deepEqual(plain(await decodeAvro({ type: 'long', [attribute]: name })), plain(reference), `${attribute} ${name}`)
    }
  })

  void test("a foreign Iceberg table's column of such a type is of a kind ingest cannot read, as an unknown type's is", () => {
    const unknownKind = kindOfIcebergType(UNKNOWN)
    for (const name of PROTOTYPE_NAMES) assert.equal(kindOfIcebergType(name), unknownKind, name)
  })
})
