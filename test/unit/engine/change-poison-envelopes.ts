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
import { jsonEnvelopeCases } from './change-poison-json.ts'

/** What the envelope cases build their steps with, beside the kit. */
export interface EnvelopeHelpers {
  /** A Debezium JSON message (the caller's fields), or for Avro a change of the same images. */
  readonly message: (op: string, before: unknown, after: unknown, extra?: Record<string, unknown>) => Record<string, unknown>
  /** A good update from `from` to `to` (amounts), the follow-up of a case whose good step changed the row. */
  readonly update: (o: string, u: string, from: number, to: number) => Step
}

export function envelopeCases(kit: Kit): Case[] {
  const { format: f, t, full, avro, change, json, literal, variant, patched, step } = kit
  const isJson = f.name === 'json'
  const helpers: EnvelopeHelpers = {
    message: (op, before, after, extra = {}) => ({ op, before, after, ts_ms: t(), ...extra }),
    update: (o, u, from, to) => step(o, change('u', row(o, u, from), row(o, u, to))),
  }
  const { message, update } = helpers
  const avroOnly = (cases: Case[]): Case[] => (isJson ? [] : cases)

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
        // invalid_key for the current-state view, whose join key it is (as for a plain event's key, docs/semantics.md §20);
        // a value of the attribute view, which names the image's column.
        step(o, patched(change('u', row(o, u, 10), row(o, `${u}XY`, 13)), `${u}XY`, [...Buffer.from(u), 0xff, 0xfe]), [
          attr('invalid_utf8', /field after\.user_id is not valid UTF-8/),
          state('invalid_key', /^re-key by user: join key user_id is not valid UTF-8$/),
        ]),
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
    ...jsonEnvelopeCases(kit, helpers),
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

function magic(bytes: Uint8Array, byte: number): Uint8Array {
  const out = Buffer.from(bytes)
  out[0] = byte
  return out
}
