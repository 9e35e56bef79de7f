/**
 * Writers whose logical types differ from the source schema's, through the real path decode →
 * partition processor → task: the event time (`ts`, `timestamp-millis` in the source) and a
 * feature's value (`last` of `seen`, also `timestamp-millis`). A writer of another unit of the
 * same clock (micros, nanos) yields exactly the rows of the same events written in milliseconds
 * (floored, as docs/semantics.md says); a writer whose meaning differs (a local timestamp, a date,
 * a time of day, a plain long counted in micros) is dead-lettered `schema_mismatch` record by
 * record, its detail naming the field and both logical types, and yields no row. avsc read them all
 * by their underlying long: event times 1000× off (dead-lettered `future_event_time`, or windows
 * in another year) and values silently wrong.
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { createDecoder } from '../../../schemas/decoder.ts'
import { createWideType } from '../../../schemas/avro-type.ts'
import type { AvroSchema, SchemaRegistry } from '../../../ports/schema-registry.ts'
import { createPartitionTask } from '../../../operators/task/partition-task.ts'
import { decodeFailureLetter, PartitionProcessor } from '../../../engine/partition-processor.ts'
import type { DeadLetter } from '../../../ports/dead-letters.ts'
import type { LogRecord } from '../../../ports/event-log.ts'
import { testEntity, testSource, testView } from '../operators/defs.ts'

const schemaWith = (ts: unknown, seen: unknown) => ({
  type: 'record',
  name: 'Visit',
  fields: [
    { name: 'user_id', type: 'string' },
    { name: 'ts', type: ts },
    { name: 'seen', type: ['null', seen], default: null },
    { name: 'amount', type: 'double' },
  ],
})
const L = (logicalType: string, type = 'long') => ({ type, logicalType })
const SOURCE_SCHEMA = schemaWith(L('timestamp-millis'), L('timestamp-millis'))

interface Visit {
  readonly user_id: string
  readonly ts: number
  readonly seen: number | null
  readonly amount: number
}
/** Event times in ms; `seen` negative too (before the epoch), so a floor and a truncation differ. */
const VISITS: readonly Visit[] = [
  { user_id: 'alice', ts: 1_000, seen: -1, amount: 1 },
  { user_id: 'bob', ts: 2_500, seen: 1_700_000_000_123, amount: 2 },
  { user_id: 'alice', ts: 15_000, seen: null, amount: 3 },
  { user_id: 'alice', ts: 75_000, seen: -86_400_001, amount: 4 },
  { user_id: 'bob', ts: 130_000, seen: 42, amount: 5 },
]

interface Writer {
  readonly schema: object
  /** The visit as this writer writes it (the source's milliseconds in its own unit). */
  readonly write: (v: Visit) => Record<string, unknown>
  /** undefined: converted, the rows are the millisecond writer's; else the field its refusal names. */
  readonly refusedAt?: { readonly field: string; readonly writer: string; readonly reader: string }
}

/** In a finer unit, plus digits below the millisecond (bigints: nanoseconds pass 2^53). */
const scaled = (k: bigint, extra: bigint) => (v: Visit) => ({
  ...v,
  ts: BigInt(v.ts) * k + extra,
  seen: v.seen === null ? null : BigInt(v.seen) * k + extra,
})
const REFERENCE = 'timestamp-millis (the source schema)'
const WRITERS: Record<string, Writer> = {
  [REFERENCE]: { schema: SOURCE_SCHEMA, write: (v) => ({ ...v }) },
  'timestamp-micros, sub-millisecond digits': {
    schema: schemaWith(L('timestamp-micros'), L('timestamp-micros')),
    write: scaled(1000n, 999n),
  },
  'timestamp-nanos, sub-millisecond digits': {
    schema: schemaWith(L('timestamp-nanos'), L('timestamp-nanos')),
    write: scaled(1_000_000n, 123_456n),
  },
  'local-timestamp-millis event time': {
    schema: schemaWith(L('local-timestamp-millis'), L('timestamp-millis')),
    write: (v) => ({ ...v }),
    refusedAt: { field: 'ts', writer: 'local-timestamp-millis', reader: 'timestamp-millis' },
  },
  'local-timestamp-micros value': {
    schema: schemaWith(L('timestamp-millis'), L('local-timestamp-micros')),
    write: (v) => ({ ...v }),
    refusedAt: { field: 'seen', writer: 'local-timestamp-micros', reader: 'timestamp-millis' },
  },
  'date value (days, an int)': {
    schema: schemaWith(L('timestamp-millis'), L('date', 'int')),
    write: (v) => ({ ...v, seen: v.seen === null ? null : 1 }),
    refusedAt: { field: 'seen', writer: 'date', reader: 'timestamp-millis' },
  },
  'time-micros value (a time of day)': {
    schema: schemaWith(L('timestamp-millis'), L('time-micros')),
    write: (v) => ({ ...v }),
    refusedAt: { field: 'seen', writer: 'time-micros', reader: 'timestamp-millis' },
  },
}

const source = testSource({
  topic: 'visits',
  schema: SOURCE_SCHEMA as never,
  eventTimeField: 'ts',
  outOfOrdernessMs: 0,
  allowedLatenessMs: 60_000,
})
const view = testView({
  name: 'visits',
  source,
  entity: testEntity(['user_id']),
  features: [
    { op: 'last', field: 'seen', windowMs: null },
    { op: 'sum', field: 'amount', windowMs: 60_000, hopMs: 10_000 },
    { op: 'count', windowMs: 60_000, hopMs: 10_000 },
  ],
})

async function run(name: string): Promise<{ rows: string[]; deadLetters: DeadLetter[] }> {
  const names = Object.keys(WRITERS)
  const registry: SchemaRegistry = {
    register: async () => 1,
    getById: async (id) => WRITERS[names[id - 1] ?? '']?.schema as AvroSchema | undefined,
    latest: async () => undefined,
  }
  const writer = WRITERS[name]!
  const type = createWideType(writer.schema as AvroSchema)
  const records: LogRecord[] = VISITS.map((v, i) => {
    const header = Buffer.alloc(5)
    header.writeUInt32BE(names.indexOf(name) + 1, 1)
    return {
      topic: source.topic,
      partition: 0,
      offset: String(i),
      key: null,
      value: Buffer.concat([header, type.toBuffer(writer.write(v))]),
      timestampMs: 0,
      headers: {},
    }
  })
  const decoded = await createDecoder({ registry, readerSchema: SOURCE_SCHEMA as AvroSchema }).decodeBatch(
    records.map((r) => r.value),
  )
  const processor = new PartitionProcessor({
    topic: source.topic,
    partition: 0,
    source,
    task: createPartitionTask({ views: [view], source }),
    nextOffset: '0',
  })
  const result = processor.processRecords(records, decoded, 0)
  const deadLetters = [...result.deadLetters]
  decoded.forEach((d, i) => {
    if (!d.ok) deadLetters.push(decodeFailureLetter({ topic: source.topic, partition: 0 }, source, [view], records[i]!, d))
  })
  return { rows: result.rows.map((r) => `${r.entityKey}@${r.asOfMs}:${JSON.stringify(r.values)}`), deadLetters }
}

void describe('writer logical types through the engine: event time and feature values', () => {
  for (const [name, writer] of Object.entries(WRITERS).filter(([n]) => n !== REFERENCE)) {
    void test(`${name}: ${writer.refusedAt === undefined ? 'the same rows as milliseconds' : `refused at ${writer.refusedAt.field}`}`, async () => {
      const reference = await run(REFERENCE)
      assert.ok(reference.rows.length > 0)
      assert.deepEqual(reference.deadLetters, [])
      const { rows, deadLetters } = await run(name)
      if (writer.refusedAt === undefined) {
        assert.deepEqual(deadLetters, [])
        assert.deepEqual(rows, reference.rows)
        return
      }
      const { field, writer: was, reader: is } = writer.refusedAt
      assert.deepEqual(rows, [])
      assert.equal(deadLetters.length, VISITS.length)
      for (const letter of deadLetters) {
        assert.equal(letter.reason, 'schema_mismatch')
        assert.match(letter.detail, new RegExp(`field ${field}: the writer's ${was} cannot be read as the source schema's ${is}`))
      }
    })
  }
})
