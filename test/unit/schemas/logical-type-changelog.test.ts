/**
 * Changelog sources and writer logical types, both formats. A Debezium JSON message's
 * `{schema, payload}` wrapper names each column's Connect semantic type (MicroTimestamp, Date,
 * Decimal with its scale…), and Debezium's Avro converter puts the same names in the writer schema
 * as `connect.name` on a plain long — no `logicalType`. Either was read as a plain number in the
 * row schema's unit: a DATETIME column's microseconds as `timestamp-millis`, 1000× off. Now every
 * Connect semantic type against every row-schema type a JSON number or base64 bytes conform to
 * decodes to the outcome docs/semantics.md documents for the logical type it stands for
 * (logical-type-pairs.ts), and the Avro envelope is judged field by field through before and after.
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { inspect, isDeepStrictEqual } from 'node:util'
import { createChangeJsonDecoder } from '../../../schemas/change-json-decoder.ts'
import { createDecoder } from '../../../schemas/decoder.ts'
import { createWideType } from '../../../schemas/avro-type.ts'
import { changeEnvelopeSchema } from '../../../features/change-envelope.ts'
import type { AvroRecordSchema } from '../../../features/types.ts'
import type { AvroSchema } from '../../../ports/schema-registry.ts'
import { describedAs, expectedOutcome, VARIANTS, type Variant } from './logical-type-pairs.ts'

/** Each Connect semantic type, its Connect type, the logical type it stands for (docs/semantics.md) and values it writes. */
const CONNECT: readonly {
  name: string | undefined
  type: string
  stands: Variant['logical']
  values: readonly unknown[]
  parameters?: object
}[] = [
  { name: undefined, type: 'int64', stands: undefined, values: [-1_234_567, 1_700_000_000_123] },
  {
    name: 'org.apache.kafka.connect.data.Timestamp',
    type: 'int64',
    stands: { name: 'timestamp-millis' },
    values: [-1_234_567, 1_700_000_000_123],
  },
  {
    name: 'io.debezium.time.Timestamp',
    type: 'int64',
    stands: { name: 'local-timestamp-millis' },
    values: [-1_234_567, 1_700_000_000_123],
  },
  {
    name: 'io.debezium.time.MicroTimestamp',
    type: 'int64',
    stands: { name: 'local-timestamp-micros' },
    values: [-1_234_567, 1_700_000_000_123],
  },
  {
    name: 'io.debezium.time.NanoTimestamp',
    type: 'int64',
    stands: { name: 'local-timestamp-nanos' },
    values: [-1_234_567, 1_700_000_000_123],
  },
  { name: 'io.debezium.time.MicroTime', type: 'int64', stands: { name: 'time-micros' }, values: [86_399_999_999] },
  { name: 'org.apache.kafka.connect.data.Date', type: 'int32', stands: { name: 'date' }, values: [-1, 19_700] },
  { name: 'io.debezium.time.Date', type: 'int32', stands: { name: 'date' }, values: [19_700] },
  { name: 'io.debezium.time.Time', type: 'int32', stands: { name: 'time-millis' }, values: [86_399_999] },
  {
    name: 'org.apache.kafka.connect.data.Decimal',
    type: 'bytes',
    stands: { name: 'decimal', scale: 2 },
    values: ['/4U='],
    parameters: { scale: '2' },
  },
  {
    name: 'org.apache.kafka.connect.data.Decimal',
    type: 'bytes',
    stands: { name: 'decimal', precision: 10, scale: 2 },
    values: ['/4U='],
    parameters: { scale: '2', 'connect.decimal.precision': '10' },
  },
]

/** Row-schema types a JSON number (or, for bytes, base64 text) conforms to. */
const READERS = VARIANTS.filter((v) => ['int', 'long', 'float', 'double', 'bytes'].includes(v.underlying))

const rowOf = (type: unknown) =>
  ({ type: 'record', name: 'Row', fields: [{ name: 'v', type: ['null', type], default: null }] }) as AvroRecordSchema

function message(c: (typeof CONNECT)[number], value: unknown): string {
  const column = {
    field: 'v',
    type: c.type,
    optional: true,
    ...(c.name === undefined ? {} : { name: c.name }),
    ...(c.parameters ? { parameters: c.parameters } : {}),
  }
  const struct = { type: 'struct', optional: true, name: 'db.Row', fields: [column] }
  const schema = {
    type: 'struct',
    name: 'db.Envelope',
    fields: [
      { field: 'before', ...struct },
      { field: 'after', ...struct },
      { field: 'op', type: 'string' },
    ],
  }
  return JSON.stringify({ schema, payload: { op: 'u', before: { v: value }, after: { v: value }, ts_ms: 5 } })
}

void describe('Debezium JSON: the wrapper’s Connect semantic types against the row schema', () => {
  void test('every Connect semantic type against every row-schema type decodes to its documented outcome', async () => {
    const problems: string[] = []
    const kinds = new Set<string>()
    for (const c of CONNECT) {
      for (const reader of READERS.filter(
        (r) => (c.type === 'bytes') === (r.underlying === 'bytes') && !(c.type === 'int64' && r.underlying === 'int'),
      )) {
        const writer = {
          label: c.name ?? 'plain',
          schema: null,
          values: [],
          underlying: c.type === 'int64' ? 'long' : c.type === 'int32' ? 'int' : 'bytes',
          ...(c.stands ? { logical: c.stands } : {}),
        }
        const outcome = expectedOutcome(writer, reader)
        kinds.add(outcome.kind)
        const decoder = createChangeJsonDecoder({ rowSchema: rowOf(reader.schema) })
        for (const value of c.values) {
          const r = await decoder.decode(Buffer.from(message(c, value)))
          const where = `${c.name ?? 'no semantic type'} ${inspect(value)} as ${reader.label}`
          if (outcome.kind === 'refuse') {
            const named =
              !r.ok &&
              r.reason === 'schema_mismatch' &&
              /before\.v/.test(r.detail) &&
              r.detail.includes(describedAs(writer)) &&
              r.detail.includes(describedAs(reader))
            if (!named) problems.push(`${where}: expected a schema_mismatch naming before.v and both types, got ${inspect(r)}`)
            continue
          }
          // A float column holds the nearest float32, as the Avro decoder's would.
          const plain =
            typeof value === 'string'
              ? Buffer.from(value, 'base64')
              : reader.underlying === 'float'
                ? Math.fround(value as number)
                : value
          const v = outcome.kind === 'convert' ? outcome.apply(plain as number) : plain
          const expected = { op: 'u', before: { v }, after: { v }, ts_ms: 5, snapshot: null }
          if (!r.ok || !isDeepStrictEqual(r.event, expected))
            problems.push(`${where}: expected ${inspect(expected)} (${outcome.kind}), got ${inspect(r)}`)
        }
      }
    }
    assert.deepEqual([...kinds].sort(), ['convert', 'refuse', 'same'])
    assert.deepEqual(problems, [])
  })
})

void describe('Avro changelog envelopes: logical types through before and after', () => {
  const rowSchema = (t: unknown) =>
    ({
      type: 'record',
      name: 'Row',
      namespace: 'db',
      fields: [
        { name: 'id', type: 'long' },
        { name: 't', type: t },
      ],
    }) as AvroRecordSchema
  /** A Debezium-style writer envelope (its own name, optional fields, the row's types as given). */
  const writerEnvelope = (t: unknown) => ({
    type: 'record',
    name: 'RowChange',
    namespace: 'db',
    fields: [
      { name: 'before', type: ['null', rowSchema(t)], default: null },
      { name: 'after', type: ['null', 'db.Row'], default: null },
      { name: 'op', type: 'string' },
      { name: 'ts_ms', type: 'long' },
    ],
  })
  async function decodeChange(writerRowType: unknown, readerRowType: unknown, t: number | bigint) {
    const writer = writerEnvelope(writerRowType)
    const registry = { register: async () => 1, getById: async () => writer as AvroSchema, latest: async () => undefined }
    const decoder = createDecoder({ registry, readerSchema: changeEnvelopeSchema(rowSchema(readerRowType)) as AvroSchema })
    const body = createWideType(writer as AvroSchema).toBuffer({ before: { id: 1, t }, after: { id: 1, t }, op: 'u', ts_ms: 5 })
    return decoder.decode(Buffer.concat([Buffer.from([0, 0, 0, 0, 1]), body]))
  }
  const MICRO = { type: 'long', 'connect.name': 'io.debezium.time.MicroTimestamp' }

  void test('a connect.name MicroTimestamp is converted to local-timestamp-millis in both images, floored', async () => {
    const r = await decodeChange(MICRO, { type: 'long', logicalType: 'local-timestamp-millis' }, -1_500)
    assert.ok(r.ok)
    assert.deepEqual(JSON.parse(JSON.stringify(r.event)), {
      op: 'u',
      before: { id: 1, t: -2 },
      after: { id: 1, t: -2 },
      ts_ms: 5,
      snapshot: null,
    })
  })

  void test('a connect.name MicroTimestamp read as timestamp-millis (UTC) is refused, naming the column', async () => {
    const r = await decodeChange(MICRO, { type: 'long', logicalType: 'timestamp-millis' }, 1_500)
    assert.ok(!r.ok)
    assert.equal(r.reason, 'schema_mismatch')
    assert.match(
      r.detail,
      /field before\.t: the writer's local-timestamp-micros cannot be read as the source schema's timestamp-millis/,
    )
  })

  void test('a timestamp-nanos logical type converts in both images', async () => {
    const r = await decodeChange(
      { type: 'long', logicalType: 'timestamp-nanos' },
      { type: 'long', logicalType: 'timestamp-millis' },
      1_700_000_000_123_456_789n,
    )
    assert.ok(r.ok)
    assert.deepEqual(JSON.parse(JSON.stringify({ before: r.event.before, after: r.event.after })), {
      before: { id: 1, t: 1_700_000_000_123 },
      after: { id: 1, t: 1_700_000_000_123 },
    })
  })
})
