/**
 * Reading an Avro record schema as far as the definition builders need: which top-level fields
 * exist and what scalar kind each holds. Nullable unions (`["null", T]`) count as `T`, because a
 * missing value is data (null), not a different type.
 */
import { DefinitionError } from '../core/errors.ts'
import type { AvroRecordSchema } from './types.ts'

export type FieldKind = 'long' | 'double' | 'string' | 'boolean' | 'other'

export interface AvroField {
  readonly name: string
  readonly kind: FieldKind
  /** True for `long`/`int`, with or without a `timestamp-millis` logical type. */
  readonly isEpochMillis: boolean
}

function kindOf(type: unknown): { kind: FieldKind; isEpochMillis: boolean } {
  if (Array.isArray(type)) {
    const nonNull = type.filter((t) => t !== 'null')
    return nonNull.length === 1 ? kindOf(nonNull[0]) : { kind: 'other', isEpochMillis: false }
  }
  if (typeof type === 'string') {
    switch (type) {
      case 'int':
      case 'long':
        return { kind: 'long', isEpochMillis: true }
      case 'float':
      case 'double':
        return { kind: 'double', isEpochMillis: false }
      case 'string':
        return { kind: 'string', isEpochMillis: false }
      case 'boolean':
        return { kind: 'boolean', isEpochMillis: false }
      default:
        return { kind: 'other', isEpochMillis: false }
    }
  }
  if (type !== null && typeof type === 'object') {
    const t = type as { type?: unknown; logicalType?: unknown }
    if (t.type === 'enum') return { kind: 'string', isEpochMillis: false }
    if (typeof t.type === 'string' && typeof t.logicalType === 'string') {
      const base = kindOf(t.type)
      // Micros and dates are not epoch milliseconds; refusing them here beats silently wrong windows.
      return { kind: base.kind, isEpochMillis: base.kind === 'long' && (t.logicalType === 'timestamp-millis' || t.logicalType === 'local-timestamp-millis') }
    }
    if (typeof t.type === 'string') return kindOf(t.type)
  }
  return { kind: 'other', isEpochMillis: false }
}

/**
 * Where `value` is not JSON data, and why: a schema is stored in the registry as JSON and hashed as
 * canonical JSON, so a cycle, a function, a bigint, NaN or a Date would otherwise fail deep in
 * `kfs apply` (a stack overflow, "no representation for NaN") or be stored as something else.
 * An object used twice without containing itself is data.
 */
export function jsonDataProblem(value: unknown, path = 'schema', inside: Set<object> = new Set()): string | undefined {
  switch (typeof value) {
    case 'string':
    case 'boolean':
    case 'undefined':
      return undefined
    case 'number':
      return Number.isFinite(value) ? undefined : `${path} is ${value}, which JSON cannot hold`
    case 'object': {
      if (value === null) return undefined
      if (inside.has(value)) return `${path} contains itself (a cycle)`
      const proto = Object.getPrototypeOf(value) as unknown
      if (!Array.isArray(value) && proto !== Object.prototype && proto !== null) {
        return `${path} is a ${(value as object).constructor?.name ?? 'non-plain object'}, not a plain object`
      }
      inside.add(value)
      for (const [k, v] of Object.entries(value)) {
        const problem = jsonDataProblem(v, Array.isArray(value) ? `${path}[${k}]` : `${path}.${k}`, inside)
        if (problem !== undefined) return problem
      }
      inside.delete(value)
      return undefined
    }
    default:
      return `${path} is a ${typeof value}, which JSON cannot hold`
  }
}

/** Validates the record shape and returns its top-level fields in declaration order. */
export function recordFields(schema: AvroRecordSchema, where: string): AvroField[] {
  if (schema === null || typeof schema !== 'object' || schema.type !== 'record' || typeof schema.name !== 'string' || !Array.isArray(schema.fields)) {
    throw new DefinitionError(`${where}: schema must be an Avro record schema ({ type: 'record', name, fields: [...] })`)
  }
  const notData = jsonDataProblem(schema)
  if (notData !== undefined) throw new DefinitionError(`${where}: the Avro schema must be JSON data: ${notData}`)
  const unreadable = prototypeFieldRecord(schema)
  if (unreadable !== undefined)
    throw new DefinitionError(
      `${where}: Avro record ${unreadable} has a field named '__proto__', which a JavaScript object cannot hold as a field (its value would be lost on every record); rename it`,
    )
  const fields: AvroField[] = []
  const seen = new Set<string>()
  for (const raw of schema.fields) {
    const f = raw as { name?: unknown; type?: unknown }
    if (f === null || typeof f !== 'object' || typeof f.name !== 'string' || f.type === undefined) {
      throw new DefinitionError(`${where}: Avro record ${schema.name} has a field without a name or type`)
    }
    if (seen.has(f.name)) throw new DefinitionError(`${where}: Avro record ${schema.name} declares field '${f.name}' twice`)
    seen.add(f.name)
    fields.push({ name: f.name, ...kindOf(f.type) })
  }
  return fields
}

/**
 * The name of a record, anywhere in the schema, with a field named `__proto__`: decoded records
 * and table rows are plain objects, where an assignment of that name sets the prototype instead
 * (avsc's decoded record drops it too). Every other name, `constructor` included, is a field.
 */
function prototypeFieldRecord(node: unknown): string | undefined {
  if (Array.isArray(node)) {
    for (const item of node) {
      const found = prototypeFieldRecord(item)
      if (found !== undefined) return found
    }
    return undefined
  }
  if (node === null || typeof node !== 'object') return undefined
  const { fields, name } = node as { fields?: unknown; name?: unknown }
  if (Array.isArray(fields) && fields.some((f) => (f as { name?: unknown } | null)?.name === '__proto__')) return String(name)
  for (const value of Object.values(node)) {
    const found = prototypeFieldRecord(value)
    if (found !== undefined) return found
  }
  return undefined
}

/** Levenshtein distance, for "did you mean" hints in definition errors. */
function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i)
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0] as number
    row[0] = i
    for (let j = 1; j <= b.length; j++) {
      const cur = row[j] as number
      row[j] = Math.min(cur + 1, (row[j - 1] as number) + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1))
      prev = cur
    }
  }
  return row[b.length] as number
}

export function didYouMean(name: string, candidates: readonly string[]): string {
  let best: string | undefined
  let bestDistance = Math.max(2, Math.floor(name.length / 3)) + 1
  for (const c of candidates) {
    const d = distance(name, c)
    if (d < bestDistance) {
      best = c
      bestDistance = d
    }
  }
  return best === undefined ? '' : ` Did you mean '${best}'?`
}
