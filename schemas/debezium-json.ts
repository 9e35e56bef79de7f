/**
 * One Debezium JSON change message (text) → the change envelope `{op, before, after, ts_ms,
 * snapshot}` (docs/design.md §11), exactly as the Avro decoder yields it for an Avro changelog, so
 * a view cannot tell the two formats apart. Pure: the Kafka decoder (change-json-decoder.ts) and a
 * reader of a changelog NDJSON file share it.
 *
 * Accepted: the message with or without the JSON converter's `{schema, payload}` wrapper; the
 * wrapper's column types (Debezium's MicroTimestamp, a Connect Decimal's scale…) are held against
 * the row schema's logical types as an Avro writer's are (debezium-logical.ts). `op` is
 * kept as given when it is a string — judging it is the operators' job (`unknown_op`). The commit
 * time is `source.ts_ms` (when the database committed) when present and not 0, else the top-level
 * `ts_ms` (when the connector read it); a commit time of 0 is no time (`schema_mismatch`). Each image is checked against the row's Avro schema, field by
 * field in schema order: extra columns are dropped, a missing column takes its default (or null
 * when nullable), else the change is refused `schema_mismatch` naming the field.
 *
 * JSON numbers are doubles, so a long beyond ±2^53 has already lost its digits when parsed: it is
 * refused (`schema_mismatch`, naming the field) rather than decoded to a wrong value; so is a
 * fraction that JSON rounds to an integer (`3.0000000000000001` for a long: json-number-literals.ts),
 * and a literal beyond a double's (or a float's) range, which JSON turns into ±Infinity. A string
 * holding a lone surrogate (a `\ud800` escape) has no UTF-8 form, so it is `invalid_utf8` like
 * invalid bytes in an Avro string: two different keys must never collide into one entity (in a
 * join-key column the engine makes it `invalid_key`, with core's reason: schemas/decoder.ts). An
 * object holding a name twice is `undecodable` (core/json-duplicate-names.ts): JSON.parse would keep
 * the last value silently.
 */
import { CHANGE_TIME_FIELD } from '../features/change-envelope.ts'
import type { AvroRecordSchema } from '../features/types.ts'
import { parseJsonNumbersExact, LossyNumber } from './json-number-literals.ts'
import { isJsonObject } from '../core/json-object.ts'
import { ownValue } from '../core/own-property.ts'
import { duplicateName } from '../core/json-duplicate-names.ts'
import { imageLogic, type ImageLogic } from './debezium-logical.ts'

export type DebeziumParseResult =
  | { readonly ok: true; readonly event: Record<string, unknown> }
  | {
      readonly ok: false
      readonly reason: 'undecodable' | 'schema_mismatch' | 'invalid_utf8'
      readonly detail: string
      /** `invalid_utf8`: path of the offending string in the envelope (`after.user_id`). */
      readonly field?: string
      /** `invalid_utf8` of a string holding a lone surrogate (a `\ud800` escape), not of bytes: that string. */
      readonly text?: string
    }

type Failure = Extract<DebeziumParseResult, { ok: false }>
/** Checks one value against its Avro type; returns the value as the Avro decoder would give it, or a failure. */
type Conform = (value: unknown, path: string) => { readonly value: unknown } | Failure

const compiled = new WeakMap<AvroRecordSchema, Conform>()

/** Parses one Debezium JSON message; bad data never throws (a row schema that is not Avro does). */
export function parseDebeziumLine(text: string, rowSchema: AvroRecordSchema): DebeziumParseResult {
  return debeziumParser(rowSchema)(text)
}

/** The parser of `rowSchema`'s changes, built once per schema object; throws when the schema is not Avro. */
export function debeziumParser(rowSchema: AvroRecordSchema): (text: string) => DebeziumParseResult {
  const conform = rowConformer(rowSchema)
  const logic = imageLogic(rowSchema)
  return (text) => parseWith(conform, text, logic)
}

/**
 * Checks one parsed JSON row (numbers from `parseJsonNumbersExact`) against `rowSchema` as an image
 * is checked: undefined when it conforms, else why not, naming the field (`kfs produce --file`
 * checks plain events that hold a lossy literal with it).
 */
export function jsonRowMismatch(rowSchema: AvroRecordSchema, row: unknown, path: string): Failure | undefined {
  const checked = rowConformer(rowSchema)(row, path)
  return 'ok' in checked ? checked : undefined
}

function rowConformer(rowSchema: AvroRecordSchema): Conform {
  let conformRow = compiled.get(rowSchema)
  if (conformRow === undefined) {
    conformRow = compile(rowSchema, new Map(), undefined)
    compiled.set(rowSchema, conformRow)
  }
  return conformRow
}

function parseWith(conformRow: Conform, text: string, logic: ImageLogic): DebeziumParseResult {
  let parsed: unknown
  try {
    parsed = parseJsonNumbersExact(text)
  } catch (err: unknown) {
    // The reviver of a text with a lossy-looking literal recurses: deep nesting runs out of stack.
    if (err instanceof RangeError) {
      return { ok: false, reason: 'undecodable', detail: `the JSON is nested too deeply to read (${err.message})` }
    }
    return { ok: false, reason: 'undecodable', detail: `not JSON: ${err instanceof Error ? err.message : String(err)}` }
  }
  if (!isJsonObject(parsed)) return { ok: false, reason: 'undecodable', detail: `a change message is a JSON object, got ${describe(parsed)}` }
  const twice = duplicateName(text, parsed)
  if (twice !== undefined) {
    const where = twice.path === '' ? 'the message' : `the object at ${twice.path}`
    const detail = `${where} holds the name ${JSON.stringify(twice.name)} twice: which value is meant is not known`
    return { ok: false, reason: 'undecodable', detail }
  }
  let message = parsed
  let schema: unknown
  if ('payload' in parsed && 'schema' in parsed) {
    if (!isJsonObject(parsed.payload)) return { ok: false, reason: 'undecodable', detail: `the payload of the {schema, payload} wrapper is ${describe(parsed.payload)}, not an object` }
    message = parsed.payload
    schema = parsed.schema
  }
  if (typeof message.op !== 'string') return mismatch(`op is ${describe(message.op)}, not a string`)
  const images: Record<string, unknown> = {}
  for (const part of ['before', 'after'] as const) {
    const image = message[part]
    if (image === undefined || image === null) {
      images[part] = null
      continue
    }
    const row = conformRow(image, part)
    if ('ok' in row) return row
    const refused = logic(schema, part, row.value as Record<string, unknown>)
    if (refused !== undefined) return mismatch(refused)
    images[part] = row.value
  }
  const time = commitTime(message)
  if ('ok' in time) return time
  return { ok: true, event: { op: message.op, before: images.before, after: images.after, [CHANGE_TIME_FIELD]: time.value, snapshot: null } }
}

function commitTime(message: Record<string, unknown>): { readonly value: number } | Failure {
  const source = message.source
  const inSource = isJsonObject(source) ? source.ts_ms : undefined
  // A source.ts_ms of 0 is not a 1970 commit: connectors write 0 when they do not know the commit
  // time (snapshot reads, some connectors). It says nothing, as an absent one: ts_ms (when the
  // connector read the change) stands in, as it does for a message without source.ts_ms.
  const fromSource = inSource !== undefined && inSource !== null && inSource !== 0
  const field = fromSource ? 'source.ts_ms' : 'ts_ms'
  const value = fromSource ? inSource : message.ts_ms
  if (value === undefined || value === null)
    return mismatch(
      `the commit time is missing (${inSource === 0 ? 'source.ts_ms is 0, and there is no ts_ms' : 'neither source.ts_ms nor ts_ms'})`,
    )
  if (typeof value !== 'number' || !Number.isSafeInteger(value))
    return mismatch(`${field} is ${describe(value)}, not epoch milliseconds within ±2^53`)
  if (value === 0)
    return mismatch(
      `the commit time is unknown: ${inSource === 0 ? 'source.ts_ms and ts_ms are' : 'ts_ms is'} 0, which a connector writes when it does not know the time (not a 1970 commit)`,
    )
  return { value }
}

const INT_MIN = -(2 ** 31)
const INT_MAX = 2 ** 31 - 1
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/
const LONE_SURROGATE = /\p{Cs}/u

type Named = Map<string, Conform>

/**
 * Builds the checker of an Avro type (the schema's JSON form). Named types (records, enums,
 * fixed) are registered by name and full name as they are met, so later references resolve.
 */
function compile(type: unknown, names: Named, namespace: string | undefined): Conform {
  if (typeof type === 'string') return compilePrimitive(type, names, namespace)
  if (Array.isArray(type)) return compileUnion(type, names, namespace)
  if (!isJsonObject(type)) throw new TypeError(`not an Avro type: ${JSON.stringify(type)}`)
  const kind = type.type
  switch (kind) {
    case 'record':
    case 'error':
      return compileRecord(type, names, namespace)
    case 'enum': {
      const symbols = new Set(type.symbols as readonly string[])
      const conform: Conform = (v, path) => (typeof v === 'string' && symbols.has(v) ? { value: v } : mismatch(`${path} is ${describe(v)}, not one of the symbols ${[...symbols].join(', ')}`))
      register(type, names, namespace, conform)
      return conform
    }
    case 'fixed': {
      const bytes = compilePrimitive('bytes', names, namespace)
      const size = type.size as number
      const conform: Conform = (v, path) => {
        const out = bytes(v, path)
        if ('value' in out && (out.value as Uint8Array).length !== size) return mismatch(`${path} holds ${(out.value as Uint8Array).length} bytes, not the fixed ${size}`)
        return out
      }
      register(type, names, namespace, conform)
      return conform
    }
    case 'array': {
      const items = compile(type.items, names, namespace)
      return (v, path) => {
        if (!Array.isArray(v)) return mismatch(`${path} is ${describe(v)}, not an array`)
        const out: unknown[] = []
        for (let i = 0; i < v.length; i++) {
          const item = items(v[i], `${path}[${i}]`)
          if ('ok' in item) return item
          out.push(item.value)
        }
        return { value: out }
      }
    }
    case 'map': {
      const values = compile(type.values, names, namespace)
      return (v, path) => {
        if (!isJsonObject(v)) return mismatch(`${path} is ${describe(v)}, not a map (object)`)
        const out: Record<string, unknown> = {}
        for (const [key, item] of Object.entries(v)) {
          if (LONE_SURROGATE.test(key)) return { ok: false, reason: 'invalid_utf8', detail: `${path} (a map key) is not valid UTF-8`, field: `${path} (a map key)` }
          const checked = values(item, `${path}{${key}}`)
          if ('ok' in checked) return checked
          out[key] = checked.value
        }
        return { value: out }
      }
    }
    default:
      // `{type: 'long', logicalType: 'timestamp-millis'}` and the like: logical types are read as
      // their underlying type, as avro-type.ts leaves them unregistered (epoch ms stay numbers).
      return compile(kind, names, namespace)
  }
}

function compileRecord(type: Record<string, unknown>, names: Named, namespace: string | undefined): Conform {
  const ownNamespace = typeof type.namespace === 'string' ? type.namespace : namespace
  let fields: { name: string; conform: Conform; fallback: { value: unknown } | undefined }[] = []
  const conform: Conform = (v, path) => {
    if (!isJsonObject(v)) return mismatch(`${path} is ${describe(v)}, not an object (a row)`)
    const out: Record<string, unknown> = {}
    for (const field of fields) {
      const at = `${path}.${field.name}`
      const value = ownValue(v, field.name)
      if (value === undefined) {
        if (field.fallback === undefined) return mismatch(`${at} is missing (the row schema requires it)`)
        out[field.name] = structuredClone(field.fallback.value)
        continue
      }
      const checked = field.conform(value, at)
      if ('ok' in checked) return checked
      out[field.name] = checked.value
    }
    return { value: out }
  }
  // Registered before its fields are compiled, so a recursive reference resolves to it.
  register(type, names, namespace, conform)
  fields = (type.fields as readonly Record<string, unknown>[]).map((f) => {
    const fieldConform = compile(f.type, names, ownNamespace)
    const nullable = f.type === 'null' || (Array.isArray(f.type) && f.type.includes('null'))
    const fallback = 'default' in f ? { value: f.default } : nullable ? { value: null } : undefined
    return { name: f.name as string, conform: fieldConform, fallback }
  })
  return conform
}

function compileUnion(branches: readonly unknown[], names: Named, namespace: string | undefined): Conform {
  const nullable = branches.includes('null')
  const others = branches.filter((b) => b !== 'null').map((b) => compile(b, names, namespace))
  return (v, path) => {
    if (v === null) return nullable ? { value: null } : mismatch(`${path} is null, and the schema does not allow null`)
    let first: Failure | undefined
    for (const branch of others) {
      const out = branch(v, path)
      if (!('ok' in out)) return out
      // invalid_utf8 is the value's fault, not a wrong branch: report it as such.
      if (out.reason === 'invalid_utf8') return out
      first ??= out
    }
    return first ?? mismatch(`${path} is ${describe(v)}, which the union type does not hold`)
  }
}

function compilePrimitive(name: string, names: Named, namespace: string | undefined): Conform {
  switch (name) {
    case 'null':
      return (v, path) => (v === null ? { value: null } : mismatch(`${path} is ${describe(v)}, not null`))
    case 'boolean':
      return (v, path) => (typeof v === 'boolean' ? { value: v } : mismatch(`${path} is ${describe(v)}, not a boolean`))
    case 'int':
      return (v, path) => {
        if (v instanceof LossyNumber) return lossy(v, path, 'an int')
        // `-0` is an integer to JSON but not to Avro (zig-zag has no negative zero): 0, as the Avro decoder gives.
        return typeof v === 'number' && Number.isInteger(v) && v >= INT_MIN && v <= INT_MAX ? { value: v + 0 } : mismatch(`${path} is ${describe(v)}, not an int`)
      }
    case 'long':
      return (v, path) => {
        if (v instanceof LossyNumber) return lossy(v, path, 'a long')
        if (typeof v === 'number' && Number.isSafeInteger(v)) return { value: v + 0 }
        if (typeof v === 'number' && Number.isInteger(v)) return mismatch(`${path} is ${describe(v)}, beyond ±2^53: a JSON number cannot carry that long exactly`)
        return mismatch(`${path} is ${describe(v)}, not a long`)
      }
    case 'float':
    case 'double':
      // Debezium writes NaN and ±Infinity as strings: not numbers a feature can aggregate.
      // A finite literal JSON turned into ±Infinity (1e400; 1e39 for a float) is out of range, not infinite.
      return (v, path) => {
        const x = v instanceof LossyNumber ? v.value : v
        if (typeof x !== 'number') return mismatch(`${path} is ${describe(v)}, not a ${name}`)
        // A float is what the Avro decoder gives for the same column: the value rounded to 32 bits.
        const value = name === 'float' ? Math.fround(x) : x
        if (!Number.isFinite(value)) return mismatch(`${path} is ${describe(v)}, beyond the range of a ${name}`)
        return { value }
      }
    case 'string':
      return (v, path) => {
        if (typeof v !== 'string') return mismatch(`${path} is ${describe(v)}, not a string`)
        if (LONE_SURROGATE.test(v)) return { ok: false, reason: 'invalid_utf8', detail: `field ${path} is not valid UTF-8 (a lone surrogate)`, field: path, text: v }
        return { value: v }
      }
    case 'bytes':
      // Debezium's default binary handling: base64 text.
      return (v, path) => (typeof v === 'string' && BASE64.test(v) ? { value: Buffer.from(v, 'base64') } : mismatch(`${path} is ${describe(v)}, not base64 bytes`))
    default: {
      const named = names.get(name) ?? (namespace !== undefined ? names.get(`${namespace}.${name}`) : undefined)
      // A record registers itself before compiling its fields, so a recursive reference resolves.
      if (named === undefined) throw new TypeError(`unknown Avro type name ${name}`)
      return named
    }
  }
}

function register(type: Record<string, unknown>, names: Named, namespace: string | undefined, conform: Conform): void {
  const name = type.name as string
  const ns = typeof type.namespace === 'string' ? type.namespace : namespace
  names.set(name, conform)
  if (ns !== undefined && !name.includes('.')) names.set(`${ns}.${name}`, conform)
}

function lossy(v: LossyNumber, path: string, what: string): Failure {
  if (!Number.isFinite(v.value)) return mismatch(`${path} is number ${v.literal}, not ${what}`)
  return mismatch(`${path} is number ${v.literal}, a fraction (JSON would round it to ${v.value}), not ${what}`)
}

function mismatch(detail: string): Failure {
  return { ok: false, reason: 'schema_mismatch', detail }
}

/** A short, bounded description of a JSON value for a detail message. */
function describe(v: unknown): string {
  if (v === undefined) return 'missing'
  if (v === null) return 'null'
  if (Array.isArray(v)) return 'an array'
  if (v instanceof LossyNumber) return `number ${v.literal}`
  if (typeof v === 'object') return 'an object'
  if (typeof v === 'string') return `the string ${JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v)}`
  return `${typeof v} ${String(v)}`
}
