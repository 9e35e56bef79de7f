/**
 * Every kind of bad change record (docs/design.md §11, docs/semantics.md §1), as a stream of steps
 * for change-poison-kinds.test.ts: each case has its own order and user keys, a good create before
 * and (usually) a good update after its bad record, so a bad record that poisoned a key's state
 * would show in the rows of the good ones. A step names the dead letters each view must write for
 * it; a step with none is good for that view.
 */
import { createWideType } from '../../../schemas/avro-type.ts'
import { changeEnvelopeSchema } from '../../../features/change-envelope.ts'
import type { AvroRecordSchema } from '../../../features/types.ts'
import { envelopeCases } from './change-poison-envelopes.ts'

export type ViewKind = 'attr' | 'state'
export interface Expected {
  readonly view: ViewKind
  readonly reason: string
  readonly detail: RegExp
  /** The letter refuses part of the change (a retraction); the rest applies, so the record counts for the view's rows. */
  readonly partial?: true
}
export interface Step {
  readonly key: string | null
  readonly value: Uint8Array | null
  readonly refused: readonly Expected[]
}
export interface Row {
  readonly order_id: string
  readonly user_id?: string | null
  readonly amount?: number | null
  readonly status?: string | null
  readonly qty?: number | bigint | null
}

export const BASE_MS = 1_700_000_000_000
const DAY_MS = 86_400_000

/** How one format writes changes. */
export interface Format {
  readonly name: 'json' | 'avro'
  readonly rowSchema: AvroRecordSchema
  /** Avro: the registry id of the source's envelope schema. */
  readonly schemaId: number
  /** Avro: registry ids of the writer variants (avroVariants), registered before the cases are built. */
  readonly variants: ReadonlyMap<string, number>
}

export const attr = (reason: string, detail: RegExp): Expected => ({ view: 'attr', reason, detail })
export const state = (reason: string, detail: RegExp): Expected => ({ view: 'state', reason, detail })
export const both = (reason: string, detail: RegExp): Expected[] => [attr(reason, detail), state(reason, detail)]

export const row = (order_id: string, user_id: string | null, amount: number | null, status: string | null = 'open'): Row => ({ order_id, user_id, amount, status })

export function framed(id: number, body: Uint8Array): Uint8Array {
  const header = Buffer.alloc(5)
  header.writeUInt32BE(id, 1)
  return Buffer.concat([header, body])
}

/** Avro writer schemas that differ from the source's envelope, by name (registered by the test). */
export function avroVariants(rowSchema: AvroRecordSchema): Record<string, AvroRecordSchema> {
  const envelope = changeEnvelopeSchema(rowSchema) as unknown as { fields: { name: string; type: unknown }[] }
  const withField = (name: string, type: unknown): AvroRecordSchema =>
    ({ ...envelope, fields: envelope.fields.map((f) => (f.name === name ? { ...f, type } : f)) }) as unknown as AvroRecordSchema
  const rowWith = (edit: (fields: { name: string; type: unknown }[]) => unknown[]): AvroRecordSchema =>
    changeEnvelopeSchema({ ...rowSchema, fields: edit([...(rowSchema.fields as unknown as { name: string; type: unknown }[])]) } as unknown as AvroRecordSchema)
  return {
    opLong: withField('op', 'long'),
    noTs: { ...envelope, fields: envelope.fields.filter((f) => f.name !== 'ts_ms') } as unknown as AvroRecordSchema,
    tsString: withField('ts_ms', 'string'),
    noOrderId: rowWith((fs) => fs.filter((f) => f.name !== 'order_id')),
    amountString: rowWith((fs) => fs.map((f) => (f.name === 'amount' ? { name: 'amount', type: 'string' } : f))),
    noOp: { ...envelope, fields: envelope.fields.filter((f) => f.name !== 'op') } as unknown as AvroRecordSchema,
    orderIdLong: rowWith((fs) => fs.map((f) => (f.name === 'order_id' ? { name: 'order_id', type: 'long' } : f))),
    orderIdNullable: rowWith((fs) => fs.map((f) => (f.name === 'order_id' ? { name: 'order_id', type: ['null', 'string'] } : f))),
  }
}

/** What a case builds its steps with (buildSteps). */
export interface Kit {
  readonly format: Format
  /** The source's envelope schema (Avro). */
  readonly envelope: AvroRecordSchema
  /** The next commit time: a second after the last. */
  readonly t: () => number
  /** A row with every column (Avro needs them all). */
  readonly full: (r: Row | null) => Row | null
  /** `event` written with `schema`, framed with registry id `id`. */
  readonly avro: (schema: AvroRecordSchema, id: number, event: Record<string, unknown>) => Uint8Array
  /** A well-formed change in the format (JSON: Debezium with source.ts_ms; Avro: the envelope). */
  readonly change: (op: string, before: Row | null, after: Row | null, ts?: number | bigint) => Uint8Array
  readonly json: (message: unknown) => Uint8Array
  readonly literal: (message: unknown, from: string, to: string) => Uint8Array
  /** An Avro envelope written with one of avroVariants' writer schemas. */
  readonly variant: (name: string, event: Record<string, unknown>) => Uint8Array
  readonly patched: (bytes: Uint8Array, marker: string, patch: number[]) => Uint8Array
  readonly step: (key: string | null, value: Uint8Array | null, refused?: readonly Expected[]) => Step
}

/** One case: its steps after the good create, then (by default) a good update. */
export interface Case {
  readonly name: string
  readonly build: (o: string, u: string) => Step[]
  readonly then?: 'update' | 'create' | 'none'
}

/** Builds the steps of every case, in stream order, with commit times rising by a second per step. */
export function buildSteps(f: Format): { name: string; steps: Step[] }[] {
  let seq = 0
  const t = (): number => BASE_MS + ++seq * 1_000
  const full = (r: Row | null): Row | null => r && { user_id: null, amount: null, status: null, qty: null, ...r }
  const wide = new Map<AvroRecordSchema, ReturnType<typeof createWideType>>()
  const avro = (schema: AvroRecordSchema, id: number, event: Record<string, unknown>): Uint8Array => {
    let type = wide.get(schema)
    if (type === undefined) wide.set(schema, (type = createWideType(schema as never)))
    return framed(id, type.toBuffer(event))
  }
  const envelope = changeEnvelopeSchema(f.rowSchema)
  /** A well-formed change in the format (JSON: Debezium with source.ts_ms; Avro: the envelope). */
  const change = (op: string, before: Row | null, after: Row | null, ts: number | bigint = t()): Uint8Array =>
    f.name === 'json'
      ? Buffer.from(JSON.stringify({ op, before, after, ts_ms: Number(ts) + 3, source: { ts_ms: Number(ts) } }))
      : avro(envelope, f.schemaId, { op, before: full(before), after: full(after), ts_ms: ts, snapshot: null })
  const json = (message: unknown): Uint8Array => Buffer.from(JSON.stringify(message))
  /** `message` as JSON with the text `from` replaced by `to`: number literals JSON.stringify never writes. */
  const literal = (message: unknown, from: string, to: string): Uint8Array => {
    const text = JSON.stringify(message)
    if (!text.includes(from)) throw new Error(`${from} not in ${text}`)
    return Buffer.from(text.replace(from, to))
  }
  const variantSchemas = avroVariants(f.rowSchema)
  const variant = (name: string, event: Record<string, unknown>): Uint8Array => avro(variantSchemas[name]!, f.variants.get(name)!, event)
  /** `bytes` with the first occurrence of `marker` overwritten by `patch` (same length). */
  const patched = (bytes: Uint8Array, marker: string, patch: number[]): Uint8Array => {
    const out = Buffer.from(bytes)
    const at = out.indexOf(Buffer.from(marker))
    if (at < 0 || patch.length !== marker.length) throw new Error(`marker ${marker} not found`)
    Buffer.from(patch).copy(out, at)
    return out
  }
  const isJson = f.name === 'json'
  const step = (key: string | null, value: Uint8Array | null, refused: readonly Expected[] = []): Step => ({ key, value, refused })
  const kit: Kit = { format: f, envelope, t, full, avro, change, json, literal, variant, patched, step }

  const cases: Case[] = [
    { name: "unknown op 't' (truncate)", build: (o) => [step(o, change('t', null, null), both('unknown_op', /op 't' is not one of c, r, u, d/))] },
    { name: "unknown op 'x'", build: (o, u) => [step(o, change('x', null, row(o, u, 12)), both('unknown_op', /op 'x' is not one of c, r, u, d/))] },
    {
      name: 'op that is a number',
      build: (o, u) => [
        isJson
          ? step(o, json({ op: 7, before: null, after: row(o, u, 12), ts_ms: t() }), both('schema_mismatch', /op is .*7.*not a string/))
          : step(o, variant('opLong', { op: 7, before: null, after: full(row(o, u, 12)), ts_ms: t(), snapshot: null }), both('schema_mismatch', /writer schema cannot be read as the source schema: cannot read "long" as "string"/)),
      ],
    },
    { name: "op 'c' without an after image", build: (o, u) => [step(o, change('c', row(o, u, 10), null), both('unknown_op', /op 'c' without an after image/))] },
    { name: "op 'd' without a before image", build: (o) => [step(o, change('d', null, null), both('unknown_op', /op 'd' without a before image/))] },
    { name: "op 'd' with an after image", build: (o, u) => [step(o, change('d', row(o, u, 10), row(o, u, 10)), both('unknown_op', /op 'd' with an after image/))] },
    {
      name: "op 'u' whose before image has another primary key",
      build: (o, u) => [step(o, change('u', row(`${o}x`, u, 10), row(o, u, 13)), both('unknown_op', /op 'u' whose before image has another primary key/))],
    },
    // Images naming two groups: the re-key stage would split the change into a retract and an add
    // copy, and each group's view would refuse its copy — one record, two letters. Refused once.
    { name: "unknown op 'x' whose images name two groups", build: (o, u) => [step(o, change('x', row(o, u, 10), row(o, `${u}b`, 12)), both('unknown_op', /op 'x' is not one of c, r, u, d/))] },
    { name: "op 'd' with an after image in another group", build: (o, u) => [step(o, change('d', row(o, u, 10), row(o, `${u}b`, 10)), both('unknown_op', /op 'd' with an after image/))] },
    { name: "op 'c' with a before image in another group", build: (o, u) => [step(o, change('c', row(o, u, 10), row(o, `${u}b`, 13)), both('unknown_op', /op 'c' with a before image/))] },
    {
      name: "op 'u' whose primary key and group both changed",
      build: (o, u) => [step(o, change('u', row(`${o}x`, u, 10), row(o, `${u}b`, 13)), both('unknown_op', /op 'u' whose before image has another primary key/))],
    },
    {
      name: 'update whose before image disagrees with the current row',
      build: (o, u) => [
        step(o, change('u', row(o, u, 99), row(o, u, 20)), [
          attr('before_mismatch', new RegExp(`before image of key ${o} disagrees with its current row on column amount`)),
          state('before_mismatch', new RegExp(`before image of row ${o} disagrees with what it contributes to group ${u}`)),
        ]),
      ],
    },
    {
      name: 'delete whose before image disagrees with the current row',
      build: (o, u) => [step(o, change('d', row(o, u, 99), null), [attr('before_mismatch', /on column amount/), state('before_mismatch', new RegExp(`group ${u}`))])],
    },
    {
      name: 'delete of a key never seen',
      build: (o, u) => [
        step(`${o}g`, change('d', row(`${o}g`, u, 5), null), [
          attr('unknown_retraction', new RegExp(`delete of key ${o}g, which is not live`)),
          state('unknown_retraction', new RegExp(`retraction of row ${o}g from group ${u}, which does not hold it`)),
        ]),
      ],
    },
    {
      name: 'a second delete of the same row',
      build: (o, u) => [step(o, change('d', row(o, u, 10), null)), step(o, change('d', row(o, u, 10), null), [attr('unknown_retraction', /which is not live/), state('unknown_retraction', /which does not hold it/)])],
      then: 'create',
    },
    {
      // Not bad any more: the current-state view replaces the key's row in its group (docs/table-and-changelog-sources.md, "Partial images").
      name: 'update without a before image: no letter, the group retracts the row it holds',
      build: (o, u) => [step(o, change('u', null, row(o, u, 30)))],
      then: 'none',
    },
    {
      // Not bad any more: the re-key stage's row index names the group (docs/semantics.md §16).
      name: 'delete with a key-only before image: no letter, the row leaves the group the stage’s index holds',
      build: (o) => [step(o, change('d', { order_id: o }, null))],
      then: 'create',
    },
    {
      name: 'key-only delete of a key never seen: the stage’s index holds no such row',
      build: (o) => [
        step(`${o}k`, change('d', { order_id: `${o}k`, user_id: '', amount: 0, status: '' }, null), [
          attr('unknown_retraction', new RegExp(`delete of key ${o}k, which is not live`)),
          state('unknown_retraction', new RegExp(`delete of row ${o}k has a key-only before image, which names no group, and the stage holds no row ${o}k`)),
        ]),
      ],
    },
    {
      name: 'primary key missing',
      build: (o, u) => [
        isJson
          ? step(o, json({ op: 'c', before: null, after: { user_id: u, amount: 1, status: 'open' }, ts_ms: t() }), both('schema_mismatch', /after\.order_id is missing/))
          : step(o, variant('noOrderId', { op: 'c', before: null, after: { user_id: u, amount: 1, status: 'open' }, ts_ms: t(), snapshot: null }), both('schema_mismatch', /writer schema cannot be read as the source schema: cannot read "poison\.OrderRow"/)),
      ],
    },
    { name: 'primary key empty', build: (_o, u) => [step(null, change('c', null, row('', u, 1)), both('invalid_key', /join key order_id is empty/))] },
    { name: 'primary key with a control character', build: (o, u) => [step(null, change('c', null, row(`${o}\u0001`, u, 1)), both('invalid_key', /join key order_id .*control characters/))] },
    { name: 'group key missing in after', build: (o) => [step(`${o}n`, change('c', null, row(`${o}n`, null, 5)), [state('missing_key', /after image: join key user_id is missing/)])] },
    { name: 'group key empty in after', build: (o) => [step(`${o}e`, change('c', null, row(`${o}e`, '', 5)), [state('invalid_key', /after image: join key user_id is empty/)])] },
    {
      name: 'commit time missing',
      build: (o, u) => [
        isJson
          ? step(o, json({ op: 'u', before: row(o, u, 10), after: row(o, u, 14) }), both('schema_mismatch', /commit time is missing/))
          : step(o, variant('noTs', { op: 'u', before: full(row(o, u, 10)), after: full(row(o, u, 14)), snapshot: null }), both('schema_mismatch', /writer schema cannot be read as the source schema/)),
      ],
    },
    {
      name: 'commit time not a number',
      build: (o, u) => [
        isJson
          ? step(o, json({ op: 'u', before: row(o, u, 10), after: row(o, u, 14), ts_ms: 'yesterday' }), both('schema_mismatch', /ts_ms is .*not epoch milliseconds/))
          : step(o, variant('tsString', { op: 'u', before: full(row(o, u, 10)), after: full(row(o, u, 14)), ts_ms: 'yesterday', snapshot: null }), both('schema_mismatch', /writer schema cannot be read as the source schema/)),
      ],
    },
    {
      name: 'commit time beyond 2^53',
      build: (o, u) => [
        isJson
          ? step(o, json({ op: 'u', before: row(o, u, 10), after: row(o, u, 14), ts_ms: 2 ** 60 }), both('schema_mismatch', /ts_ms is .*not epoch milliseconds within ±2\^53/))
          : step(o, change('u', row(o, u, 10), row(o, u, 14), 2n ** 60n), both('invalid_event_time', /ts_ms = 1152921504606846976 is beyond ±2\^53 ms/)),
      ],
    },
    { name: 'commit time in the future', build: (o, u) => [step(o, change('u', row(o, u, 10), row(o, u, 14), Date.now() + 30 * DAY_MS), both('future_event_time', /ms after the record's timestamp/))] },
    { name: 'late change', build: (o, u) => [step(o, change('u', row(o, u, 10), row(o, u, 14), BASE_MS - DAY_MS), both('late', /event time -?\d+ ≤ watermark/))] },
    {
      name: isJson ? 'bytes that are not JSON' : 'bytes that are not Avro',
      build: (o) => [isJson ? step(o, Buffer.from('{"op": "c", '), both('undecodable', /not JSON/)) : step(o, Buffer.from([1, 0, 0, 0, 1, 2]), both('undecodable', /./))],
    },
    {
      name: isJson ? 'JSON of the wrong shape (an array; an image that is a string)' : 'Avro with trailing bytes',
      build: (o) =>
        isJson
          ? [step(o, json([1, 2]), both('undecodable', /a change message is a JSON object, got/)), step(o, json({ op: 'c', before: null, after: 'row', ts_ms: t() }), both('schema_mismatch', /after is .*not an object \(a row\)/))]
          : [step(o, Buffer.concat([change('c', null, row(o, 'u', 1)), Buffer.from([0])]), both('undecodable', /trailing bytes/))],
    },
    {
      name: 'a value of the wrong type in an image',
      build: (o, u) => [
        isJson
          ? step(o, json({ op: 'u', before: row(o, u, 10), after: { ...row(o, u, 10), amount: '12' }, ts_ms: t() }), both('schema_mismatch', /after\.amount is .*string/))
          : step(o, variant('amountString', { op: 'u', before: { ...full(row(o, u, 10)), amount: '10' }, after: { ...full(row(o, u, 10)), amount: '12' }, ts_ms: t(), snapshot: null }), both('schema_mismatch', /writer schema cannot be read as the source schema/)),
      ],
    },
    // JSON numbers a double cannot carry (schemas/json-number-literals.ts); Avro has no such literal.
    ...(isJson
      ? [
          {
            name: 'commit time a fraction JSON would round to an integer',
            build: (o: string, u: string) => [
              step(o, literal({ op: 'u', before: row(o, u, 10), after: row(o, u, 14), ts_ms: 0 }, '"ts_ms":0', `"ts_ms":${t()}.0000001`), both('schema_mismatch', /ts_ms is number \d+\.0000001, not epoch milliseconds/)),
            ],
          },
          {
            name: 'amount beyond the range of a double',
            build: (o: string, u: string) => [step(o, literal({ op: 'u', before: row(o, u, 10), after: row(o, u, 0), ts_ms: t() }, '"amount":0', '"amount":-1e400'), both('schema_mismatch', /after\.amount is number -1e400, beyond the range of a double/))],
          },
        ]
      : []),
    {
      name: 'invalid UTF-8 in a key column',
      build: (o, u) => [step(null, patched(change('c', null, row(`${o}XY`, u, 1)), `${o}XY`, [...Buffer.from(o), 0xc0, 0xaf]), both('invalid_key', /join key order_id is not valid UTF-8$/))],
    },
    { name: 'value over the size limit', build: (o, u) => [step(o, change('u', row(o, u, 10), row(o, u, 10, 'x'.repeat(1_100_000))), both('oversize', /exceeds the 1048576-byte limit/))] },
    {
      name: 'column over the view string limit (filtered out of the current-state view)',
      build: (o, u) => [step(`${o}s`, change('c', null, row(`${o}s`, u, 1, 'x'.repeat(5_000))), [attr('oversize', /column status is a string of 5000 UTF-8 bytes/)])],
    },
    // Quirks of real Debezium output (docs/table-and-changelog-sources.md, partial images).
    {
      name: 'commit time 0 (a connector that does not know it): never a 1970 change',
      build: (o, u) => [
        isJson
          ? step(o, json({ op: 'u', before: row(o, u, 10), after: row(o, u, 14), ts_ms: 0, source: { ts_ms: 0 } }), both('schema_mismatch', /commit time is unknown: source\.ts_ms and ts_ms are 0/))
          : step(o, change('u', row(o, u, 10), row(o, u, 14), 0), both('missing_event_time', /ts_ms is 0: a CDC connector writes 0 when it does not know the commit time/)),
      ],
    },
    {
      name: "key-only delete whose NOT NULL columns hold fallbacks ('' and 0): the key is deleted, from the group the stage's index holds",
      build: (o) => [step(o, change('d', { order_id: o, user_id: '', amount: 0, status: '' }, null))],
      then: 'create',
    },
    {
      name: "update with Debezium's unavailable-value placeholder and no before image: the attribute keeps the current value",
      build: (o, u) => [step(o, change('u', null, row(o, u, 10, '__debezium_unavailable_value')), [state('unavailable_value', new RegExp(`column status of row ${o} is the CDC tool's unavailable-value placeholder`))])],
    },
    ...envelopeCases(kit),
  ]
  return cases.map((c, i) => {
    const o = `o${i}`
    const u = `u${i}`
    const steps = [step(o, change('c', null, row(o, u, 10))), ...c.build(o, u)]
    if ((c.then ?? 'update') === 'update') steps.push(step(o, change('u', row(o, u, 10), row(o, u, 11))))
    if (c.then === 'create') steps.push(step(o, change('c', null, row(o, u, 11))))
    return { name: c.name, steps }
  })
}
