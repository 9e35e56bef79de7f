/**
 * The change-envelope writer against the Encoder it stands in for: on random envelopes of random
 * valid rows — strings of every UTF-8 length class and lone surrogates, short and long, longs at
 * the varint's edges and beyond 2^53 as bigints, −0, NaN, unions either way round, avsc-only types
 * — every envelope's bytes are the Encoder's, byte for byte, from row objects and from columns.
 */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { EmbeddedSchemaRegistry } from '../../../adapters/schema-registry/embedded/embedded-schema-registry.ts'
import { changeEnvelopeSchema, type ChangeEnvelope } from '../../../features/change-envelope.ts'
import type { AvroRecordSchema } from '../../../features/types.ts'
import { AvroSink } from '../../../schemas/avro-sink.ts'
import { createChangeEnvelopeWriter } from '../../../schemas/change-envelope-writer.ts'
import { createEncoder } from '../../../schemas/encoder.ts'
import { accountRow } from '../ingest/fixtures.ts'
import { prng } from '../training/fixtures.ts'

const dir = mkdtempSync(join(tmpdir(), 'kfs-envelope-writer-'))
after(() => rmSync(dir, { recursive: true, force: true }))

const richRow: AvroRecordSchema = {
  type: 'record',
  name: 'Rich',
  fields: [
    { name: 'id', type: 'string' },
    { name: 'n', type: 'int' },
    { name: 'f', type: 'float' },
    { name: 'd', type: 'double' },
    { name: 'b', type: 'boolean' },
    { name: 'big', type: 'long' },
    { name: 'at', type: { type: 'long', logicalType: 'timestamp-millis' } },
    { name: 'late_null', type: ['string', 'null'] },
    { name: 'maybe_d', type: ['null', 'double'] },
    { name: 'maybe_b', type: ['null', 'boolean'] },
    { name: 'tier', type: ['null', { type: 'enum', name: 'Tier', symbols: ['GOLD', 'SILVER'] }], default: null },
    { name: 'tags', type: { type: 'array', items: 'string' } },
    { name: 'either', type: ['null', 'long', 'string'], default: null },
    { name: 'raw', type: 'bytes' },
  ],
}

type Rnd = ReturnType<typeof prng>

const UNITS = ['a', 'Z', '0', ' ', '~', 'é', 'ß', '€', '中', '😀', '\uD800', '\uDC00', '\u007f', '\u0000']
function text(rnd: Rnd): string {
  const length = rnd.pick([0, 1, 5, 20, 40, 63, 64, 65, 100])
  const ascii = rnd.next() < 0.5
  let s = ''
  for (let i = 0; i < length; i++) s += ascii ? String.fromCharCode(rnd.int(0x20, 0x7e)) : rnd.pick(UNITS)
  return s
}

function long(rnd: Rnd): number | bigint {
  return rnd.pick<() => number | bigint>([
    () => rnd.int(-64, 64),
    () =>
      rnd.pick([
        2 ** 30 - 1,
        2 ** 30,
        -(2 ** 30),
        -(2 ** 30) - 1,
        2 ** 31,
        -(2 ** 31),
        2 ** 53 - 1,
        -(2 ** 53 - 1),
        2 ** 53 - 2,
        -(2 ** 53 - 2),
        -(2 ** 52) - 1,
        -(2 ** 52) - 3,
        -0,
      ]),
    () => Math.floor((rnd.next() - 0.5) * 2 ** 53),
    () => rnd.pick([2n ** 63n - 1n, -(2n ** 63n), 2n ** 53n + 1n, -(2n ** 60n) - 7n]),
  ])()
}

const double = (rnd: Rnd): number =>
  rnd.pick([() => (rnd.next() - 0.5) * 1e6, () => rnd.pick([0, -0, NaN, Infinity, -Infinity, 5e-324, 1.5])])()

function richValues(rnd: Rnd): Record<string, unknown> {
  return {
    id: text(rnd),
    n: rnd.pick([0, -1, 2 ** 31 - 1, -(2 ** 31), rnd.int(-1000, 1000)]),
    f: rnd.pick([1.1, -0, NaN, 3.4e38, rnd.next()]),
    d: double(rnd),
    b: rnd.next() < 0.5,
    big: long(rnd),
    at: rnd.int(0, 2 ** 42),
    late_null: rnd.next() < 0.3 ? null : text(rnd),
    maybe_d: rnd.next() < 0.3 ? null : double(rnd),
    maybe_b: rnd.pick([null, true, false]),
    tier: rnd.pick([null, 'GOLD', 'SILVER']),
    tags: Array.from({ length: rnd.int(0, 3) }, () => text(rnd)),
    either: rnd.pick([null, 5, 'five', -(2 ** 40)]),
    raw: Buffer.from(text(rnd)),
  }
}

function accountValues(rnd: Rnd): Record<string, unknown> {
  return {
    account_id: text(rnd),
    updated_at: rnd.int(0, 2 ** 41),
    balance: double(rnd),
    tier: rnd.next() < 0.3 ? null : text(rnd),
    visits: rnd.next() < 0.3 ? null : long(rnd),
  }
}

async function pinAgainstEncoder(
  name: string,
  rowSchema: AvroRecordSchema,
  rowOf: (rnd: Rnd) => Record<string, unknown>,
): Promise<void> {
  const schema = changeEnvelopeSchema(rowSchema)
  const registry = new EmbeddedSchemaRegistry({ dir: join(dir, name) })
  const encoder = await createEncoder({ registry, subject: `${name}-value`, schema })
  const writer = createChangeEnvelopeWriter(schema, encoder.schemaId)
  assert.ok(writer !== undefined)
  assert.deepEqual(
    writer.columns,
    (rowSchema.fields as { name: string }[]).map((f) => f.name),
  )
  const rnd = prng(name.length * 7919)
  const sink = new AvroSink(16)
  for (let i = 0; i < 2000; i++) {
    const afterRow = rowOf(rnd)
    const beforeRow = rnd.next() < 0.5 ? null : rowOf(rnd)
    const envelope: ChangeEnvelope = {
      op: beforeRow === null ? 'c' : 'u',
      before: beforeRow,
      after: afterRow,
      ts_ms: rnd.int(0, 2 ** 42),
      snapshot: rnd.pick([null, 'a1b2c3d4e5f60718', text(rnd)]),
    }
    const expected = encoder.encode(envelope)

    // From row objects, into a sink already holding other bytes (it grows from 16 bytes).
    sink.reset()
    sink.writeUtf8('key')
    const start = sink.pos
    writer.write(sink, envelope.op, [], envelope.before, envelope.after, envelope.ts_ms, envelope.snapshot)
    assert.deepEqual(
      sink.written().subarray(start),
      expected,
      `envelope ${i} from objects: ${JSON.stringify(envelope, (_k, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v))}`,
    )

    // From columns: the after image at index 1, the before image (when there is one) at index 0.
    const values = writer.columns.map((c) => [beforeRow?.[c] ?? null, afterRow[c]])
    sink.reset()
    writer.write(sink, envelope.op, values, beforeRow === null ? null : 0, 1, envelope.ts_ms, envelope.snapshot)
    assert.deepEqual(sink.written(), expected, `envelope ${i} from columns`)
  }
}

void describe('change envelope writer', () => {
  void it("writes the Encoder's bytes for the accounts row", () => pinAgainstEncoder('accounts', accountRow, accountValues))

  void it("writes the Encoder's bytes for a row of every column kind, avsc-only types included", () =>
    pinAgainstEncoder('rich', richRow, richValues))

  void it('gives no writer for a schema not of the change-envelope shape', () => {
    assert.equal(createChangeEnvelopeWriter(accountRow, 1), undefined)
    const envelope = changeEnvelopeSchema(accountRow)
    const renamed = {
      ...envelope,
      fields: (envelope.fields as { name: string }[]).map((f) => (f.name === 'snapshot' ? { ...f, name: 'snap' } : f)),
    }
    assert.equal(createChangeEnvelopeWriter(renamed, 1), undefined)
  })

  void it('writes UTF-8 keys as Buffer.from does, a lone surrogate as U+FFFD', () => {
    const sink = new AvroSink(4)
    for (const key of ['acct-1', 'é中😀', 'x\uD800y', 'a'.repeat(300)]) {
      sink.reset()
      sink.writeUtf8(key)
      assert.deepEqual(sink.written(), Buffer.from(key, 'utf8'))
    }
  })
})
