/**
 * A table source's declared row, column by column (docs/design.md §11): each column's kind as a
 * snapshot reports it (ports/table-snapshots.ts), whether it may hold null, how to tell a value
 * of its type, and a canonical text of a value for row fingerprints — the same whether the value
 * came from a snapshot file or back from the log (a long as number or bigint, a float rounded to
 * 32 bits as Avro stores it), so a re-ingest recognises rows it appended before.
 */
import type { Type, types } from 'avsc'
import type { AvroRecordSchema } from '../features/types.ts'
import type { TableColumn, TableColumnKind } from '../ports/table-snapshots.ts'
import { createWideType } from '../schemas/avro-type.ts'

export interface RowColumn {
  readonly name: string
  readonly kind: TableColumnKind
  readonly nullable: boolean
  /** The Avro type name the check is for ('long', 'float', 'string', … or 'other'). */
  readonly avro: string
  /** An `other` column's Avro logical type, if it has one (timestamp-micros, date…), for messages. */
  readonly logicalType?: string
  /** True for a non-null value of the column's type. */
  isValid(value: unknown): boolean
  /** Canonical text of a valid value (or null) for fingerprints. */
  canonical(value: unknown): string
  /** The Avro bytes of a valid value of an `other` column (./row-size.ts sizes the rest itself). */
  encodedBytes(value: unknown): number
}

const INT32 = 2 ** 31
const MIN_LONG = -(2n ** 63n)
const MAX_LONG = 2n ** 63n - 1n

/**
 * A long's canonical text: -0 (which CSV's "-0" and JS arithmetic give) is 0, as an Avro long
 * stores it — else a row holding it never matches its own record read back from the log, and
 * every re-ingest appends it again.
 */
const taggedLong = (v: unknown): string => tagged(v === 0 ? 0 : v)

const isFloat = (v: unknown): boolean => typeof v === 'number' && (Number.isFinite(Math.fround(v)) || !Number.isFinite(v))

const isLong = (v: unknown): boolean =>
  (typeof v === 'number' && Number.isSafeInteger(v)) || (typeof v === 'bigint' && v >= MIN_LONG && v <= MAX_LONG)

function tagged(v: unknown): string {
  if (v === null || v === undefined) return 'z'
  switch (typeof v) {
    case 'number':
      return Object.is(v, -0) ? 'n-0' : `n${v}`
    case 'bigint':
      return `n${v}`
    case 'string':
      // Length-prefixed, so the text stays injective without escaping anything.
      return `s${v.length}:${v}`
    case 'boolean':
      return v ? 'T' : 'F'
    default:
      return `j${JSON.stringify(v, (_k, x: unknown) => (typeof x === 'bigint' ? `${x}n` : x instanceof Uint8Array ? Buffer.from(x).toString('base64') : x))}`
  }
}

/** `avscType`: the field's type as avsc built it within the whole row (asked for only for `other` columns). */
function columnOf(field: { name: string; type: unknown }, avscType: () => Type): RowColumn {
  let type = field.type
  let nullable = false
  if (Array.isArray(type)) {
    const others = type.filter((t) => t !== 'null')
    nullable = others.length < type.length
    if (others.length === 1) type = others[0]
  }
  const base = typeof type === 'object' && type !== null && !Array.isArray(type) ? (type as { type?: unknown; logicalType?: unknown }) : undefined
  const name = typeof type === 'string' ? type : typeof base?.type === 'string' && base.logicalType === undefined ? base.type : undefined
  const isTimestamp = base?.type === 'long' && (base.logicalType === 'timestamp-millis' || base.logicalType === 'local-timestamp-millis')
  const common = { name: field.name, nullable, encodedBytes: () => 0 }
  if (isTimestamp) return { ...common, kind: 'timestamp', avro: 'long', isValid: isLong, canonical: taggedLong }
  switch (name) {
    case 'long':
      return { ...common, kind: 'long', avro: 'long', isValid: isLong, canonical: taggedLong }
    case 'int':
      return { ...common, kind: 'long', avro: 'int', isValid: (v) => typeof v === 'number' && Number.isInteger(v) && v >= -INT32 && v < INT32, canonical: taggedLong }
    case 'double':
      return { ...common, kind: 'double', avro: 'double', isValid: (v) => typeof v === 'number', canonical: tagged }
    case 'float':
      // Rounded to 32 bits as Avro stores it — but a finite value beyond a float's range (1e39)
      // would be stored as Infinity, another value, not a rounding: refused, as changelog JSON is.
      return { ...common, kind: 'double', avro: 'float', isValid: isFloat, canonical: (v) => tagged(typeof v === 'number' ? Math.fround(v) : v) }
    case 'string':
      return { ...common, kind: 'string', avro: 'string', isValid: (v) => typeof v === 'string', canonical: tagged }
    case 'boolean':
      return { ...common, kind: 'boolean', avro: 'boolean', isValid: (v) => typeof v === 'boolean', canonical: tagged }
    default: {
      // Anything richer (bytes, enums, arrays, records): avsc judges it; fingerprints use its JSON.
      // Built from the whole row, not the field's type alone: a primitive name ("bytes") or a
      // reference to a type named in an earlier field is no schema on its own.
      const avsc = avscType()
      return {
        ...common,
        kind: 'other',
        avro: 'other',
        ...(typeof base?.logicalType === 'string' ? { logicalType: base.logicalType } : {}),
        isValid: (v) => v !== null && v !== undefined && avsc.isValid(v),
        canonical: tagged,
        encodedBytes: (v) => avsc.toBuffer(v).length,
      }
    }
  }
}

export function rowColumns(rowSchema: AvroRecordSchema): readonly RowColumn[] {
  let row: types.RecordType | undefined
  const fieldType = (name: string) => (): Type => {
    row ??= createWideType(rowSchema) as types.RecordType
    return row.field(name)!.type
  }
  return (rowSchema.fields as { name: string; type: unknown }[]).map((f) => columnOf(f, fieldType(f.name)))
}

/**
 * Whether a snapshot column can feed a declared one: the same kind, or a timestamp read from a
 * plain long column (epoch milliseconds either way — Parquet writers often drop the annotation).
 * A richer declared type (`other`) is judged value by value, except a snapshot's timestamp: it is
 * read as epoch milliseconds, which no other Avro time type (micros, nanos, a date's days, a time
 * of day) holds — 2026-01-01 stored as timestamp-micros would read as 1970-01-21.
 */
export function kindFits(declared: TableColumnKind, actual: TableColumnKind): boolean {
  return declared === actual || (declared === 'timestamp' && actual === 'long') || (declared === 'other' && actual !== 'timestamp')
}

/** The snapshot's columns as the port reports them, for the declared row (CSV readers type cells by these). */
export function declaredTableColumns(rowSchema: AvroRecordSchema): readonly TableColumn[] {
  return rowColumns(rowSchema).map((c) => ({ name: c.name, kind: c.kind }))
}

/**
 * A column's values as the Avro library takes them: binary values as Buffers. Readers give
 * Uint8Arrays (ports/parquet-codec.ts), which avsc's `bytes` refuses — every row of a table with
 * a binary column was rejected `schema_mismatch` ("holds object"). The same array when none needs
 * it; otherwise a copy whose Buffers share the values' memory.
 */
export function avroValues(column: RowColumn, values: ArrayLike<unknown>, n: number): ArrayLike<unknown> {
  if (column.avro !== 'other') return values
  let out: unknown[] | undefined
  for (let r = 0; r < n; r++) {
    const v = values[r]
    if (!(v instanceof Uint8Array) || Buffer.isBuffer(v)) continue
    out ??= Array.from({ length: n }, (_, i) => values[i])
    out[r] = Buffer.from(v.buffer, v.byteOffset, v.byteLength)
  }
  return out ?? values
}
