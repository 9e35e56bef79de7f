/**
 * Every Avro type a value can be written or read as, with each logical type the spec puts on it
 * (or none), and the outcome docs/semantics.md ("Logical types in writer schemas") documents for
 * each (writer, reader) pair: read as avsc reads the plain types, converted to the reader's unit,
 * or refused. Shared by the decoder's and the embedded registry's tests, which must agree.
 */
import avro from 'avsc'

export interface Variant {
  /** How the test names it: `long/timestamp-micros`, `bytes/decimal(10,2)`, `int`. */
  readonly label: string
  readonly schema: unknown
  /** Values a writer of this variant writes. */
  readonly values: readonly unknown[]
  readonly underlying: string
  readonly logical?: { readonly name: string; readonly precision?: number; readonly scale?: number }
}

const fixed = (size: number, extra: object = {}) => ({ type: 'fixed', name: `F${size}`, size, ...extra })
const logical = (type: string, name: string, extra: object = {}) => ({ type, logicalType: name, ...extra })

const LONG_VALUES = [-1_234_567, 0, 1_700_000_000_123]
const INT_VALUES = [-1, 19_700, 86_399_999]

function variant(underlying: string, schema: unknown, values: readonly unknown[], l?: Variant['logical']): Variant {
  const params = l?.precision === undefined ? '' : `(${l.precision},${l.scale})`
  return {
    label: l === undefined ? underlying : `${underlying}/${l.name}${params}`,
    schema,
    values,
    underlying,
    ...(l === undefined ? {} : { logical: l }),
  }
}

const bytes16 = Buffer.from([0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0xde, 0xf0, 0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0xde, 0xf0])
const bytes12 = bytes16.subarray(0, 12)
const DECIMALS = [
  [10, 2],
  [12, 2],
  [10, 4],
  [8, 2],
] as const

export const VARIANTS: readonly Variant[] = [
  variant('int', 'int', INT_VALUES),
  ...['date', 'time-millis'].map((n) => variant('int', logical('int', n), INT_VALUES, { name: n })),
  variant('long', 'long', LONG_VALUES),
  ...[
    'time-micros',
    'timestamp-millis',
    'timestamp-micros',
    'timestamp-nanos',
    'local-timestamp-millis',
    'local-timestamp-micros',
    'local-timestamp-nanos',
  ].map((n) => variant('long', logical('long', n), LONG_VALUES, { name: n })),
  variant('float', 'float', [1.5]),
  variant('double', 'double', [-2.25]),
  variant('bytes', 'bytes', [Buffer.from('ok')]),
  ...DECIMALS.map(([p, s]) =>
    variant('bytes', logical('bytes', 'decimal', { precision: p, scale: s }), [Buffer.from([0xff, 0x85])], {
      name: 'decimal',
      precision: p,
      scale: s,
    }),
  ),
  variant('bytes', logical('bytes', 'big-decimal'), [Buffer.from([0x04, 0xd2, 0x02])], { name: 'big-decimal' }),
  variant('fixed16', fixed(16), [bytes16]),
  variant('fixed16', fixed(16, { logicalType: 'uuid' }), [bytes16], { name: 'uuid' }),
  variant('fixed16', fixed(16, { logicalType: 'decimal', precision: 10, scale: 2 }), [bytes16], {
    name: 'decimal',
    precision: 10,
    scale: 2,
  }),
  variant('fixed12', fixed(12), [bytes12]),
  variant('fixed12', fixed(12, { logicalType: 'duration' }), [bytes12], { name: 'duration' }),
  variant('fixed12', fixed(12, { logicalType: 'decimal', precision: 10, scale: 2 }), [bytes12], {
    name: 'decimal',
    precision: 10,
    scale: 2,
  }),
  variant('string', 'string', ['caf\u00e9']),
  variant('string', logical('string', 'uuid'), ['0b7e4c1e-2f7a-4a5e-9d5b-6f1c2d3e4f50'], { name: 'uuid' }),
]

/** Where the value sits in the record: the field itself, a nullable field, array items, map values. */
export interface Position {
  readonly label: string
  readonly writer: (t: unknown) => unknown
  readonly reader: (t: unknown) => unknown
  /** The writer's datum for one value, and what the reader gets for it given what the value reads as. */
  readonly datum: (v: unknown) => unknown
  readonly read: (v: unknown) => unknown
}

export const POSITIONS: readonly Position[] = [
  { label: 'field', writer: (t) => t, reader: (t) => t, datum: (v) => v, read: (v) => v },
  { label: 'nullable field', writer: (t) => ['null', t], reader: (t) => ['null', t], datum: (v) => v, read: (v) => v },
  { label: 'field read as nullable', writer: (t) => t, reader: (t) => ['null', t], datum: (v) => v, read: (v) => v },
  {
    label: 'array items',
    writer: (t) => ({ type: 'array', items: t }),
    reader: (t) => ({ type: 'array', items: t }),
    datum: (v) => [v, v],
    read: (v) => [v, v],
  },
  {
    label: 'map values',
    writer: (t) => ({ type: 'map', values: t }),
    reader: (t) => ({ type: 'map', values: ['null', t] }),
    datum: (v) => ({ k: v }),
    read: (v) => ({ k: v }),
  },
]

export const recordOf = (type: unknown) => ({ type: 'record', name: 'Event', fields: [{ name: 'v', type }] })

/** Whether avsc reads `writer` as `reader` at all (by underlying types): only those pairs are this class. */
export function avscResolves(writer: Variant, reader: Variant): boolean {
  try {
    avro.Type.forSchema(reader.schema as avro.Schema).createResolver(avro.Type.forSchema(writer.schema as avro.Schema))
    return true
  } catch {
    return false
  }
}

/** What the plain types read a written value as (a promotion: int → double, bytes → string…). */
export function plainRead(writer: Variant, reader: Variant, value: unknown): unknown {
  const w = avro.Type.forSchema(writer.schema as avro.Schema)
  const r = avro.Type.forSchema(reader.schema as avro.Schema)
  return r.fromBuffer(w.toBuffer(value), r.createResolver(w))
}

export type Outcome =
  | { readonly kind: 'same' }
  | { readonly kind: 'convert'; readonly apply: (v: number) => number | bigint }
  | { readonly kind: 'refuse' }

const CLOCKS: Record<string, [clock: string, unitPow: number]> = {
  'time-millis': ['time', 0],
  'time-micros': ['time', 1],
  'timestamp-millis': ['utc', 0],
  'timestamp-micros': ['utc', 1],
  'timestamp-nanos': ['utc', 2],
  'local-timestamp-millis': ['local', 0],
  'local-timestamp-micros': ['local', 1],
  'local-timestamp-nanos': ['local', 2],
}

/** The documented outcome (docs/semantics.md), written out independently of schemas/logical-types.ts. */
export function expectedOutcome(writer: Variant, reader: Variant): Outcome {
  const w = writer.logical
  const r = reader.logical
  if (w === undefined || w.name === 'uuid') return { kind: 'same' }
  if (r !== undefined && r.name === w.name && r.precision === w.precision && r.scale === w.scale) return { kind: 'same' }
  if (r === undefined) {
    if (
      (w.name === 'timestamp-millis' || w.name === 'local-timestamp-millis') &&
      ['long', 'float', 'double'].includes(reader.underlying)
    )
      return { kind: 'same' }
    if (['decimal', 'big-decimal', 'duration'].includes(w.name) && reader.underlying !== 'string') return { kind: 'same' }
    return { kind: 'refuse' }
  }
  const wc = CLOCKS[w.name]
  const rc = CLOCKS[r.name]
  if (wc && rc) {
    if (wc[0] !== rc[0]) return { kind: 'refuse' }
    const factor = 1000n ** BigInt(Math.abs(rc[1] - wc[1]))
    return {
      kind: 'convert',
      apply: (v) => {
        const big = BigInt(v)
        // Floor toward −∞ when coarser: −1 µs is in the millisecond −1.
        const out = rc[1] > wc[1] ? big * factor : big / factor - (big % factor !== 0n && big < 0n ? 1n : 0n)
        return out >= BigInt(Number.MIN_SAFE_INTEGER) && out <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(out) : out
      },
    }
  }
  // A writer without a precision (a Connect Decimal may say only its scale) is held to the scale.
  if (
    w.name === 'decimal' &&
    r.name === 'decimal' &&
    w.scale === r.scale &&
    (w.precision === undefined || (r.precision ?? 0) >= w.precision)
  )
    return { kind: 'same' }
  return { kind: 'refuse' }
}

/** How the refusal names a variant: `timestamp-micros`, `decimal(10, 2)`, `plain long`. */
export function describedAs(v: Variant, readAs = v.underlying): string {
  const l = v.logical
  if (l === undefined) return `plain ${readAs.replace(/\d+$/, '')}`
  if (l.name !== 'decimal') return l.name
  return l.precision === undefined ? `decimal(scale ${l.scale})` : `decimal(${l.precision}, ${l.scale})`
}
