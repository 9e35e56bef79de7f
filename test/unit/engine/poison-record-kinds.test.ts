/**
 * Every kind of poison record, through the real path decode → partition processor → task
 * (docs/semantics.md §1): each row is one bad record placed among good ones. For each we assert
 * that it is dead-lettered with the expected reason (and view) and a detail that says what is
 * wrong, that the good records' rows are exactly those of a run without it, and that nothing
 * throws.
 */
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { createDecoder, type DecodeResult } from '../../../schemas/decoder.ts'
import { createWideType } from '../../../schemas/avro-type.ts'
import type { AvroSchema, SchemaRegistry } from '../../../ports/schema-registry.ts'
import { createPartitionTask } from '../../../operators/task/partition-task.ts'
import { MAX_SUMMED_MAGNITUDE } from '../../../operators/aggregators/input-check.ts'
import type { EventRecord, FeatureViewDef } from '../../../features/types.ts'
import { decodeFailureLetter, PartitionProcessor } from '../../../engine/partition-processor.ts'
import type { DeadLetter } from '../../../ports/dead-letters.ts'
import type { LogRecord } from '../../../ports/event-log.ts'
import { testEntity, testSource, testView } from '../operators/defs.ts'

const schema = {
  type: 'record',
  name: 'Purchase',
  fields: [
    { name: 'user_id', type: ['null', 'string'] },
    { name: 'ts', type: { type: 'long', logicalType: 'timestamp-millis' } },
    { name: 'amount', type: 'double' },
    { name: 'qty', type: 'long' },
    { name: 'name', type: 'string' },
    { name: 'tags', type: { type: 'array', items: 'string' } },
    { name: 'attrs', type: { type: 'map', values: 'string' } },
  ],
} as const
/** A writer whose `amount` is a string: the reader cannot resolve it. */
const stringAmountSchema = {
  ...schema,
  fields: schema.fields.map((f) => (f.name === 'amount' ? { name: 'amount', type: 'string' } : f)),
}

const SCHEMA_ID = 1
const STRING_AMOUNT_ID = 2
const registry: SchemaRegistry = {
  register: async () => SCHEMA_ID,
  getById: async (id) => ({ [SCHEMA_ID]: schema, [STRING_AMOUNT_ID]: stringAmountSchema })[id] as AvroSchema | undefined,
  latest: async () => undefined,
}

const source = testSource({
  topic: 'purchases',
  schema: schema as never,
  eventTimeField: 'ts',
  outOfOrdernessMs: 0,
  allowedLatenessMs: 60_000,
})
const entity = testEntity(['user_id'])
const mainView = testView({
  name: 'spend',
  source,
  entity,
  features: [
    { op: 'sum', field: 'amount', windowMs: 60_000, hopMs: 10_000 },
    { op: 'avg', field: 'amount', windowMs: null },
    { op: 'max', field: 'amount', windowMs: 60_000, hopMs: 10_000 },
    { op: 'sum', field: 'qty', windowMs: null },
    { op: 'last', field: 'name', windowMs: null },
    { op: 'last_n', field: 'name', n: 3, windowMs: 60_000, hopMs: 10_000 },
    { op: 'approx_distinct', field: 'name', windowMs: null },
    { op: 'count', windowMs: 60_000, hopMs: 10_000 },
  ],
})
const mapView = testView({
  name: 'mapped',
  source,
  entity,
  features: [{ op: 'count', windowMs: null }],
  map: (e: EventRecord) => {
    if (e.amount === 13.13) throw new RangeError(`refusing amount ${String(e.amount)}: ${'x'.repeat(300)}`)
    return e
  },
})
const views = [mainView, mapView]

interface Purchase {
  user_id: string | null
  ts: number | bigint
  amount: number
  qty: number | bigint
  name: string
  tags: string[]
  attrs: Record<string, string>
}

const wide = createWideType(schema as never)
const wideStringAmount = createWideType(stringAmountSchema as never)

function framed(body: Buffer, id = SCHEMA_ID): Buffer {
  const header = Buffer.alloc(5)
  header.writeUInt32BE(id, 1)
  return Buffer.concat([header, body])
}

function purchase(p: Partial<Purchase>): Purchase {
  return { user_id: 'mallory', ts: 4_000, amount: 1, qty: 1, name: 'n', tags: [], attrs: {}, ...p }
}

/** Avro bytes of `p`, with `patch` (a marker string → other bytes of the same length) applied to the body. */
function encode(p: Purchase, patch?: { marker: string; bytes: number[] }): Buffer {
  const body = wide.toBuffer(p)
  if (patch !== undefined) {
    const at = body.indexOf(Buffer.from(patch.marker, 'utf8'))
    assert.ok(at >= 0 && patch.bytes.length === Buffer.byteLength(patch.marker))
    Buffer.from(patch.bytes).copy(body, at)
  }
  return framed(body)
}

const GOOD: Purchase[] = [
  purchase({ user_id: 'alice', ts: 1_000, amount: 10, qty: 2, name: 'book', tags: ['a'], attrs: { k: 'v' } }),
  purchase({ user_id: 'bob', ts: 2_000, amount: 5.5, qty: 1, name: 'pen' }),
  purchase({ user_id: 'alice', ts: 4_000, amount: MAX_SUMMED_MAGNITUDE, qty: 3, name: 'é'.repeat(2048) }),
  // (the poison record goes here, with ts 4_000: it cannot move the watermark either way)
  purchase({ user_id: 'alice', ts: 15_000, amount: -MAX_SUMMED_MAGNITUDE, qty: 4, name: 'lamp' }),
  purchase({ user_id: 'bob', ts: 75_000, amount: 1, qty: 1, name: 'cup' }),
  purchase({ user_id: 'alice', ts: 130_000, amount: 2, qty: 1, name: 'mug' }),
]
const POISON_AT = 3

interface Run {
  rows: Map<string, string[]>
  deadLetters: DeadLetter[]
}

async function run(values: (Buffer | null)[], options: { topic?: string; headers?: Record<string, string> } = {}): Promise<Run> {
  const topic = options.topic ?? source.topic
  const decoder = createDecoder({ registry, readerSchema: schema as never, maxValueBytes: 64 * 1024 })
  const records: LogRecord[] = values.map((value, i) => ({
    topic,
    partition: 0,
    offset: String(i),
    key: null,
    value,
    timestampMs: 0,
    headers: options.headers ?? {},
  }))
  const decoded: DecodeResult[] = await decoder.decodeBatch(records.map((r) => r.value))
  const out: Run = { rows: new Map(), deadLetters: [] }
  for (const view of views) {
    const processor = new PartitionProcessor({
      topic,
      partition: 0,
      source,
      task: createPartitionTask({ views: [view], source }),
      nextOffset: '0',
    })
    const result = processor.processRecords(records, decoded, 0)
    // Rows of good keys only (the poison record's own key, mallory…, may be taken by a view that accepts it).
    out.rows.set(
      view.name,
      result.rows
        .filter((r) => !r.entityKey.startsWith('mallory'))
        .map((r) => `${r.entityKey}@${r.asOfMs}:${JSON.stringify(r.values)}`),
    )
    out.deadLetters.push(...result.deadLetters)
  }
  decoded.forEach((d, i) => {
    if (!d.ok) out.deadLetters.push(decodeFailureLetter({ topic, partition: 0 }, source, views, records[i]!, d))
  })
  return out
}

interface PoisonCase {
  readonly name: string
  readonly value: () => Buffer | null
  /** Expected dead letters: reason, view (undefined: none named) and a pattern for the detail. */
  readonly expect: readonly { readonly reason: string; readonly view?: string; readonly detail: RegExp }[]
}

const both = (reason: string, detail: RegExp) => views.map((v: FeatureViewDef) => ({ reason, view: v.name, detail }))

const CASES: PoisonCase[] = [
  {
    name: 'amount that would overflow a sum (1.7e308)',
    value: () => encode(purchase({ amount: 1.7e308 })),
    expect: [{ reason: 'out_of_range', view: 'spend', detail: /field amount = 1\.7e\+308 is beyond ±2\^960/ }],
  },
  {
    name: 'amount just past 2^960',
    value: () => encode(purchase({ amount: MAX_SUMMED_MAGNITUDE * (1 + 2 ** -52) })),
    expect: [{ reason: 'out_of_range', view: 'spend', detail: /beyond ±2\^960/ }],
  },
  {
    name: 'amount NaN',
    value: () => encode(purchase({ amount: Number.NaN })),
    expect: [{ reason: 'out_of_range', view: 'spend', detail: /field amount is NaN; sum takes finite numbers only/ }],
  },
  {
    name: 'amount +Infinity',
    value: () => encode(purchase({ amount: Infinity })),
    expect: [{ reason: 'out_of_range', view: 'spend', detail: /field amount is Infinity/ }],
  },
  {
    name: 'amount −Infinity',
    value: () => encode(purchase({ amount: -Infinity })),
    expect: [{ reason: 'out_of_range', view: 'spend', detail: /field amount is -Infinity/ }],
  },
  {
    name: 'qty: a long beyond 2^53',
    value: () => encode(purchase({ qty: 2n ** 60n })),
    expect: [{ reason: 'out_of_range', view: 'spend', detail: /field qty = 1152921504606846976 is a long beyond ±2\^53/ }],
  },
  {
    name: 'name over 4096 bytes (ASCII)',
    value: () => encode(purchase({ name: 'x'.repeat(5000) })),
    expect: [
      { reason: 'oversize', view: 'spend', detail: /field name is a string of 5000 UTF-8 bytes, over the view's limit of 4096/ },
    ],
  },
  {
    name: 'name over 4096 bytes only in UTF-8 (2049 × é)',
    value: () => encode(purchase({ name: 'é'.repeat(2049) })),
    expect: [{ reason: 'oversize', view: 'spend', detail: /string of 4098 UTF-8 bytes/ }],
  },
  {
    name: 'record over the decoder size limit',
    value: () => encode(purchase({ name: 'x'.repeat(70_000) })),
    expect: [{ reason: 'oversize', detail: /bytes exceeds the 65536-byte limit/ }],
  },
  {
    name: 'key over 512 bytes',
    value: () => encode(purchase({ user_id: `mallory${'k'.repeat(600)}` })),
    expect: both('invalid_key', /join key user_id is longer than 512 bytes \(607 bytes\)/),
  },
  { name: 'empty key', value: () => encode(purchase({ user_id: '' })), expect: both('invalid_key', /join key user_id is empty/) },
  {
    name: 'key with a control character',
    value: () => encode(purchase({ user_id: 'mallory\u0000' })),
    expect: both('invalid_key', /control characters/),
  },
  {
    name: 'null key',
    value: () => encode(purchase({ user_id: null })),
    expect: both('missing_key', /join key user_id is missing/),
  },
  {
    name: 'key with invalid UTF-8 (a lone 0xff)',
    value: () => encode(purchase({ user_id: 'malloryX' }), { marker: 'malloryX', bytes: [...Buffer.from('mallory'), 0xff] }),
    expect: [{ reason: 'invalid_key', detail: /join key user_id is not valid UTF-8/ }],
  },
  {
    name: 'key with an overlong encoding (C0 AF for "/")',
    value: () =>
      encode(purchase({ user_id: 'malloryXY' }), { marker: 'malloryXY', bytes: [...Buffer.from('mallory'), 0xc0, 0xaf] }),
    expect: [{ reason: 'invalid_key', detail: /not valid UTF-8/ }],
  },
  {
    name: 'key with an encoded surrogate (ED A0 80)',
    value: () =>
      encode(purchase({ user_id: 'malloryXYZ' }), { marker: 'malloryXYZ', bytes: [...Buffer.from('mallory'), 0xed, 0xa0, 0x80] }),
    expect: [{ reason: 'invalid_key', detail: /not valid UTF-8/ }],
  },
  {
    name: 'value string with invalid UTF-8',
    value: () => encode(purchase({ name: 'zzXz' }), { marker: 'zzXz', bytes: [0x7a, 0x7a, 0xfe, 0x7a] }),
    expect: [{ reason: 'invalid_utf8', detail: /field name is not valid UTF-8/ }],
  },
  {
    name: 'array item with invalid UTF-8',
    value: () => encode(purchase({ tags: ['ok', 'tagX'] }), { marker: 'tagX', bytes: [0x74, 0x61, 0x67, 0x80] }),
    expect: [{ reason: 'invalid_utf8', detail: /field tags\[1\] is not valid UTF-8/ }],
  },
  {
    name: 'map key with invalid UTF-8',
    value: () => encode(purchase({ attrs: { keyX: 'v' } }), { marker: 'keyX', bytes: [0x6b, 0x65, 0x79, 0xff] }),
    expect: [{ reason: 'invalid_utf8', detail: /field attrs \(a map key\) is not valid UTF-8/ }],
  },
  {
    name: 'event time beyond 2^53',
    value: () => encode(purchase({ ts: 2n ** 60n })),
    expect: both('invalid_event_time', /ts = 1152921504606846976 is beyond ±2\^53 ms/),
  },
  {
    name: 'event time below −2^53',
    value: () => encode(purchase({ ts: -(2n ** 60n) })),
    expect: both('invalid_event_time', /ts = -1152921504606846976 is beyond ±2\^53 ms/),
  },
  {
    name: 'late event time',
    value: () => encode(purchase({ ts: -100_000 })),
    expect: both('late', /event time -100000 ≤ watermark/),
  },
  {
    name: 'map throws, with a message',
    value: () => encode(purchase({ amount: 13.13 })),
    expect: [{ reason: 'map_failed', view: 'mapped', detail: /^filter\/map threw RangeError: refusing amount 13\.13: x+…$/ }],
  },
  {
    name: 'writer schema with a wrong type (amount: string)',
    value: () => framed(wideStringAmount.toBuffer({ ...purchase({}), amount: '12' }), STRING_AMOUNT_ID),
    expect: [{ reason: 'schema_mismatch', detail: /writer schema cannot be read/ }],
  },
  {
    name: 'unknown schema id',
    value: () => framed(wide.toBuffer(purchase({})), 99),
    expect: [{ reason: 'unknown_schema', detail: /schema id 99 is not registered/ }],
  },
  {
    name: 'truncated body',
    value: () => encode(purchase({})).subarray(0, 12),
    expect: [{ reason: 'undecodable', detail: /truncated|invalid|trailing|RangeError|out of range/i }],
  },
  {
    name: 'trailing bytes',
    value: () => Buffer.concat([encode(purchase({})), Buffer.from([0])]),
    expect: [{ reason: 'undecodable', detail: /1 trailing bytes/ }],
  },
  { name: 'no magic byte', value: () => Buffer.from([1, 0, 0, 0, 1, 2]), expect: [{ reason: 'undecodable', detail: /./ }] },
  { name: 'tombstone (null value)', value: () => null, expect: [{ reason: 'undecodable', detail: /tombstone/ }] },
]

void describe('engine > poison records (decode → processor → task)', async () => {
  const goodValues = GOOD.map((p) => encode(p))
  const baseline = await run(goodValues)

  void test('the good records alone: rows for every view, no dead letter', () => {
    assert.deepEqual(baseline.deadLetters, [])
    for (const view of views) assert.ok((baseline.rows.get(view.name) ?? []).length >= GOOD.length, view.name)
    // The extreme but legal amounts (±2^960) are taken: alice's sums stay finite.
    assert.ok(baseline.rows.get('spend')!.some((r) => r.includes('9.7453140114e+288')))
  })

  for (const c of CASES) {
    void test(c.name, async () => {
      const values: (Buffer | null)[] = [...goodValues]
      values.splice(POISON_AT, 0, c.value())
      const got = await run(values)
      const letters = got.deadLetters.map((d) => ({ reason: d.reason, view: d.view, detail: d.detail, offset: d.offset }))
      assert.equal(letters.length, c.expect.length, JSON.stringify(letters))
      c.expect.forEach((e, i) => {
        const l = letters[i]!
        assert.equal(l.reason, e.reason, JSON.stringify(l))
        assert.equal(l.view, e.view, JSON.stringify(l))
        assert.equal(l.offset, String(POISON_AT))
        assert.match(l.detail, e.detail)
      })
      // The good records' rows are exactly those of a run without the poison record.
      assert.deepEqual(got.rows, baseline.rows)
    })
  }

  void test('a genuine U+FFFD (valid UTF-8 EF BF BD) in a key and a value is accepted', async () => {
    const got = await run([
      encode(purchase({ user_id: 'u\uFFFD', name: 'n\uFFFD', tags: ['\uFFFD'], attrs: { '\uFFFD': '\uFFFD' } })),
    ])
    assert.deepEqual(got.deadLetters, [])
    assert.match(got.rows.get('spend')![0]!, /^u\uFFFD@4000:.*"n\uFFFD"/)
  })

  void test('two keys that differ only in invalid bytes are both refused, never merged into one entity', async () => {
    const a = encode(purchase({ user_id: 'uX' }), { marker: 'uX', bytes: [0x75, 0xff] })
    const b = encode(purchase({ user_id: 'uX' }), { marker: 'uX', bytes: [0x75, 0xfe] })
    const got = await run([a, b])
    assert.deepEqual(
      got.deadLetters.map((d) => d.reason),
      ['invalid_key', 'invalid_key'],
    )
    for (const view of views) assert.deepEqual(got.rows.get(view.name), [])
  })
})
