/**
 * Debezium JSON changes decode to the same envelope as Avro changes (docs/design.md §11), and bad
 * values fail with the Avro decoder's reasons.
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import avro from 'avsc'
import { changeEnvelopeSchema } from '../../../features/change-envelope.ts'
import type { AvroRecordSchema } from '../../../features/types.ts'
import { createChangeJsonDecoder, JSON_SCHEMA_ID } from '../../../schemas/change-json-decoder.ts'
import { parseDebeziumLine } from '../../../schemas/debezium-json.ts'

const rowSchema: AvroRecordSchema = {
  type: 'record',
  name: 'Account',
  namespace: 'shop',
  fields: [
    { name: 'id', type: 'long' },
    { name: 'region', type: ['null', 'string'], default: null },
    { name: 'balance', type: 'double' },
    { name: 'active', type: 'boolean' },
    { name: 'tier', type: { type: 'enum', name: 'Tier', symbols: ['FREE', 'PRO'] } },
    { name: 'opened_at', type: { type: 'long', logicalType: 'timestamp-millis' } },
    { name: 'tags', type: { type: 'array', items: 'string' }, default: [] },
    { name: 'visits', type: 'int' },
  ],
}

const row = { id: 7, region: 'eu', balance: 12.5, active: true, tier: 'PRO', opened_at: 1_700_000_000_000, tags: ['a'], visits: 3 }
const row2 = { ...row, balance: 20, region: null }

const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s)
const json = (v: unknown): Uint8Array => utf8(JSON.stringify(v))
const decoder = createChangeJsonDecoder({ rowSchema })
const decode = (v: Uint8Array | null) => decoder.decode(v)

void describe('schemas > change JSON decoder', () => {
  const good: { name: string; message: unknown; event: Record<string, unknown> }[] = [
    { name: 'c without wrapper', message: { op: 'c', before: null, after: row, ts_ms: 5 }, event: { op: 'c', before: null, after: row, ts_ms: 5, snapshot: null } },
    { name: 'r (snapshot read)', message: { op: 'r', after: row, ts_ms: 5 }, event: { op: 'r', before: null, after: row, ts_ms: 5, snapshot: null } },
    { name: 'u with both images', message: { op: 'u', before: row, after: row2, ts_ms: 9 }, event: { op: 'u', before: row, after: row2, ts_ms: 9, snapshot: null } },
    { name: 'd', message: { op: 'd', before: row, after: null, ts_ms: 9 }, event: { op: 'd', before: row, after: null, ts_ms: 9, snapshot: null } },
    {
      name: '{schema, payload} wrapper',
      message: { schema: { type: 'struct' }, payload: { op: 'c', before: null, after: row, ts_ms: 5 } },
      event: { op: 'c', before: null, after: row, ts_ms: 5, snapshot: null },
    },
    {
      name: 'source.ts_ms wins over ts_ms',
      message: { op: 'c', after: row, source: { ts_ms: 3, db: 'shop', snapshot: 'false' }, ts_ms: 5 },
      event: { op: 'c', before: null, after: row, ts_ms: 3, snapshot: null },
    },
    { name: 'source.ts_ms null: ts_ms', message: { op: 'c', after: row, source: { ts_ms: null }, ts_ms: 5 }, event: { op: 'c', before: null, after: row, ts_ms: 5, snapshot: null } },
    // A connector writes 0 where it does not know the commit time: no 1970 commit, ts_ms stands in.
    { name: 'source.ts_ms 0: ts_ms', message: { op: 'r', after: row, source: { ts_ms: 0, snapshot: 'true' }, ts_ms: 5 }, event: { op: 'r', before: null, after: row, ts_ms: 5, snapshot: null } },
    {
      name: 'extra columns dropped, missing nullable/defaulted filled, order of the schema',
      message: { op: 'c', after: { visits: 3, extra: 'x', id: 7, balance: 12.5, active: true, tier: 'PRO', opened_at: 1_700_000_000_000 }, ts_ms: 5 },
      event: { op: 'c', before: null, after: { ...row, region: null, tags: [] }, ts_ms: 5, snapshot: null },
    },
    { name: 'unknown op kept as given', message: { op: 't', ts_ms: 5 }, event: { op: 't', before: null, after: null, ts_ms: 5, snapshot: null } },
    { name: 'a double given as an integer', message: { op: 'c', after: { ...row, balance: 3 }, ts_ms: 5 }, event: { op: 'c', before: null, after: { ...row, balance: 3 }, ts_ms: 5, snapshot: null } },
  ]
  for (const c of good) {
    void test(`decodes ${c.name}`, async () => {
      assert.deepEqual(await decode(json(c.message)), { ok: true, event: c.event, schemaId: JSON_SCHEMA_ID })
    })
  }

  void test('the event equals the Avro-decoded envelope of the same change, key order included', async () => {
    const type = avro.Type.forSchema(changeEnvelopeSchema(rowSchema) as avro.Schema)
    const envelope = { op: 'u', before: row, after: row2, ts_ms: 9, snapshot: null }
    const fromAvro = structuredClone(type.fromBuffer(type.toBuffer(envelope)) as unknown)
    const fromJson = await decode(json({ op: 'u', before: { ...row }, after: Object.fromEntries(Object.entries(row2).reverse()), ts_ms: 9 }))
    assert.ok(fromJson.ok)
    assert.deepEqual(fromJson.event, fromAvro)
    assert.equal(JSON.stringify(fromJson.event), JSON.stringify(fromAvro))
  })

  const bad: { name: string; value: Uint8Array | null; reason: string; detail: string | RegExp; field?: string }[] = [
    { name: 'null value (tombstone)', value: null, reason: 'undecodable', detail: 'the record has no value (tombstone)' },
    { name: 'not JSON', value: utf8('{"op": "c",'), reason: 'undecodable', detail: /^not JSON: / },
    { name: 'not an object', value: json([1, 2]), reason: 'undecodable', detail: 'a change message is a JSON object, got an array' },
    { name: 'wrapper with null payload', value: json({ schema: {}, payload: null }), reason: 'undecodable', detail: /payload .* is null, not an object/ },
    { name: 'op missing', value: json({ after: row, ts_ms: 5 }), reason: 'schema_mismatch', detail: 'op is missing, not a string' },
    { name: 'op a number', value: json({ op: 1, after: row, ts_ms: 5 }), reason: 'schema_mismatch', detail: 'op is number 1, not a string' },
    { name: 'no commit time', value: json({ op: 'c', after: row }), reason: 'schema_mismatch', detail: 'the commit time is missing (neither source.ts_ms nor ts_ms)' },
    { name: 'fractional ts_ms', value: json({ op: 'c', after: row, ts_ms: 1.5 }), reason: 'schema_mismatch', detail: 'ts_ms is number 1.5, not epoch milliseconds within ±2^53' },
    { name: 'ts_ms 0', value: json({ op: 'c', after: row, ts_ms: 0 }), reason: 'schema_mismatch', detail: /^the commit time is unknown: ts_ms is 0, .*not a 1970 commit/ },
    { name: 'ts_ms -0', value: utf8(`{"op":"c","after":${JSON.stringify(row)},"ts_ms":-0}`), reason: 'schema_mismatch', detail: /^the commit time is unknown: ts_ms is 0/ },
    { name: 'source.ts_ms and ts_ms 0', value: json({ op: 'c', after: row, source: { ts_ms: 0 }, ts_ms: 0 }), reason: 'schema_mismatch', detail: /^the commit time is unknown: source\.ts_ms and ts_ms are 0/ },
    { name: 'source.ts_ms 0 without ts_ms', value: json({ op: 'c', after: row, source: { ts_ms: 0 } }), reason: 'schema_mismatch', detail: 'the commit time is missing (source.ts_ms is 0, and there is no ts_ms)' },
    { name: 'source.ts_ms -0 without ts_ms', value: utf8(`{"op":"c","after":${JSON.stringify(row)},"source":{"ts_ms":-0}}`), reason: 'schema_mismatch', detail: 'the commit time is missing (source.ts_ms is 0, and there is no ts_ms)' },
    { name: 'string source.ts_ms', value: json({ op: 'c', after: row, source: { ts_ms: '3' }, ts_ms: 5 }), reason: 'schema_mismatch', detail: 'source.ts_ms is the string "3", not epoch milliseconds within ±2^53' },
    { name: 'missing required field', value: json({ op: 'c', after: { ...row, balance: undefined }, ts_ms: 5 }), reason: 'schema_mismatch', detail: 'after.balance is missing (the row schema requires it)' },
    { name: 'image not an object', value: json({ op: 'd', before: 'x', ts_ms: 5 }), reason: 'schema_mismatch', detail: 'before is the string "x", not an object (a row)' },
    { name: 'NaN as a string', value: json({ op: 'c', after: { ...row, balance: 'NaN' }, ts_ms: 5 }), reason: 'schema_mismatch', detail: 'after.balance is the string "NaN", not a double' },
    { name: 'long beyond 2^53', value: utf8(`{"op":"c","after":${JSON.stringify(row).replace('"id":7', '"id":9007199254740993')},"ts_ms":5}`), reason: 'schema_mismatch', detail: /^after\.id is number 9007199254740992, beyond ±2\^53/ },
    { name: 'int out of range', value: json({ op: 'c', after: { ...row, visits: 2 ** 31 }, ts_ms: 5 }), reason: 'schema_mismatch', detail: 'after.visits is number 2147483648, not an int' },
    { name: 'unknown enum symbol', value: json({ op: 'c', after: { ...row, tier: 'GOLD' }, ts_ms: 5 }), reason: 'schema_mismatch', detail: 'after.tier is the string "GOLD", not one of the symbols FREE, PRO' },
    { name: 'null in a non-nullable field', value: json({ op: 'c', after: { ...row, active: null }, ts_ms: 5 }), reason: 'schema_mismatch', detail: 'after.active is null, not a boolean' },
    { name: 'wrong type in a nullable union', value: json({ op: 'c', after: { ...row, region: 4 }, ts_ms: 5 }), reason: 'schema_mismatch', detail: 'after.region is number 4, not a string' },
    { name: 'wrong array item', value: json({ op: 'c', after: { ...row, tags: ['a', 1] }, ts_ms: 5 }), reason: 'schema_mismatch', detail: 'after.tags[1] is number 1, not a string' },
    {
      name: 'invalid UTF-8 in a kept string',
      value: Buffer.concat([utf8('{"op":"c","ts_ms":5,"after":'), utf8(`${JSON.stringify(row).replace('"eu"', '"e\u0000"')}}`).map((b) => (b === 0 ? 0xff : b))]),
      reason: 'invalid_utf8',
      detail: 'field after.region is not valid UTF-8',
      field: 'after.region',
    },
    {
      name: 'a truncated multi-byte sequence in an array item',
      value: Buffer.concat([utf8(`{"op":"c","ts_ms":5,"after":${JSON.stringify({ ...row, tags: ['ok', 'x'] }).replace('"x"', '"x\u0000"')}}`).map((b) => (b === 0 ? 0xe2 : b))]),
      reason: 'invalid_utf8',
      detail: 'field after.tags[1] is not valid UTF-8',
      field: 'after.tags[1]',
    },
    { name: 'a lone surrogate escape', value: utf8(`{"op":"c","ts_ms":5,"after":${JSON.stringify(row).replace('"eu"', '"\\ud800"')}}`), reason: 'invalid_utf8', detail: /^field after\.region is not valid UTF-8/, field: 'after.region' },
    { name: 'invalid UTF-8 outside a string', value: new Uint8Array([0x7b, 0xff, 0x7d]), reason: 'undecodable', detail: /^not JSON/ },
  ]
  for (const c of bad) {
    void test(`refuses ${c.name}: ${c.reason}`, async () => {
      const out = await decode(c.value)
      assert.equal(out.ok, false)
      if (out.ok) return
      assert.equal(out.reason, c.reason)
      if (typeof c.detail === 'string') assert.equal(out.detail, c.detail)
      else assert.match(out.detail, c.detail)
      assert.equal(out.field, c.field)
    })
  }

  void test('-0 in an integer place decodes to 0, as from Avro (zig-zag has no negative zero); a double keeps its sign', async () => {
    const type = avro.Type.forSchema(changeEnvelopeSchema(rowSchema) as avro.Schema)
    const places: { name: string; text: string; path: (e: Record<string, unknown>) => unknown }[] = [
      { name: 'a long', text: '"id":-0', path: (e) => (e.after as typeof row).id },
      { name: 'an int', text: '"visits":-0', path: (e) => (e.after as typeof row).visits },
      { name: 'a timestamp-millis', text: '"opened_at":-0', path: (e) => (e.after as typeof row).opened_at },
      { name: 'a long written -0.0', text: '"id":-0.0', path: (e) => (e.after as typeof row).id },
      { name: 'a long written -0e5', text: '"id":-0e5', path: (e) => (e.after as typeof row).id },
      { name: 'a double', text: '"balance":-0', path: (e) => (e.after as typeof row).balance },
    ]
    for (const p of places) {
      const base = { ...row, id: 1, visits: 1, opened_at: 1, balance: 1 }
      const key = p.text.slice(1, p.text.indexOf('"', 1))
      const text = JSON.stringify({ op: 'c', before: null, after: base, ts_ms: 1 }).replace(new RegExp(`"${key}":1(?=[,}])`), p.text)
      assert.ok(text.includes(p.text), p.name)
      const out = await decode(utf8(text))
      assert.ok(out.ok, `${p.name}: ${JSON.stringify(out)}`)
      const fromAvro = type.fromBuffer(type.toBuffer(out.event)) as Record<string, unknown>
      const got = p.path(out.event)
      const want = p.path(fromAvro)
      assert.ok(Object.is(Number(got), Number(want)), `${p.name}: JSON gives ${Object.is(got, -0) ? '-0' : String(got)}, Avro ${Object.is(Number(want), -0) ? '-0' : String(want)}`)
    }
  })

  void test('invalid UTF-8 in a dropped field does not refuse the change (as the Avro decoder)', async () => {
    const bytes = utf8(JSON.stringify({ op: 'c', after: row, source: { db: 'sh\u0000p' }, ts_ms: 5 })).map((b) => (b === 0 ? 0xc3 : b))
    const out = await decode(bytes)
    assert.deepEqual(out, { ok: true, event: { op: 'c', before: null, after: row, ts_ms: 5, snapshot: null }, schemaId: JSON_SCHEMA_ID })
  })

  void test('oversize values are refused before parsing', async () => {
    const small = createChangeJsonDecoder({ rowSchema, maxValueBytes: 10 })
    assert.deepEqual(await small.decode(utf8('{"op":"c"} ')), { ok: false, reason: 'oversize', detail: '11 bytes exceeds the 10-byte limit' })
    const big = new Uint8Array(1024 * 1024 + 1).fill(0x20)
    const out = await decoder.decode(big)
    assert.equal(out.ok ? 'decoded' : out.reason, 'oversize')
  })

  void test('decodeBatch keeps the order and the per-value results', async () => {
    const out = await decoder.decodeBatch([json({ op: 'c', after: row, ts_ms: 1 }), null, json({ op: 'd', before: row, ts_ms: 2 })])
    assert.deepEqual(out.map((r) => (r.ok ? r.event.op : r.reason)), ['c', 'undecodable', 'd'])
  })

  void test('parseDebeziumLine reads a changelog file line with the same code', () => {
    assert.deepEqual(parseDebeziumLine(JSON.stringify({ op: 'c', after: row, ts_ms: 5 }), rowSchema), { ok: true, event: { op: 'c', before: null, after: row, ts_ms: 5, snapshot: null } })
    assert.deepEqual(parseDebeziumLine('{"op":"c","ts_ms":5,"after":{"id":1}}', rowSchema), { ok: false, reason: 'schema_mismatch', detail: 'after.balance is missing (the row schema requires it)' })
  })

  void test('a row schema that is not Avro fails when the decoder is made', () => {
    assert.throws(() => createChangeJsonDecoder({ rowSchema: { type: 'record', name: 'R', fields: [{ name: 'x', type: 'Nope' }] } }), /unknown Avro type name Nope/)
  })
})
