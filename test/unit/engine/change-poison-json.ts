/**
 * The kinds of bad change record only Debezium JSON has, for change-poison-kinds.test.ts (built in
 * stream order with change-poison-envelopes.ts's): JSON that is not one object, names given twice,
 * nesting too deep to read, numbers JSON cannot carry exactly.
 */
import { both, row, type Case, type Kit } from './change-poison-cases.ts'
import type { EnvelopeHelpers } from './change-poison-envelopes.ts'

export function jsonEnvelopeCases(kit: Kit, helpers: EnvelopeHelpers): Case[] {
  if (kit.format.name !== 'json') return []
  const { t, json, literal, patched, step } = kit
  const { message, update } = helpers
  return [
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
        step(o, json({ before: null, after: row(o, u, 12), ts_ms: t() }), both('schema_mismatch', /op is missing, not a string/)),
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
          both('invalid_key', /join key order_id is not well-formed Unicode \(it holds a lone surrogate\)$/),
        ),
      ],
    },
    {
      name: 'invalid UTF-8 in a field the envelope drops (source.db)',
      build: (o, u) => [
        step(
          o,
          patched(json(message('u', row(o, u, 10), row(o, u, 14), { source: { db: 'dbXY' } })), 'dbXY', [0x64, 0x62, 0xc3, 0x28]),
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
  ]
}

/** A JSON array nested 300 000 deep around `inner`: 600 kB, under the 1 MiB value limit. */
function deepArray(inner: string): string {
  return `${'['.repeat(300_000)}${inner}${']'.repeat(300_000)}`
}
