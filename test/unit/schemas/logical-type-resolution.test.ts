/**
 * A writer whose Avro logical type differs from the source schema's, through the decoder the
 * engine uses: every pair (writer logical type or none, reader logical type or none) of every
 * underlying type avsc resolves (int, long, float, double, bytes, fixed, string, with promotions),
 * in every position (a field, a nullable field, array items, map values). Each record decodes to
 * the documented outcome (logical-type-pairs.ts): the plain reading, the value converted to the
 * reader's unit, or the writer refused `schema_mismatch` with a detail naming the field and both
 * logical types. avsc resolved by underlying types alone, so a `timestamp-micros` written and
 * `timestamp-millis` read came out 1000× off, a `local-timestamp-millis` read as UTC, a `date` read
 * as epoch milliseconds and a decimal read with another scale, all silently.
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { inspect, isDeepStrictEqual } from 'node:util'
import { createDecoder, type DecodeResult } from '../../../schemas/decoder.ts'
import { createWideType } from '../../../schemas/avro-type.ts'
import type { AvroSchema, SchemaRegistry } from '../../../ports/schema-registry.ts'
import {
  avscResolves,
  describedAs,
  expectedOutcome,
  plainRead,
  POSITIONS,
  recordOf,
  VARIANTS,
  type Position,
  type Variant,
} from './logical-type-pairs.ts'

function registryOf(schemas: readonly unknown[]): SchemaRegistry {
  return {
    register: async () => 1,
    getById: async (id) => schemas[id - 1] as AvroSchema | undefined,
    latest: async () => undefined,
  }
}

function framed(id: number, body: Buffer): Buffer {
  const header = Buffer.alloc(5)
  header.writeUInt32BE(id, 1)
  return Buffer.concat([header, body])
}

async function decodeAll(writerSchema: unknown, readerSchema: unknown, data: readonly unknown[]): Promise<DecodeResult[]> {
  const decoder = createDecoder({ registry: registryOf([writerSchema]), readerSchema: readerSchema as AvroSchema })
  const type = createWideType(writerSchema as AvroSchema)
  return decoder.decodeBatch(data.map((d) => framed(1, type.toBuffer(d))))
}

/** The event as plain data (avsc's record class and buffers compare as themselves). */
const plainEvent = (r: DecodeResult) => (r.ok ? { ...r.event } : r)

interface Pair {
  readonly position: Position
  readonly writer: Variant
  readonly reader: Variant
}

/** What went wrong with one pair, or undefined when it decoded to its documented outcome. */
async function pairProblem({ position, writer, reader }: Pair): Promise<string | undefined> {
  const outcome = expectedOutcome(writer, reader)
  const writerSchema = recordOf(position.writer(writer.schema))
  const readerSchema = recordOf(position.reader(reader.schema))
  const nullable = position.label === 'nullable field'
  const data = [...writer.values.map((v) => ({ v: position.datum(v) })), ...(nullable ? [{ v: null }] : [])]
  const results = await decodeAll(writerSchema, readerSchema, data)
  if (outcome.kind === 'refuse') {
    for (const r of results) {
      // Named by field, with the writer's logical type and the reader's.
      const named =
        !r.ok && /field v/.test(r.detail) && r.detail.includes(describedAs(writer)) && r.detail.includes(describedAs(reader))
      if (r.ok || r.reason !== 'schema_mismatch' || !named)
        return `expected a schema_mismatch naming field v, ${describedAs(writer)} and ${describedAs(reader)}; got ${inspect(plainEvent(r))}`
    }
    return undefined
  }
  const expected = data.map((d, i) => {
    if (d.v === null) return { v: null }
    const plain = plainRead(writer, reader, writer.values[i])
    return { v: position.read(outcome.kind === 'convert' ? outcome.apply(plain as number) : plain) }
  })
  const actual = results.map(plainEvent)
  return isDeepStrictEqual(actual, expected)
    ? undefined
    : `expected ${inspect(expected)} (${outcome.kind}), got ${inspect(actual)}`
}

void describe('a writer logical type against the source schema’s, every pair', () => {
  for (const position of POSITIONS) {
    const pairs = VARIANTS.flatMap((writer) =>
      VARIANTS.filter((reader) => avscResolves(writer, reader)).map((reader) => ({ position, writer, reader })),
    )
    void test(`${position.label}: each of ${pairs.length} pairs decodes to its documented outcome`, async () => {
      // The class holds every kind of outcome.
      assert.deepEqual([...new Set(pairs.map((p) => expectedOutcome(p.writer, p.reader).kind))].sort(), [
        'convert',
        'refuse',
        'same',
      ])
      const problems: string[] = []
      for (const pair of pairs) {
        const problem = await pairProblem(pair)
        if (problem !== undefined) problems.push(`${pair.writer.label} read as ${pair.reader.label}: ${problem}`)
      }
      assert.deepEqual(problems, [])
    })
  }
})

const TS = (logicalType: string) => ({ type: 'long', logicalType })

void describe('a logical type conversion at the edges', () => {
  void test('a finer unit whose value no long holds is refused per record, naming the field', async () => {
    const writer = recordOf(TS('timestamp-millis'))
    const [big, small] = await decodeAll(writer, recordOf(TS('timestamp-nanos')), [{ v: 9_300_000_000_000n }, { v: 1 }])
    assert.equal(big?.ok, false)
    assert.ok(big !== undefined && !big.ok)
    assert.equal(big.reason, 'schema_mismatch')
    assert.match(
      big.detail,
      /field v: the writer's timestamp-millis .* does not fit a long as the source schema's timestamp-nanos/,
    )
    assert.deepEqual(small && plainEvent(small), { v: 1_000_000 })
  })

  void test('a long beyond ±2^53 (the wide flavour) converts exactly, down to the floor', async () => {
    const values = [2n ** 62n + 999n, -(2n ** 62n) - 1n]
    const results = await decodeAll(
      recordOf(TS('timestamp-nanos')),
      recordOf(TS('timestamp-micros')),
      values.map((v) => ({ v })),
    )
    // Safe after conversion, so numbers, as the wide long decodes a safe value.
    assert.deepEqual(results.map(plainEvent), [
      { v: Number((2n ** 62n + 999n) / 1000n) },
      { v: Number(-(2n ** 62n) / 1000n - 1n) },
    ])
  })

  void test('a wrapped union (two number branches) converts inside its branch', async () => {
    const reader = recordOf(['null', TS('timestamp-millis'), 'int'])
    const results = await decodeAll(recordOf(['null', TS('timestamp-micros')]), reader, [{ v: 1_500 }, { v: null }])
    assert.deepEqual(JSON.parse(JSON.stringify(results.map(plainEvent))), [{ v: { long: 1 } }, { v: null }])
  })

  void test('a recursive record converts at every depth', async () => {
    const node = (t: string) => ({
      type: 'record',
      name: 'Node',
      fields: [
        { name: 't', type: TS(t) },
        { name: 'next', type: ['null', 'Node'], default: null },
      ],
    })
    const datum = { v: { t: 3_000, next: { t: -1, next: null } } }
    const [r] = await decodeAll(recordOf(node('timestamp-micros')), recordOf(node('timestamp-millis')), [datum])
    assert.deepEqual(JSON.parse(JSON.stringify(r && plainEvent(r))), { v: { t: 3, next: { t: -1, next: null } } })
  })

  void test('writer union branches read into one value but needing different conversions are refused', async () => {
    const writer = recordOf([{ type: 'int', logicalType: 'time-millis' }, TS('time-micros')])
    const decoder = createDecoder({ registry: registryOf([writer]), readerSchema: recordOf(TS('time-micros')) as AvroSchema })
    // Branch 0 (the int), 5: zigzag varints.
    const r = await decoder.decode(framed(1, Buffer.from([0x00, 0x0a])))
    assert.ok(!r.ok)
    assert.equal(r.reason, 'schema_mismatch')
    assert.match(r.detail, /field v: the writer's union branches .* different conversions/)
  })

  void test('a field renamed by alias is converted and named by the source schema', async () => {
    const reader = { type: 'record', name: 'Event', fields: [{ name: 'at', aliases: ['ts'], type: TS('timestamp-millis') }] }
    const w = { type: 'record', name: 'Event', fields: [{ name: 'ts', type: TS('timestamp-micros') }] }
    const [r] = await decodeAll(w, reader, [{ ts: 2_999 }])
    assert.deepEqual(r && plainEvent(r), { at: 2 })
    const [refused] = await decodeAll({ ...w, fields: [{ name: 'ts', type: TS('local-timestamp-micros') }] }, reader, [{ ts: 1 }])
    assert.ok(refused !== undefined && !refused.ok)
    assert.match(
      refused.detail,
      /field at: the writer's local-timestamp-micros cannot be read as the source schema's timestamp-millis/,
    )
  })
})
