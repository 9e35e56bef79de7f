/**
 * Producers move to a new writer schema while the source's reader schema stays: every kind of
 * evolution (field added, removed, promoted, renamed by alias, enum symbol added, union widened,
 * bytes ↔ string, incompatible changes, an unknown id), its records mixed with the old writer's in
 * one partition. Each record decodes to the reader's shape or is refused with its reason — never
 * a throw, never a record silently read wrong — and the outcome is the same whether the partition
 * is read live (one long-lived decoder, in small batches and one by one) or replayed (a fresh
 * decoder, one batch): the decoder holds no state that changes an answer.
 *
 * The UTF-8 check follows the reader (schemas/utf8-check.ts): a writer's `bytes` the reader
 * promotes to `string` decoded invalid bytes to U+FFFD and was accepted (two byte keys became one
 * entity); a field renamed with an alias was named by its writer name, so an invalid join key was
 * dead-lettered invalid_utf8, not invalid_key; and a writer string the reader reads as `bytes`, or
 * skips, was refused invalid_utf8 when another string held a genuine U+FFFD.
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import avro from 'avsc'
import { createDecoder, type DecodeResult } from '../../../schemas/decoder.ts'
import { decodeFailureLetter } from '../../../engine/partition-processor.ts'
import type { AvroSchema, SchemaRegistry } from '../../../ports/schema-registry.ts'
import type { LogRecord } from '../../../ports/event-log.ts'
import { SourceError } from '../../../core/errors.ts'
import { testEntity, testSource, testView } from '../operators/defs.ts'

type Field = { readonly name: string; readonly type: unknown; readonly default?: unknown; readonly aliases?: readonly string[] }

const READER_FIELDS: readonly Field[] = [
  { name: 'user_id', type: 'string' },
  { name: 'ts', type: { type: 'long', logicalType: 'timestamp-millis' } },
  { name: 'amount', type: 'double' },
  { name: 'qty', type: 'long' },
  { name: 'status', type: { type: 'enum', name: 'Status', symbols: ['NEW', 'PAID'], default: 'NEW' } },
  { name: 'coupon', type: ['null', 'string'], default: null },
  { name: 'item', type: 'string', aliases: ['sku'] },
  { name: 'channel', type: 'string', default: 'web' },
  { name: 'blob', type: 'bytes', default: '' },
  { name: 'tags', type: { type: 'array', items: 'string' }, default: [] },
  { name: 'attrs', type: { type: 'map', values: 'string' }, default: {} },
]
const record = (fields: readonly Field[], name = 'Purchase') => ({ type: 'record', name, fields })
const READER = record(READER_FIELDS)

/** The reader's fields with some replaced (by name; `undefined` drops one) or added at the end. */
function writer(changes: Record<string, Field | undefined>, name?: string) {
  const kept = READER_FIELDS.filter((f) => !(f.name in changes)).map((f) => ({ ...f }))
  const added = Object.values(changes).filter((f): f is Field => f !== undefined)
  return record([...kept, ...added], name)
}
const plain = (f: Field): Field => ({ name: f.name, type: f.type })

const BASE = {
  user_id: 'alice',
  ts: 1_000,
  amount: 2.5,
  qty: 3,
  status: 'PAID',
  coupon: null,
  item: 'i1',
  channel: 'app',
  blob: Buffer.from('b'),
  tags: ['t'],
  attrs: { k: 'v' },
}
/** What the reader makes of BASE, before a case's changes. */
const READ = { ...BASE }

interface Value {
  readonly event: Record<string, unknown>
  /** Replace the bytes of this marker string in the body (same length): invalid UTF-8 on the wire. */
  readonly patch?: { readonly marker: string; readonly bytes: readonly number[] }
  /** The decoded event (the reader's shape), or the refusal: decode reason, its field, the dead letter's reason. */
  readonly expect: Record<string, unknown> | { readonly reason: string; readonly field?: string; readonly letter: string }
}

interface Evolution {
  readonly schema: object | undefined
  readonly values: readonly Value[]
}

const INVALID = [0xff, 0xfe]
/** BASE as a writer with bytes for its array items, map values and nullable string writes it. */
const BYTES = { ...BASE, tags: [Buffer.from('a')], attrs: { k: Buffer.from('v') } }
const EVOLUTIONS: Record<string, Evolution> = {
  'the reader schema itself': { schema: READER, values: [{ event: BASE, expect: READ }] },
  'a field added (with a default)': {
    schema: writer({ note: { name: 'note', type: 'string', default: '' } }),
    values: [{ event: { ...BASE, note: 'hello' }, expect: READ }],
  },
  'a field removed that the reader defaults': {
    schema: writer({ channel: undefined }),
    values: [{ event: BASE, expect: { ...READ, channel: 'web' } }],
  },
  'a field removed whose writer default differs from the reader default': {
    schema: writer({ channel: undefined, coupon: { name: 'coupon', type: ['string', 'null'], default: 'WELCOME' } }),
    values: [
      { event: { ...BASE, coupon: 'X' }, expect: { ...READ, channel: 'web', coupon: 'X' } },
      { event: { ...BASE, coupon: null }, expect: { ...READ, channel: 'web', coupon: null } },
    ],
  },
  'int → long': {
    schema: writer({ qty: { name: 'qty', type: 'int' } }),
    values: [{ event: { ...BASE, qty: -7 }, expect: { ...READ, qty: -7 } }],
  },
  'float → double': {
    schema: writer({ amount: { name: 'amount', type: 'float' } }),
    values: [{ event: { ...BASE, amount: 1.5 }, expect: { ...READ, amount: 1.5 } }],
  },
  'long → double': {
    schema: writer({ amount: { name: 'amount', type: 'long' } }),
    values: [{ event: { ...BASE, amount: 2 ** 40 }, expect: { ...READ, amount: 2 ** 40 } }],
  },
  'an enum symbol added (the reader has a default)': {
    schema: writer({ status: { name: 'status', type: { type: 'enum', name: 'Status', symbols: ['NEW', 'PAID', 'REFUNDED'] } } }),
    values: [
      { event: { ...BASE, status: 'REFUNDED' }, expect: { ...READ, status: 'NEW' } },
      { event: BASE, expect: READ },
    ],
  },
  'a field renamed, the reader naming the old name as an alias': {
    schema: writer({ item: undefined, sku: { name: 'sku', type: 'string' } }),
    values: [
      { event: { ...BASE, sku: 'i9' }, expect: { ...READ, item: 'i9' } },
      // The path names the reader's field, so a view keyed by item knows its key is invalid.
      {
        event: { ...BASE, sku: 'i~' },
        patch: { marker: 'i~', bytes: INVALID },
        expect: { reason: 'invalid_utf8', field: 'item', letter: 'invalid_key' },
      },
    ],
  },
  'bytes → string (the reader promotes)': {
    schema: writer({ user_id: { name: 'user_id', type: 'bytes' } }),
    values: [
      { event: { ...BASE, user_id: Buffer.from('bob') }, expect: { ...READ, user_id: 'bob' } },
      { event: { ...BASE, user_id: Buffer.from('b\uFFFD', 'utf8') }, expect: { ...READ, user_id: 'b\uFFFD' } },
      {
        event: { ...BASE, user_id: Buffer.from([0x62, ...INVALID]) },
        expect: { reason: 'invalid_utf8', field: 'user_id', letter: 'invalid_key' },
      },
      {
        event: { ...BASE, user_id: Buffer.from([0x62, 0xfe, 0xff]) },
        expect: { reason: 'invalid_utf8', field: 'user_id', letter: 'invalid_key' },
      },
    ],
  },
  'bytes → string in an array, a map and a union': {
    schema: writer({
      tags: { name: 'tags', type: { type: 'array', items: 'bytes' } },
      attrs: { name: 'attrs', type: { type: 'map', values: 'bytes' } },
      coupon: { name: 'coupon', type: ['null', 'bytes'], default: null },
    }),
    values: [
      {
        event: { ...BYTES, coupon: Buffer.from('c') },
        expect: { ...READ, tags: ['a'], attrs: { k: 'v' }, coupon: 'c' },
      },
      {
        event: { ...BYTES, tags: [Buffer.from('a'), Buffer.from(INVALID)] },
        expect: { reason: 'invalid_utf8', field: 'tags[1]', letter: 'invalid_utf8' },
      },
      {
        event: { ...BYTES, attrs: { k: Buffer.from(INVALID) } },
        expect: { reason: 'invalid_utf8', field: 'attrs{k}', letter: 'invalid_utf8' },
      },
      {
        event: { ...BYTES, coupon: Buffer.from(INVALID) },
        expect: { reason: 'invalid_utf8', field: 'coupon', letter: 'invalid_utf8' },
      },
    ],
  },
  'string → bytes (the reader takes raw bytes)': {
    schema: writer({ blob: { name: 'blob', type: 'string' } }),
    values: [
      { event: { ...BASE, blob: 'ok' }, expect: { ...READ, blob: Buffer.from('ok') } },
      // Not a string to the reader: its bytes are kept as sent, even beside a genuine U+FFFD.
      {
        event: { ...BASE, user_id: 'a\uFFFD', blob: '~~' },
        patch: { marker: '~~', bytes: INVALID },
        expect: { ...READ, user_id: 'a\uFFFD', blob: Buffer.from(INVALID) },
      },
    ],
  },
  'a writer field the reader skips holds invalid bytes': {
    schema: writer({ note: { name: 'note', type: 'string' } }),
    values: [
      {
        event: { ...BASE, user_id: 'a\uFFFD', note: '~~' },
        patch: { marker: '~~', bytes: INVALID },
        expect: { ...READ, user_id: 'a\uFFFD' },
      },
    ],
  },
  'a union widened (judged per schema: every record of that writer)': {
    schema: writer({ coupon: { name: 'coupon', type: ['null', 'string', 'int'], default: null } }),
    values: [
      { event: BASE, expect: { reason: 'schema_mismatch', letter: 'schema_mismatch' } },
      { event: { ...BASE, coupon: 5 }, expect: { reason: 'schema_mismatch', letter: 'schema_mismatch' } },
    ],
  },
  'a type changed incompatibly (double → string)': {
    schema: writer({ amount: { name: 'amount', type: 'string' } }),
    values: [{ event: { ...BASE, amount: '2.5' }, expect: { reason: 'schema_mismatch', letter: 'schema_mismatch' } }],
  },
  'a narrowing (double written, long read)': {
    schema: writer({ qty: { name: 'qty', type: 'double' } }),
    values: [{ event: { ...BASE, qty: 3 }, expect: { reason: 'schema_mismatch', letter: 'schema_mismatch' } }],
  },
  'a required field dropped (no reader default)': {
    schema: writer({ qty: undefined }),
    values: [{ event: BASE, expect: { reason: 'schema_mismatch', letter: 'schema_mismatch' } }],
  },
  'a nullable field made required by the reader (string ← [null, string])': {
    schema: writer({ item: { name: 'item', type: ['null', 'string'] } }),
    values: [{ event: BASE, expect: { reason: 'schema_mismatch', letter: 'schema_mismatch' } }],
  },
  'the record renamed': {
    schema: record(READER_FIELDS.map(plain), 'Order'),
    values: [{ event: BASE, expect: { reason: 'schema_mismatch', letter: 'schema_mismatch' } }],
  },
  'an unknown schema id': {
    schema: undefined,
    values: [{ event: BASE, expect: { reason: 'unknown_schema', letter: 'unknown_schema' } }],
  },
}

const names = Object.keys(EVOLUTIONS)
const idOf = (name: string) => names.indexOf(name) + 1

function registry(state: { down: boolean } = { down: false }): SchemaRegistry {
  return {
    register: async () => 1,
    getById: async (id) => {
      if (state.down) throw new SourceError('SOURCE_UNAVAILABLE', 'schema registry unreachable: connect ECONNREFUSED')
      return EVOLUTIONS[names[id - 1] ?? '']?.schema as AvroSchema | undefined
    },
    latest: async () => undefined,
  }
}

/** Wire bytes, built by avsc itself and hand-made Confluent framing (independent of the decoder). */
function wire(name: string, value: Value): Buffer {
  const schema = EVOLUTIONS[name]!.schema ?? READER
  const body = avro.Type.forSchema(schema as avro.Schema).toBuffer(value.event)
  if (value.patch !== undefined) {
    const at = body.indexOf(Buffer.from(value.patch.marker, 'utf8'))
    assert.ok(at >= 0 && value.patch.bytes.length === Buffer.byteLength(value.patch.marker))
    Buffer.from(value.patch.bytes).copy(body, at)
  }
  const header = Buffer.alloc(5)
  header.writeUInt32BE(idOf(name), 1)
  return Buffer.concat([header, body])
}

/** One partition: the reader's own records interleaved with every evolution's, in a fixed order. */
const PARTITION = names.flatMap((name) =>
  EVOLUTIONS[name]!.values.flatMap((value) => [
    { name: names[0]!, value: EVOLUTIONS[names[0]!]!.values[0]! },
    { name, value },
  ]),
)
const VALUES = PARTITION.map((r) => wire(r.name, r.value))

const source = testSource({ topic: 'purchases', schema: READER as never })
const views = [
  testView({ name: 'by_user', source, entity: testEntity(['user_id']), features: [{ op: 'count', windowMs: null }] }),
  testView({ name: 'by_item', source, entity: testEntity(['item']), features: [{ op: 'count', windowMs: null }] }),
]

/** A decode result as plain data: buffers as hex, avsc's record class as a plain object. */
function plainResult(r: DecodeResult): unknown {
  if (!r.ok) return { reason: r.reason, field: r.field }
  return JSON.parse(
    JSON.stringify({ ...r.event }, (_k, v: unknown) =>
      v instanceof Object && (v as { type?: string }).type === 'Buffer'
        ? `hex:${Buffer.from((v as { data: number[] }).data).toString('hex')}`
        : v,
    ),
  )
}

function expected(value: Value): unknown {
  if ('reason' in value.expect && typeof value.expect.reason === 'string' && 'letter' in value.expect) {
    return { reason: value.expect.reason, field: value.expect.field }
  }
  return plainResult({ ok: true, event: value.expect as Record<string, unknown>, schemaId: 0 })
}

function letterOf(r: DecodeResult, i: number): string | undefined {
  if (r.ok) return undefined
  const rec: LogRecord = {
    topic: source.topic,
    partition: 0,
    offset: String(i),
    key: null,
    value: VALUES[i]!,
    timestampMs: 0,
    headers: {},
  }
  return decodeFailureLetter({ topic: source.topic, partition: 0 }, source, views, rec, r).reason
}

void describe('schemas: writer schema evolution against the source schema', () => {
  void test('every kind of evolution, mixed in one partition, decodes to the reader or is refused with its reason', async () => {
    const results = await createDecoder({ registry: registry(), readerSchema: READER as never }).decodeBatch(VALUES)
    // Compared whole, so a failure lists every case that went wrong.
    const got = PARTITION.map(({ name }, i) => ({
      case: name,
      record: i,
      result: plainResult(results[i]!),
      letter: letterOf(results[i]!, i),
    }))
    const want = PARTITION.map(({ name, value }, i) => ({
      case: name,
      record: i,
      result: expected(value),
      letter: 'letter' in value.expect ? value.expect.letter : undefined,
    }))
    assert.deepEqual(got, want)
  })

  void test('live (one decoder, small batches and single records) and replay (a fresh decoder, one batch) agree record for record', async () => {
    const replay = (await createDecoder({ registry: registry(), readerSchema: READER as never }).decodeBatch(VALUES)).map(
      plainResult,
    )
    for (const batchSize of [1, 2, 3, 7]) {
      const live = createDecoder({ registry: registry(), readerSchema: READER as never })
      const got: unknown[] = []
      for (let at = 0; at < VALUES.length; at += batchSize) {
        const batch = VALUES.slice(at, at + batchSize)
        got.push(...(batchSize === 1 ? [await live.decode(batch[0]!)] : await live.decodeBatch(batch)).map(plainResult))
      }
      assert.deepEqual(got, replay, `batches of ${batchSize}`)
    }
  })

  void test('an unreachable registry is retried, not dead-lettered: the same batch decodes as usual once it answers', async () => {
    const state = { down: true }
    const decoder = createDecoder({ registry: registry(state), readerSchema: READER as never })
    await assert.rejects(decoder.decodeBatch(VALUES), (err: unknown) => err instanceof SourceError && err.retriable)
    state.down = false
    const after = (await decoder.decodeBatch(VALUES)).map(plainResult)
    assert.deepEqual(
      after,
      (await createDecoder({ registry: registry(), readerSchema: READER as never }).decodeBatch(VALUES)).map(plainResult),
    )
  })
})
