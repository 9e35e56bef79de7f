/**
 * Property: after any evolution of where strings and bytes sit — each leaf written as `string` or
 * `bytes` and read as either, top-level fields renamed (the reader naming the writer's name as an
 * alias) or no longer read, leaves inside arrays, maps, nullable unions and nested records — a
 * record decodes exactly when every value the reader reads as a string is valid UTF-8, to the
 * reader's shape (strings as text, bytes as sent); otherwise it is refused `invalid_utf8` naming,
 * in the reader's names, the first such value in the writer's order. A value the reader reads as
 * bytes, or does not read, may hold any bytes.
 *
 * Wire bytes are made with a physical schema where every leaf is `bytes` (string and bytes share
 * one binary encoding), so any byte sequence can be sent where the writer declares a string.
 */
import assert from 'node:assert/strict'
import { isUtf8 } from 'node:buffer'
import { describe, test } from 'node:test'
import avro from 'avsc'
import fc from 'fast-check'
import { createDecoder } from '../../../schemas/decoder.ts'
import type { AvroSchema } from '../../../ports/schema-registry.ts'

type Leaf = 'string' | 'bytes'
type Shape =
  | { readonly kind: 'leaf'; readonly w: Leaf; readonly r: Leaf }
  | { readonly kind: 'array' | 'map' | 'nullable'; readonly w: Leaf; readonly r: Leaf }
  | { readonly kind: 'record'; readonly fields: readonly { readonly w: Leaf; readonly r: Leaf }[] }
interface Field {
  readonly shape: Shape
  /** The reader's name for it: the writer's (`f<i>`), a new one with the writer's as alias, or not read at all. */
  readonly read: 'same' | 'renamed' | 'dropped'
}

const leaf = fc.constantFrom<Leaf>('string', 'bytes')
const shapeArb: fc.Arbitrary<Shape> = fc.oneof(
  fc.record({ kind: fc.constant('leaf' as const), w: leaf, r: leaf }),
  fc.record({ kind: fc.constantFrom('array' as const, 'map' as const, 'nullable' as const), w: leaf, r: leaf }),
  fc.record({
    kind: fc.constant('record' as const),
    fields: fc.array(fc.record({ w: leaf, r: leaf }), { minLength: 1, maxLength: 2 }),
  }),
)
const fieldsArb = fc.array(
  fc.record({ shape: shapeArb, read: fc.constantFrom('same' as const, 'renamed' as const, 'dropped' as const) }),
  { minLength: 1, maxLength: 4 },
)

/** Byte sequences: ASCII, valid multi-byte (é, a genuine U+FFFD), and invalid ones. */
const PIECES = [[0x61], [0xc3, 0xa9], [0xef, 0xbf, 0xbd], [0xff], [0x80], [0xc3], [0xed, 0xa0, 0x80]]
const bytesArb = fc.array(fc.constantFrom(...PIECES), { maxLength: 3 }).map((ps) => Buffer.from(ps.flat()))

type Value = Buffer | null | Buffer[] | Record<string, Buffer>
const valueArb = (shape: Shape): fc.Arbitrary<Value | Value[]> => {
  switch (shape.kind) {
    case 'leaf':
      return bytesArb
    case 'array':
      return fc.array(bytesArb, { maxLength: 3 })
    case 'map':
      return fc.array(bytesArb, { maxLength: 3 }).map((vs) => Object.fromEntries(vs.map((v, i) => [`k${i}`, v])))
    case 'nullable':
      return fc.option(bytesArb, { nil: null })
    case 'record':
      return fc.tuple(...shape.fields.map(() => bytesArb))
  }
}

function typeOf(shape: Shape, side: 'w' | 'r' | 'physical', name: string): unknown {
  const at = (l: { w: Leaf; r: Leaf }): Leaf => (side === 'physical' ? 'bytes' : l[side])
  switch (shape.kind) {
    case 'leaf':
      return at(shape)
    case 'array':
      return { type: 'array', items: at(shape) }
    case 'map':
      return { type: 'map', values: at(shape) }
    case 'nullable':
      return ['null', at(shape)]
    case 'record':
      return { type: 'record', name: `N${name}`, fields: shape.fields.map((l, i) => ({ name: `g${i}`, type: at(l) })) }
  }
}

function schemas(fields: readonly Field[]) {
  const writer = {
    type: 'record',
    name: 'E',
    fields: fields.map((f, i) => ({ name: `f${i}`, type: typeOf(f.shape, 'w', String(i)) })),
  }
  const physical = {
    type: 'record',
    name: 'E',
    fields: fields.map((f, i) => ({ name: `f${i}`, type: typeOf(f.shape, 'physical', String(i)) })),
  }
  const readerFields = fields.flatMap((f, i) => {
    if (f.read === 'dropped') return []
    const type = typeOf(f.shape, 'r', String(i))
    return [f.read === 'same' ? { name: `f${i}`, type } : { name: `r${i}`, type, aliases: [`f${i}`] }]
  })
  // A reader reads at least one field: a record of none is no source schema.
  const reader = { type: 'record', name: 'E', fields: [...readerFields, { name: 'extra', type: 'string', default: '' }] }
  return { writer, physical, reader }
}

/** The oracle: the first refused leaf (reader path), else the event the reader makes. */
function expected(fields: readonly Field[], values: readonly unknown[]): { field: string } | { event: Record<string, unknown> } {
  const event: Record<string, unknown> = { extra: '' }
  const read = (b: Buffer, as: Leaf) => (as === 'string' ? b.toString('utf8') : b)
  for (const [i, f] of fields.entries()) {
    if (f.read === 'dropped') continue
    const name = f.read === 'same' ? `f${i}` : `r${i}`
    const v = values[i]
    const s = f.shape
    const bad = (b: Buffer, as: Leaf) => as === 'string' && !isUtf8(b)
    switch (s.kind) {
      case 'leaf':
        if (bad(v as Buffer, s.r)) return { field: name }
        event[name] = read(v as Buffer, s.r)
        break
      case 'nullable':
        if (v !== null && bad(v as Buffer, s.r)) return { field: name }
        event[name] = v === null ? null : read(v as Buffer, s.r)
        break
      case 'array': {
        const at = (v as Buffer[]).findIndex((b) => bad(b, s.r))
        if (at >= 0) return { field: `${name}[${at}]` }
        event[name] = (v as Buffer[]).map((b) => read(b, s.r))
        break
      }
      case 'map': {
        const entries = Object.entries(v as Record<string, Buffer>)
        const at = entries.find(([, b]) => bad(b, s.r))
        if (at !== undefined) return { field: `${name}{${at[0]}}` }
        event[name] = Object.fromEntries(entries.map(([k, b]) => [k, read(b, s.r)]))
        break
      }
      case 'record': {
        const parts = v as Buffer[]
        const at = s.fields.findIndex((l, j) => bad(parts[j]!, l.r))
        if (at >= 0) return { field: `${name}.g${at}` }
        event[name] = Object.fromEntries(s.fields.map((l, j) => [`g${j}`, read(parts[j]!, l.r)]))
        break
      }
    }
  }
  return { event }
}

/** A decoded value as plain data (avsc's record classes, buffers as hex) for comparison. */
function plain(value: unknown): unknown {
  if (Buffer.isBuffer(value)) return `hex:${value.toString('hex')}`
  if (Array.isArray(value)) return value.map(plain)
  if (value !== null && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, plain(v)]))
  return value
}

void describe('schemas: invalid UTF-8 after any evolution of strings and bytes', () => {
  void test('a record is refused exactly when a value the reader reads as a string is not UTF-8, named as the reader names it', async () => {
    await fc.assert(
      fc.asyncProperty(
        fieldsArb.chain((fields) => fc.tuple(fc.constant(fields), fc.tuple(...fields.map((f) => valueArb(f.shape))))),
        async ([fields, values]) => {
          const { writer, physical, reader } = schemas(fields)
          const record = Object.fromEntries(
            fields.map((f, i) => [
              `f${i}`,
              f.shape.kind === 'record' ? Object.fromEntries((values[i] as Buffer[]).map((b, j) => [`g${j}`, b])) : values[i],
            ]),
          )
          const body = avro.Type.forSchema(physical as avro.Schema).toBuffer(record)
          const registry = { register: async () => 1, getById: async () => writer as AvroSchema, latest: async () => undefined }
          const result = await createDecoder({ registry, readerSchema: reader as AvroSchema }).decode(
            Buffer.concat([Buffer.from([0, 0, 0, 0, 1]), body]),
          )
          const want = expected(fields, values)
          if ('field' in want) {
            assert.deepEqual(result.ok ? { ok: true } : { reason: result.reason, field: result.field }, {
              reason: 'invalid_utf8',
              field: want.field,
            })
          } else {
            assert.ok(result.ok, result.ok ? '' : `${result.reason}: ${result.detail}`)
            assert.deepEqual(plain({ ...result.event }), plain(want.event))
          }
        },
      ),
      { numRuns: 400, seed: 3030 },
    )
  })
})
