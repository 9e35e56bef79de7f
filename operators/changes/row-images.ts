/**
 * Reading row images of a change (docs/design.md §11): which entity names a row (its primary key),
 * whether a before image agrees with the row a key holds, and a column as a feature value.
 */
import type { EntityDef, EventRecord, FeatureValue, FeatureViewDef, KeyType, SourceDef } from '../../features/types.ts'
import { DefinitionError } from '../../core/errors.ts'
import { utf8Length } from '../aggregators/input-check.ts'
import { recordFields } from '../../features/avro-fields.ts'
import { isUnavailable, saysNothing, type Placeholder } from './partial-images.ts'

/**
 * The entity whose join keys are the source's primary-key columns: the view's own entity when it
 * is the source's `keyedBy` entity on exactly those columns, else one made of the columns, typed
 * `int` when every column is an Avro int/long (so decoded numbers are valid keys), else `string`.
 */
export function primaryKeyEntity(source: SourceDef, view: FeatureViewDef): EntityDef {
  return primaryKeyEntityFor(source, view.entity, `view ${view.name}`)
}

/** primaryKeyEntity for views keyed by `e` (the re-key stage of those views reads changes with it). */
export function primaryKeyEntityFor(source: SourceDef, e: EntityDef, where: string): EntityDef {
  const spec = source.changes
  if (spec === undefined) throw new DefinitionError(`${where}: changeMode needs a table or changelog source; ${source.name} is an event source`)
  const pk = spec.primaryKey
  if (pk.length === 0) throw new DefinitionError(`source ${source.name}: a change source needs a primary key`)
  if (e.name === source.keyedBy && e.joinKeys.length === pk.length && e.joinKeys.every((k, i) => k === pk[i])) return e
  const columns = recordFields(spec.rowSchema, `source ${source.name}`)
  const keyType: KeyType = pk.every((col) => columns.find((c) => c.name === col)?.kind === 'long') ? 'int' : 'string'
  return { kind: 'entity', name: `${source.name}_primary_key`, joinKeys: pk, keyType, description: `primary key of ${source.name}` }
}

/**
 * The first column on which `before` disagrees with `stored`, or undefined. Only the columns the
 * before image holds count, and a null counts as not held: Debezium's before image of a delete
 * under a key-only replica identity carries the key and nulls elsewhere, which says nothing. Nor
 * does a column the stored row lacks: one added to the row schema after the row was stored (and
 * restored from a snapshot) — compared, it would refuse every later change of the key.
 */
export function disagreeingColumn(
  before: EventRecord,
  stored: EventRecord,
  unavailable?: Placeholder,
  ofDelete = false,
): string | undefined {
  for (const column of Object.keys(before)) {
    const v = before[column]
    // The CDC tool's placeholder (a TOASTed column it did not log) says nothing either, nor does a
    // delete's fallback: a partial before image (key-only, or a replica identity index) of a NOT
    // NULL table holds '' 0 false where it knows nothing (partial-images.ts).
    if (
      v === null ||
      v === undefined ||
      !Object.hasOwn(stored, column) ||
      (ofDelete ? saysNothing(v, unavailable) : isUnavailable(v, unavailable))
    )
      continue
    if (!sameValue(v, stored[column])) return column
  }
  return undefined
}

/**
 * Decoded-value equality: numbers and longs by value (NaN equals NaN), a timestamp Date and its
 * epoch milliseconds alike (a restored row holds the number, state-codec.ts), bytes, lists and
 * records by content.
 */
export function sameValue(a: unknown, b: unknown): boolean {
  if (a === b) return true
  if (a instanceof Date) return b instanceof Date ? a.getTime() === b.getTime() : typeof b === 'number' && a.getTime() === b
  if (b instanceof Date) return typeof a === 'number' && a === b.getTime()
  if (typeof a === 'number' || typeof a === 'bigint') {
    if (typeof b === 'number' || typeof b === 'bigint') {
      if (typeof a === 'number' && typeof b === 'number') return Number.isNaN(a) && Number.isNaN(b)
      // Loose equality compares a long and a double by value.
      return a == b
    }
    return false
  }
  if (a === null || b === null || typeof a !== 'object' || typeof b !== 'object') return false
  if (a instanceof Uint8Array) return b instanceof Uint8Array && a.length === b.length && a.every((x, i) => x === b[i])
  if (Array.isArray(a)) return Array.isArray(b) && a.length === b.length && a.every((x, i) => sameValue(x, b[i]))
  if (Array.isArray(b) || b instanceof Uint8Array) return false
  const ka = Object.keys(a)
  const rb = b as Record<string, unknown>
  return ka.length === Object.keys(b).length && ka.every((k) => sameValue((a as Record<string, unknown>)[k], rb[k]))
}

export type ColumnValue = { readonly ok: true; readonly value: FeatureValue } | { readonly ok: false; readonly reason: 'out_of_range' | 'schema_mismatch' | 'oversize'; readonly detail: string }

/**
 * A row column as an attribute feature value: long → number (a long beyond ±2^53 is refused,
 * values are doubles), double and string as they are, timestamp-millis → epoch ms, null/absent →
 * null. NaN and ±Infinity (an Avro float or double carries them) are refused as everywhere: no
 * emitted row carries them (docs/semantics.md). Anything else (boolean, bytes, nested) has no
 * feature value type and is refused.
 */
export function attributeValueOf(row: EventRecord, column: string, maxStringBytes: number): ColumnValue {
  const v = row[column]
  if (v === null || v === undefined) return { ok: true, value: null }
  if (typeof v === 'number') {
    if (Number.isFinite(v)) return { ok: true, value: v }
    return { ok: false, reason: 'out_of_range', detail: `column ${column} is ${v}: feature values are finite numbers` }
  }
  if (typeof v === 'string') {
    if (v.length * 3 > maxStringBytes && utf8Length(v) > maxStringBytes) {
      return { ok: false, reason: 'oversize', detail: `column ${column} is a string of ${utf8Length(v)} UTF-8 bytes, over the view's limit of ${maxStringBytes} (limits.maxStringBytes)` }
    }
    return { ok: true, value: v }
  }
  if (typeof v === 'bigint') {
    const n = Number(v)
    if (Number.isSafeInteger(n)) return { ok: true, value: n }
    return { ok: false, reason: 'out_of_range', detail: `column ${column} = ${v} is a long beyond ±2^53 (feature values are doubles)` }
  }
  if (v instanceof Date) {
    const n = v.getTime()
    if (Number.isFinite(n)) return { ok: true, value: n }
  }
  return { ok: false, reason: 'schema_mismatch', detail: `column ${column} holds a ${v instanceof Date ? 'invalid Date' : typeof v}, not a long, double or string` }
}
