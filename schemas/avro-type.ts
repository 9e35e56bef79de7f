/**
 * How kfs turns an Avro schema into an avsc type. Two flavours of the same schema:
 *
 * - `fast`: avsc's own long, a JS number; avsc throws on a long outside ±2^53.
 * - `wide`: longs come back as a number when safe and as a bigint otherwise; encoders accept both.
 *
 * The decoder reads with `fast` and falls back to `wide` only when `fast` fails, so the common
 * case keeps avsc's speed and a genuine 64-bit id is not dead-lettered.
 *
 * Both read and write longs exactly (./avsc-exact-longs.ts mends avsc's varint arithmetic first),
 * and refuse array and map blocks the bytes cannot hold (./avsc-bounded-blocks.ts).
 *
 * Logical types are left unregistered on purpose: `timestamp-millis` then decodes as its
 * underlying long, i.e. epoch milliseconds as a number, which is what kfs uses everywhere. What a
 * writer's logical type means to the reader is judged beside avsc (logical-resolution.ts), on
 * `createKeptType`, which keeps them.
 */
import './avsc-exact-longs.ts'
import './avsc-bounded-blocks.ts'
import avro from 'avsc'
import type { Schema, Type } from 'avsc'
import type { AvroSchema } from '../ports/schema-registry.ts'
import { logicalOf, withConnectMarks, type Logical } from './logical-types.ts'

const MIN_SAFE = BigInt(Number.MIN_SAFE_INTEGER)
const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER)
const MIN_LONG = -(2n ** 63n)
const MAX_LONG = 2n ** 63n - 1n

function narrow(n: bigint): number | bigint {
  return n >= MIN_SAFE && n <= MAX_SAFE ? Number(n) : n
}

const wideLong = avro.types.LongType.__with({
  fromBuffer: (buf: Buffer) => narrow(buf.readBigInt64LE()),
  toBuffer: (n: number | bigint) => {
    const buf = Buffer.alloc(8)
    buf.writeBigInt64LE(BigInt(n))
    return buf
  },
  fromJSON: (json: unknown) => (typeof json === 'number' ? json : narrow(BigInt(String(json)))),
  toJSON: (n: number | bigint) => (typeof n === 'bigint' ? n.toString() : n),
  isValid: (n: unknown) =>
    (typeof n === 'number' && Number.isSafeInteger(n)) || (typeof n === 'bigint' && n >= MIN_LONG && n <= MAX_LONG),
  compare: (a: number | bigint, b: number | bigint) => (a < b ? -1 : a > b ? 1 : 0),
})

export function parseSchema(schema: AvroSchema): Schema {
  return (typeof schema === 'string' ? JSON.parse(schema) : schema) as Schema
}

export function createFastType(schema: AvroSchema): Type {
  return avro.Type.forSchema(parseSchema(schema))
}

/**
 * Every long becomes the wide long: `"long"` by name (the registry) and `{ type: 'long', … }`
 * objects, e.g. a `timestamp-millis` event time, which avsc builds without the registry — a
 * time beyond 2^53 then decodes as a bigint for kfs to judge, instead of failing the record.
 */
function wideLongHook(schema: unknown): Type | undefined {
  return schema !== null && typeof schema === 'object' && (schema as { type?: unknown }).type === 'long' ? (wideLong as unknown as Type) : undefined
}

export function createWideType(schema: AvroSchema): Type {
  return avro.Type.forSchema(parseSchema(schema), { registry: { long: wideLong }, typeHook: wideLongHook })
}

/**
 * The identity of a schema for registration: its full JSON with attributes kept (defaults and
 * docs matter for resolution, so the parsing canonical form would merge schemas that differ),
 * logical types and their parameters included (a `timestamp-micros` writer is not a millis one).
 */
export function schemaKey(schema: AvroSchema): string {
  return JSON.stringify(createKeptType(schema).schema({ exportAttrs: true }))
}

/**
 * A logical type avsc keeps on the type tree without changing any value: the type decodes as
 * its plain twin does, but says what its writer meant (schemas/logical-resolution.ts) and exports
 * the logical type with its parameters. (Without it avsc drops every logical type, so a
 * `timestamp-micros` writer and a `timestamp-millis` one had one registry identity.)
 */
class KeptLogicalType extends avro.types.LogicalType {
  readonly logical: Logical | undefined
  readonly #attrs: Record<string, unknown>

  constructor(schema: Record<string, unknown>, opts?: avro.ForSchemaOptions) {
    super(schema as avro.Schema, opts)
    this.logical = logicalOf(schema)
    this.#attrs = {}
    for (const key of ['precision', 'scale']) if (key in schema) this.#attrs[key] = schema[key]
  }

  override _fromValue(value: unknown): unknown {
    return value
  }

  override _toValue(value: unknown): unknown {
    return value
  }

  override _resolve(type: Type): ((value: unknown) => unknown) | undefined {
    const under = (type as unknown as { typeName: string }).typeName.startsWith('logical:') ? (type as unknown as { underlyingType: Type }).underlyingType : type
    try {
      this.underlyingType.createResolver(under)
      return (value) => value
    } catch {
      return undefined
    }
  }

  override _export(schema: avro.Schema): void {
    Object.assign(schema as object, this.#attrs)
  }
}

/** Every logical type name maps to KeptLogicalType. */
const KEEP_ALL = new Proxy({} as Record<string, typeof KeptLogicalType>, { get: (_target, name) => (typeof name === 'string' ? KeptLogicalType : undefined) })

/**
 * The schema's type with its logical types kept (decodes as the plain type does). `connectNames`:
 * a Connect semantic type (`connect.name`, logical-types.ts) counts as the logical type it stands
 * for — for judging a writer, never for the schema's identity.
 */
export function createKeptType(schema: AvroSchema, options: { connectNames?: boolean } = {}): Type {
  const parsed = options.connectNames === true ? (withConnectMarks(parseSchema(schema)) as Schema) : parseSchema(schema)
  return avro.Type.forSchema(parsed, { logicalTypes: KEEP_ALL as unknown as Record<string, new (schema: unknown, opts?: unknown) => avro.types.LogicalType> })
}

