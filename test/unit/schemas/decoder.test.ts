import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import avro from 'avsc'
import { createDecoder, type DecodeResult } from '../../../schemas/decoder.ts'
import { createEncoder } from '../../../schemas/encoder.ts'
import { SchemaError, SourceError } from '../../../core/errors.ts'
import type { AvroSchema, SchemaRegistry } from '../../../ports/schema-registry.ts'

/** A registry that only serves fixed ids, and counts lookups. */
function fixedRegistry(byId: Record<number, AvroSchema>): SchemaRegistry & { lookups: number } {
  const reg = {
    lookups: 0,
    async register(): Promise<number> {
      return 1
    },
    async getById(id: number) {
      reg.lookups++
      return byId[id]
    },
    async latest() {
      return undefined
    },
  }
  return reg
}

const clickV1 = {
  type: 'record',
  name: 'Click',
  fields: [
    { name: 'user_id', type: 'string' },
    { name: 'ts', type: { type: 'long', logicalType: 'timestamp-millis' } },
    { name: 'item', type: 'long' },
  ],
}
const clickV2 = { ...clickV1, fields: [...clickV1.fields, { name: 'price', type: ['null', 'double'], default: null }] }

/** Independent of the code under test: avsc plus hand-built Confluent framing. */
function wire(schemaId: number, schema: object, event: unknown): Buffer {
  const body = avro.Type.forSchema(schema as avro.Schema).toBuffer(event)
  const header = Buffer.alloc(5)
  header.writeUInt32BE(schemaId, 1)
  return Buffer.concat([header, body])
}

/** avsc returns records as instances of a generated class; compare their fields only. */
function plain<T>(value: T): T {
  return structuredClone(value)
}

const event = { user_id: 'u1', ts: 1_700_000_000_123, item: 42 }

void describe('schemas > decoder', () => {
  void test('decodes a value written with the reader schema; timestamp-millis is epoch ms', async () => {
    const decoder = createDecoder({ registry: fixedRegistry({ 7: clickV1 }), readerSchema: clickV1 })
    const out = plain(await decoder.decode(wire(7, clickV1, event)))
    assert.deepEqual(out, { ok: true, event, schemaId: 7 })
  })

  void test('an evolved writer schema (added optional field) resolves to the reader schema', async () => {
    const decoder = createDecoder({ registry: fixedRegistry({ 8: clickV2 }), readerSchema: clickV1 })
    const out = plain(await decoder.decode(wire(8, clickV2, { ...event, price: 9.5 })))
    assert.deepEqual(out, { ok: true, event, schemaId: 8 })
  })

  void test('an old writer read by a newer reader gets the default of the added field', async () => {
    const decoder = createDecoder({ registry: fixedRegistry({ 7: clickV1 }), readerSchema: clickV2 })
    const out = plain(await decoder.decode(wire(7, clickV1, event)))
    assert.deepEqual(out, { ok: true, event: { ...event, price: null }, schemaId: 7 })
  })

  void test('a long beyond 2^53 decodes as a bigint instead of being refused', async () => {
    const decoder = createDecoder({ registry: fixedRegistry({ 7: clickV1 }), readerSchema: clickV1 })
    const big = 2n ** 60n + 3n
    const body = Buffer.concat([avro.Type.forSchema('string').toBuffer('u1'), zigzagLong(1_000n), zigzagLong(big)])
    const header = Buffer.from([0, 0, 0, 0, 7])
    const out = await decoder.decode(Buffer.concat([header, body]))
    assert.ok(out.ok, out.ok ? '' : out.detail)
    assert.equal(out.event.item, big)
    assert.equal(out.event.ts, 1000)
  })

  void describe('failure corpus: never throws, always a reason', () => {
    const registry = fixedRegistry({
      7: clickV1,
      9: { type: 'record', name: 'Click', fields: [{ name: 'user_id', type: 'long' }, { name: 'ts', type: 'long' }, { name: 'item', type: 'long' }] },
      10: { type: 'record', name: 'Click', fields: [{ name: 'user_id', type: 'string' }] },
      11: { type: 'record', name: 'Other', fields: [{ name: 'x', type: 'int' }] },
    })
    const good = wire(7, clickV1, event)
    const cases: [string, Uint8Array | null, string][] = [
      ['garbage bytes', Buffer.from('not avro at all, just text'), 'undecodable'],
      ['random bytes with a valid-looking header', Buffer.concat([Buffer.from([0, 0, 0, 0, 7]), Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff])]), 'undecodable'],
      ['wrong magic byte', Buffer.concat([Buffer.from([1]), good.subarray(1)]), 'undecodable'],
      ['shorter than the header', Buffer.from([0, 0, 7]), 'undecodable'],
      ['empty value', Buffer.alloc(0), 'undecodable'],
      ['tombstone', null, 'undecodable'],
      ['truncated Avro body', good.subarray(0, good.length - 2), 'undecodable'],
      ['header only', good.subarray(0, 5), 'undecodable'],
      ['trailing garbage', Buffer.concat([good, Buffer.from([1, 2, 3])]), 'undecodable'],
      ['unknown schema id', wire(12345, clickV1, event), 'unknown_schema'],
      ['writer with wrong field types', wire(9, { type: 'record', name: 'Click', fields: [{ name: 'user_id', type: 'long' }, { name: 'ts', type: 'long' }, { name: 'item', type: 'long' }] }, { user_id: 1, ts: 2, item: 3 }), 'schema_mismatch'],
      ['writer missing required fields', wire(10, { type: 'record', name: 'Click', fields: [{ name: 'user_id', type: 'string' }] }, { user_id: 'u' }), 'schema_mismatch'],
      ['writer of another record', wire(11, { type: 'record', name: 'Other', fields: [{ name: 'x', type: 'int' }] }, { x: 1 }), 'schema_mismatch'],
      ['oversize', Buffer.concat([good, Buffer.alloc(2000)]), 'oversize'],
    ]
    for (const [label, value, reason] of cases) {
      void test(label, async () => {
        const decoder = createDecoder({ registry, readerSchema: clickV1, maxValueBytes: 1000 })
        const out = await decoder.decode(value)
        assert.equal(out.ok, false)
        assert.equal(out.ok ? undefined : out.reason, reason)
        assert.ok(!out.ok && out.detail.length > 0)
      })
    }

    void test('decodeBatch gives the same answers as decode, in order', async () => {
      const decoder = createDecoder({ registry, readerSchema: clickV1, maxValueBytes: 1000 })
      const values = [good, ...cases.map((c) => c[1]), good]
      const batch = await decoder.decodeBatch(values)
      const single = await Promise.all(values.map((v) => createDecoder({ registry, readerSchema: clickV1, maxValueBytes: 1000 }).decode(v)))
      assert.deepEqual(batch.map(plain), single.map(plain))
      assert.equal(batch[0]?.ok, true)
    })
  })

  void test('each schema id is looked up once, an unknown one once per re-check interval', async () => {
    const registry = fixedRegistry({ 7: clickV1 })
    const decoder = createDecoder({ registry, readerSchema: clickV1, clock: { nowMs: () => 0 } })
    await decoder.decodeBatch([wire(7, clickV1, event), wire(7, clickV1, event), wire(99, clickV1, event)])
    await decoder.decode(wire(7, clickV1, event))
    await decoder.decode(wire(99, clickV1, event))
    assert.equal(registry.lookups, 2)
  })

  void test('a registry outage throws (retriable), it is not bad data', async () => {
    const failing: SchemaRegistry = {
      register: async () => 1,
      getById: async () => {
        throw new Error('connection refused')
      },
      latest: async () => undefined,
    }
    const decoder = createDecoder({ registry: failing, readerSchema: clickV1 })
    await assert.rejects(decoder.decode(wire(7, clickV1, event)))
  })
})

/** A registry whose ids can be registered while a decoder runs, that records its lookups and how many ran at once. */
function mutableRegistry(byId: Map<number, AvroSchema>) {
  const reg = {
    asked: [] as number[],
    inFlight: 0,
    mostInFlight: 0,
    down: false,
    async register(): Promise<number> {
      return 1
    },
    async getById(id: number): Promise<AvroSchema | undefined> {
      reg.asked.push(id)
      reg.inFlight++
      reg.mostInFlight = Math.max(reg.mostInFlight, reg.inFlight)
      try {
        // A turn of the event loop, so lookups of one batch overlap as they would over HTTP.
        await new Promise<void>((resolve) => setImmediate(resolve))
        if (reg.down) throw new SourceError('SOURCE_UNAVAILABLE', 'schema registry getById failed: connection refused')
        return byId.get(id)
      } finally {
        reg.inFlight--
      }
    },
    async latest() {
      return undefined
    },
  }
  return reg
}

void describe('schemas > decoder > unknown schema ids are re-checked', () => {
  const RECHECK_MS = 1_000
  const setup = (byId: Map<number, AvroSchema>, extra: { maxUnknownIds?: number; maxConcurrentLookups?: number } = {}) => {
    const registry = mutableRegistry(byId)
    const clock = { now: 0, nowMs: () => clock.now }
    const decoder = createDecoder({ registry, readerSchema: clickV1, clock, unknownRecheckMs: RECHECK_MS, ...extra })
    return { registry, clock, decoder }
  }
  const reasonOf = (r: DecodeResult) => (r.ok ? 'ok' : `${r.reason}: ${r.detail}`)

  void test('an id the registry learns later (a lagging follower, a restore) decodes after the re-check', async () => {
    const byId = new Map<number, AvroSchema>()
    const { registry, clock, decoder } = setup(byId)
    assert.equal(reasonOf(await decoder.decode(wire(21, clickV1, event))), 'unknown_schema: schema id 21 is not registered')
    byId.set(21, clickV1)
    // Within the interval the answer stands: one lookup, not one per record.
    clock.now = RECHECK_MS - 1
    assert.equal(reasonOf(await decoder.decode(wire(21, clickV1, event))), 'unknown_schema: schema id 21 is not registered')
    assert.deepEqual(registry.asked, [21])
    clock.now = RECHECK_MS
    assert.deepEqual(plain(await decoder.decodeBatch([wire(21, clickV1, event), wire(21, clickV1, event)])), [
      { ok: true, event, schemaId: 21 },
      { ok: true, event, schemaId: 21 },
    ])
    // Known now, for good: no more lookups, however late.
    clock.now = 100 * RECHECK_MS
    assert.equal(reasonOf(await decoder.decode(wire(21, clickV1, event))), 'ok')
    assert.deepEqual(registry.asked, [21, 21])
  })

  void test('a truly unknown id stays unknown_schema, asked again once per interval', async () => {
    const { registry, clock, decoder } = setup(new Map([[7, clickV1]]))
    for (let i = 0; i < 5; i++) {
      clock.now = i * RECHECK_MS
      const out = await decoder.decodeBatch([wire(99, clickV1, event), wire(7, clickV1, event), wire(99, clickV1, event)])
      const unknown = 'unknown_schema: schema id 99 is not registered'
      assert.deepEqual(out.map(reasonOf), [unknown, 'ok', unknown])
    }
    assert.deepEqual(registry.asked, [99, 7, 99, 99, 99, 99])
  })

  void test('an unreachable registry throws for the caller to retry: nothing is refused or cached', async () => {
    const byId = new Map<number, AvroSchema>([[7, clickV1]])
    const { registry, decoder } = setup(byId)
    registry.down = true
    await assert.rejects(decoder.decodeBatch([wire(7, clickV1, event), wire(99, clickV1, event)]), /connection refused/)
    await assert.rejects(decoder.decode(wire(7, clickV1, event)), /connection refused/)
    registry.down = false
    // The retry, at the same instant: both ids are asked again and answered as they are.
    const out = await decoder.decodeBatch([wire(7, clickV1, event), wire(99, clickV1, event)])
    assert.deepEqual(out.map(reasonOf), ['ok', 'unknown_schema: schema id 99 is not registered'])
  })

  void test('a flood of random ids: each refused with its reason, lookups bounded at once, caches bounded, the real schema kept', async () => {
    const { registry, clock, decoder } = setup(new Map([[7, clickV1]]), { maxUnknownIds: 50, maxConcurrentLookups: 4 })
    assert.equal(reasonOf(await decoder.decode(wire(7, clickV1, event))), 'ok')
    const flood = Array.from({ length: 2_000 }, (_, i) => 1_000 + i)
    const values = flood.flatMap((id) => [wire(id, clickV1, event), wire(7, clickV1, event)])
    const out = await decoder.decodeBatch(values)
    assert.equal(out.length, values.length)
    const want = (i: number) => (i % 2 === 0 ? `unknown_schema: schema id ${flood[i / 2]} is not registered` : 'ok')
    out.forEach((r, i) => assert.equal(reasonOf(r), want(i)))
    assert.ok(registry.mostInFlight <= 4, `at most 4 lookups at once, saw ${registry.mostInFlight}`)
    // One lookup per distinct id; the known id was not evicted by the flood.
    assert.equal(registry.asked.length, 1 + flood.length)
    assert.equal(registry.asked.filter((id) => id === 7).length, 1)
    // Bounded: the newest unknown ids are remembered, the oldest were let go (asked again).
    clock.now = RECHECK_MS - 1
    registry.asked.length = 0
    await decoder.decode(wire(flood.at(-1)!, clickV1, event))
    await decoder.decode(wire(flood.at(-50)!, clickV1, event))
    assert.deepEqual(registry.asked, [])
    await decoder.decode(wire(flood[0]!, clickV1, event))
    assert.deepEqual(registry.asked, [flood[0]])
  })
})

void describe('schemas > encoder', () => {
  void test('encodes with the registered id; the decoder reads it back', async () => {
    const registry = fixedRegistry({ 1: clickV1 })
    const encoder = await createEncoder({ registry, subject: 'clicks-value', schema: clickV1 })
    assert.equal(encoder.schemaId, 1)
    const bytes = encoder.encode(event)
    assert.deepEqual([...bytes.subarray(0, 5)], [0, 0, 0, 0, 1])
    assert.deepEqual(plain(avro.Type.forSchema(clickV1 as avro.Schema).fromBuffer(bytes.subarray(5))), event)
  })

  void test('a number long and the same bigint long give the same bytes; a long beyond 2^53 round-trips', async () => {
    const registry = fixedRegistry({ 1: clickV1 })
    const encoder = await createEncoder({ registry, subject: 'clicks-value', schema: clickV1 })
    assert.deepEqual(encoder.encode({ ...event, ts: -7, item: 2 ** 53 - 1 }), encoder.encode({ ...event, ts: -7n, item: 2n ** 53n - 1n }))
    const big = 2n ** 60n + 3n
    const out = await createDecoder({ registry, readerSchema: clickV1 }).decode(encoder.encode({ ...event, item: big }))
    assert.ok(out.ok, out.ok ? '' : out.detail)
    assert.equal(out.event.item, big)
  })

  void test('an event that does not fit the schema is refused with the bad paths', async () => {
    const encoder = await createEncoder({ registry: fixedRegistry({ 1: clickV1 }), subject: 'clicks-value', schema: clickV1 })
    assert.throws(
      () => encoder.encode({ user_id: 5, ts: 1, item: 2 }),
      (err: unknown) => err instanceof SchemaError && err.message.includes('user_id'),
    )
  })
})

/** Avro long encoding (zig-zag varint), written out by hand for values avsc's number long cannot hold. */
function zigzagLong(n: bigint): Buffer {
  let z = (n << 1n) ^ (n >> 63n)
  z &= 2n ** 64n - 1n
  const bytes: number[] = []
  do {
    let b = Number(z & 0x7fn)
    z >>= 7n
    if (z !== 0n) b |= 0x80
    bytes.push(b)
  } while (z !== 0n)
  return Buffer.from(bytes)
}
