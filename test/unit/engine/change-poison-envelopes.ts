/**
 * More kinds of bad change record for change-poison-kinds.test.ts (change-poison-cases.ts builds
 * them in stream order with the others): the wire and the envelope — values that are no message
 * at all, JSON that is not one object, ops and images of every wrong shape, key columns and values
 * of wrong types or beyond what a number carries, commit times of every wrong kind, invalid UTF-8
 * where it matters and where it does not, the Debezium wrapper, and Avro framing and bodies. Some
 * steps are good records of odd but valid shapes (an `r` of a live key, a bare `ts_ms`): they
 * must be accepted, not refused.
 */
import { avroVariants, BASE_MS, both, attr, framed, row, state, type Case, type Kit, type Step } from './change-poison-cases.ts'

export function envelopeCases(kit: Kit): Case[] {
  const { format: f, t, full, avro, change, json, literal, variant, patched, step } = kit
  const isJson = f.name === 'json'
  /** A Debezium JSON message (the caller's fields), or for Avro a change of the same images. */
  const message = (op: string, before: unknown, after: unknown, extra: Record<string, unknown> = {}) => ({
    op,
    before,
    after,
    ts_ms: t(),
    ...extra,
  })
  const jsonOnly = (cases: Case[]): Case[] => (isJson ? cases : [])
  const avroOnly = (cases: Case[]): Case[] => (isJson ? [] : cases)
  /** A good update from `from` to `to` (amounts), the follow-up of a case whose good step changed the row. */
  const update = (o: string, u: string, from: number, to: number): Step => step(o, change('u', row(o, u, from), row(o, u, to)))

  return [
    {
      name: 'a record with no value (the tombstone after a delete)',
      build: (o) => [step(o, null, both('undecodable', /the record has no value \(tombstone\)/))],
    },
    {
      name: 'an empty value (zero bytes)',
      build: (o) => [step(o, Buffer.alloc(0), both('undecodable', isJson ? /not JSON/ : /./))],
    },
    {
      name: 'a truncated change',
      build: (o, u) => {
        const whole = change('u', row(o, u, 10), row(o, u, 13))
        return [step(o, whole.subarray(0, whole.length - 4), both('undecodable', isJson ? /not JSON/ : /truncated/))]
      },
    },
    {
      name: "op '' (empty)",
      build: (o, u) => [step(o, change('', null, row(o, u, 12)), both('unknown_op', /op '' is not one of c, r, u, d/))],
    },
    {
      name: "op 'C' (upper case)",
      build: (o, u) => [step(o, change('C', null, row(o, u, 12)), both('unknown_op', /op 'C' is not one of c, r, u, d/))],
    },
    {
      name: "op 'r' (a snapshot read) of a live key: an upsert",
      build: (o, u) => [step(o, change('r', null, row(o, u, 15))), update(o, u, 15, 16)],
      then: 'none',
    },
    { name: "op 'r' of a key never seen", build: (o, u) => [step(`${o}r`, change('r', null, row(`${o}r`, u, 7)))] },
    {
      name: "op 'c' of a live key: an upsert",
      build: (o, u) => [step(o, change('c', null, row(o, u, 15))), update(o, u, 15, 16)],
      then: 'none',
    },
    {
      name: 'update of a key never seen',
      // The letter is the retraction's; the after image is added (docs/design.md §11: the parts are independent, as when split across groups).
      build: (o, u) => [
        step(`${o}n`, change('u', row(`${o}n`, u, 5), row(`${o}n`, u, 6)), [
          {
            ...state('unknown_retraction', new RegExp(`retraction of row ${o}n from group ${u}, which does not hold it`)),
            partial: true,
          },
        ]),
      ],
    },
    {
      name: 'primary key null',
      build: (o, u) => [
        isJson
          ? step(
              o,
              json(message('c', null, { ...row(o, u, 1), order_id: null })),
              both('schema_mismatch', /after\.order_id is null, not a string/),
            )
          : step(
              o,
              variant('orderIdNullable', {
                op: 'c',
                before: null,
                after: { ...full(row(o, u, 1)), order_id: null },
                ts_ms: t(),
                snapshot: null,
              }),
              both('schema_mismatch', /./),
            ),
      ],
    },
    {
      name: 'primary key of another type (a number)',
      build: (o, u) => [
        isJson
          ? step(
              o,
              json(message('c', null, { ...row(o, u, 1), order_id: 5 })),
              both('schema_mismatch', /after\.order_id is number 5, not a string/),
            )
          : step(
              o,
              variant('orderIdLong', {
                op: 'c',
                before: null,
                after: { ...full(row(o, u, 1)), order_id: 5 },
                ts_ms: t(),
                snapshot: null,
              }),
              both('schema_mismatch', /writer schema cannot be read as the source schema/),
            ),
      ],
    },
    {
      name: 'primary key over 512 bytes',
      build: (_o, u) => [
        step(
          null,
          change('c', null, row('k'.repeat(600), u, 1)),
          both('invalid_key', /join key order_id is longer than 512 bytes/),
        ),
      ],
    },
    {
      name: 'group key over 512 bytes',
      build: (o) => [
        step(`${o}g`, change('c', null, row(`${o}g`, 'g'.repeat(600), 1)), [
          state('invalid_key', /join key user_id is longer than 512 bytes/),
        ]),
      ],
    },
    {
      name: 'invalid UTF-8 in a value column',
      build: (o, u) => [
        step(
          o,
          patched(change('u', row(o, u, 10), row(o, u, 13, 'opXY')), 'opXY', [0x6f, 0x70, 0xed, 0xa0]),
          both('invalid_utf8', /field after\.status is not valid UTF-8/),
        ),
      ],
    },
    {
      name: 'invalid UTF-8 in the group key',
      build: (o, u) => [
        // Not invalid_key for the current-state view: as for the primary key (change-poison-cases.ts), the image's column is named.
        step(
          o,
          patched(change('u', row(o, u, 10), row(o, `${u}XY`, 13)), `${u}XY`, [...Buffer.from(u), 0xff, 0xfe]),
          both('invalid_utf8', /field after\.user_id is not valid UTF-8/),
        ),
      ],
    },
    {
      name: 'commit time negative',
      build: (o, u) => [step(o, change('u', row(o, u, 10), row(o, u, 14), -5_000), both('late', /event time -5000 ≤ watermark/))],
    },
    {
      name: 'commit time in seconds, not milliseconds',
      build: (o, u) => [
        step(o, change('u', row(o, u, 10), row(o, u, 14), Math.floor(BASE_MS / 1000) + 99), both('late', /≤ watermark/)),
      ],
    },
    {
      name: 'commit time in the far future (year 9999)',
      build: (o, u) => [
        step(
          o,
          change('u', row(o, u, 10), row(o, u, 14), 253_402_300_799_000),
          both('future_event_time', /ms after the record's timestamp/),
        ),
      ],
    },
    {
      name: 'a long column beyond 2^53',
      build: (o, u) =>
        isJson
          ? [
              step(
                o,
                literal(message('u', row(o, u, 10), { ...row(o, u, 10), qty: 7 }), '"qty":7', '"qty":1152921504606846977'),
                both('schema_mismatch', /after\.qty is number 1152921504606847000, beyond ±2\^53/),
              ),
            ]
          : // Avro carries it exactly; an attribute is a double, so the attribute view refuses it (the current-state view does not read qty).
            [
              step(o, change('u', row(o, u, 10), { ...row(o, u, 10), qty: 2n ** 60n + 1n }), [
                attr('out_of_range', /column qty = 1152921504606846977 is a long beyond ±2\^53/),
              ]),
            ],
    },
    {
      name: 'a double beyond what a sum can hold (1e300)',
      // The attribute view takes it, so no follow-up update fits both views; a retraction applied by the refused change would show as an emptied group.
      build: (o, u) => [step(o, change('u', row(o, u, 10), row(o, u, 1e300)), [state('out_of_range', /./)])],
      then: 'none',
    },
    { name: 'a primary key in non-ASCII letters', build: (o, u) => [step(`${o}ü`, change('c', null, row(`${o}ü€`, u, 3)))] },
    ...avroOnly(
      ['NaN', 'Infinity', '-Infinity'].map((x) => ({
        name: `a double that is ${x}`,
        build: (o: string, u: string) => [
          step(o, change('u', row(o, u, 10), row(o, u, Number(x))), [attr('out_of_range', /./), state('out_of_range', /./)]),
        ],
      })),
    ),
    ...jsonOnly([
      {
        name: 'JSON that is a number',
        build: (o) => [step(o, Buffer.from('42'), both('undecodable', /a change message is a JSON object, got number 42/))],
      },
      {
        name: 'JSON that is a string',
        build: (o) => [step(o, Buffer.from('"c"'), both('undecodable', /a change message is a JSON object, got the string "c"/))],
      },
      {
        name: 'JSON null (not a tombstone: the value is the text null)',
        build: (o) => [step(o, Buffer.from('null'), both('undecodable', /a change message is a JSON object, got null/))],
      },
      {
        name: 'JSON that is a boolean',
        build: (o) => [step(o, Buffer.from('true'), both('undecodable', /a change message is a JSON object, got boolean true/))],
      },
      {
        name: 'op missing',
        build: (o, u) => [
          step(
            o,
            json({ before: null, after: row(o, u, 12), ts_ms: t() }),
            both('schema_mismatch', /op is missing, not a string/),
          ),
        ],
      },
      {
        name: 'op null',
        build: (o, u) => [
          step(o, json(message(null as never, null, row(o, u, 12))), both('schema_mismatch', /op is null, not a string/)),
        ],
      },
      {
        name: 'after image that is an array',
        build: (o, u) => [
          step(
            o,
            json(message('u', row(o, u, 10), [row(o, u, 12)])),
            both('schema_mismatch', /after is an array, not an object \(a row\)/),
          ),
        ],
      },
      {
        name: 'after image that is a number',
        build: (o, u) => [
          step(o, json(message('u', row(o, u, 10), 5)), both('schema_mismatch', /after is number 5, not an object \(a row\)/)),
        ],
      },
      {
        name: 'before image of a delete that is a string',
        build: (o) => [
          step(o, json(message('d', o, null)), both('schema_mismatch', /before is the string "o\d+", not an object \(a row\)/)),
        ],
      },
      {
        name: 'a value of another type (a boolean amount)',
        build: (o, u) => [
          step(
            o,
            json(message('u', row(o, u, 10), { ...row(o, u, 10), amount: true })),
            both('schema_mismatch', /after\.amount is boolean true/),
          ),
        ],
      },
      {
        name: 'a group key of another type (a number)',
        build: (o, u) => [
          step(
            o,
            json(message('u', row(o, u, 10), { ...row(o, u, 10), user_id: 42 })),
            both('schema_mismatch', /after\.user_id is number 42/),
          ),
        ],
      },
      {
        name: "Debezium's NaN (a string) in a double column",
        build: (o, u) => [
          step(
            o,
            json(message('u', row(o, u, 10), { ...row(o, u, 10), amount: 'NaN' })),
            both('schema_mismatch', /after\.amount is the string "NaN"/),
          ),
        ],
      },
      {
        name: 'commit time a fraction',
        build: (o, u) => [
          step(
            o,
            json({ op: 'u', before: row(o, u, 10), after: row(o, u, 14), ts_ms: t() + 0.5 }),
            both('schema_mismatch', /ts_ms is number \d+\.5, not epoch milliseconds/),
          ),
        ],
      },
      {
        name: 'source.ts_ms a string',
        build: (o, u) => [
          step(
            o,
            json(message('u', row(o, u, 10), row(o, u, 14), { source: { ts_ms: 'now' } })),
            both('schema_mismatch', /source\.ts_ms is the string "now", not epoch milliseconds/),
          ),
        ],
      },
      {
        name: 'source.ts_ms absent: ts_ms is the commit time',
        build: (o, u) => [step(o, json(message('u', row(o, u, 10), row(o, u, 14)))), update(o, u, 14, 11)],
        then: 'none',
      },
      {
        name: 'source not an object: ts_ms is the commit time',
        build: (o, u) => [step(o, json(message('u', row(o, u, 10), row(o, u, 14), { source: 'pg' }))), update(o, u, 14, 11)],
        then: 'none',
      },
      {
        name: 'the {schema, payload} wrapper',
        build: (o, u) => [
          step(
            o,
            json({
              schema: { type: 'struct', optional: false },
              payload: { op: 'u', before: row(o, u, 10), after: row(o, u, 14), ts_ms: t() },
            }),
          ),
          update(o, u, 14, 11),
        ],
        then: 'none',
      },
      {
        name: 'a wrapper whose payload is null',
        build: (o) => [
          step(
            o,
            json({ schema: null, payload: null }),
            both('undecodable', /the payload of the \{schema, payload\} wrapper is null, not an object/),
          ),
        ],
      },
      {
        name: 'a wrapper whose payload is a string',
        build: (o) => [
          step(
            o,
            json({ schema: {}, payload: 'x' }),
            both('undecodable', /the payload of the \{schema, payload\} wrapper is the string "x", not an object/),
          ),
        ],
      },
      {
        name: 'a lone surrogate in the primary key',
        build: (o, u) => [
          step(
            null,
            json(message('c', null, row(`${o}\ud800`, u, 1))),
            both('invalid_utf8', /field after\.order_id is not valid UTF-8 \(a lone surrogate\)/),
          ),
        ],
      },
      {
        name: 'invalid UTF-8 in a field the envelope drops (source.db)',
        build: (o, u) => [
          step(
            o,
            patched(
              json(message('u', row(o, u, 10), row(o, u, 14), { source: { db: 'dbXY' } })),
              'dbXY',
              [0x64, 0x62, 0xc3, 0x28],
            ),
          ),
          update(o, u, 14, 11),
        ],
        then: 'none',
      },
      {
        // JSON.parse reads any depth; what walks the parsed value must not run out of stack on it.
        name: 'a field the envelope drops, nested deeper than the call stack',
        build: (o: string, u: string) => [
          step(o, literal(message('u', row(o, u, 10), row(o, u, 14), { x: 0 }), '"x":0', `"x":${deepArray('0')}`)),
          update(o, u, 14, 11),
        ],
        then: 'none' as const,
      },
      {
        name: 'the same, holding a number literal JSON would round',
        build: (o: string, u: string) => [
          step(
            o,
            literal(message('u', row(o, u, 10), row(o, u, 14), { x: 0 }), '"x":0', `"x":${deepArray('1.00000000000000001')}`),
            both('undecodable', /the JSON is nested too deeply to read/),
          ),
        ],
      },
      {
        name: 'a duplicate name in the message (two ops)',
        build: (o, u) => [
          step(
            o,
            literal(message('u', row(o, u, 10), row(o, u, 14)), '"op":"u"', '"op":"u","op":"d"'),
            both('undecodable', /the message holds the name "op" twice/),
          ),
        ],
      },
      {
        name: 'a duplicate column in an image',
        build: (o, u) => [
          step(
            o,
            literal(message('u', row(o, u, 10), row(o, u, 14)), '"amount":14', '"amount":14,"amount":99'),
            both('undecodable', /the object at after holds the name "amount" twice/),
          ),
        ],
      },
    ]),
    ...avroOnly([
      {
        name: 'Avro with another magic byte',
        build: (o, u) => [step(o, magic(change('u', row(o, u, 10), row(o, u, 13)), 1), both('undecodable', /magic byte/))],
      },
      {
        name: 'Avro naming a schema id the registry does not know',
        build: (o) => [step(o, framed(4242, Buffer.from([2, 0x63])), both('unknown_schema', /schema id 4242 is not registered/))],
      },
      {
        name: 'an Avro body that does not match its writer schema',
        build: (o) => [step(o, framed(f.schemaId, Buffer.from([0x07, 0xff, 0xff, 0xff])), both('undecodable', /./))],
      },
      {
        name: 'an Avro body written with another schema than its id names',
        build: (o, u) => [
          step(
            o,
            avro(avroVariants(f.rowSchema).noOp!, f.schemaId, {
              before: full(row(o, u, 10)),
              after: full(row(o, u, 13)),
              ts_ms: t(),
              snapshot: null,
            }),
            both('undecodable', /./),
          ),
        ],
      },
      {
        name: 'Avro envelope without op',
        build: (o, u) => [
          step(
            o,
            variant('noOp', { before: full(row(o, u, 10)), after: full(row(o, u, 13)), ts_ms: t(), snapshot: null }),
            both('schema_mismatch', /writer schema cannot be read as the source schema/),
          ),
        ],
      },
    ]),
  ]
}

/** A JSON array nested 300 000 deep around `inner`: 600 kB, under the 1 MiB value limit. */
function deepArray(inner: string): string {
  return `${'['.repeat(300_000)}${inner}${']'.repeat(300_000)}`
}

function magic(bytes: Uint8Array, byte: number): Uint8Array {
  const out = Buffer.from(bytes)
  out[0] = byte
  return out
}
