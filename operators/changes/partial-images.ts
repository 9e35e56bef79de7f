/**
 * Row images a CDC tool sends without some of their values (docs/table-and-changelog-sources.md,
 * "Partial images"): what such a value looks like, when a before image is key-only, and how an
 * after image's unavailable columns are filled from what the engine knows of the row.
 *
 * - Key-only before images: Postgres under REPLICA IDENTITY DEFAULT (or MySQL with a minimal row
 *   image) logs only the key columns of a deleted row. Debezium marks this nowhere: the other
 *   columns arrive as nulls, or — for NOT NULL columns, whose schema is not optional — as the type's
 *   fallback ('' for strings, 0 for numbers, false for booleans, empty bytes or lists).
 * - Unavailable values: Postgres does not log an unchanged TOASTed column of an update, and
 *   Debezium puts its placeholder (`unavailable.value.placeholder`, default
 *   `__debezium_unavailable_value`) in the column: the text for strings, its UTF-8 bytes for binary
 *   columns, a one-element list of it for arrays.
 */
import type { EntityDef, EventRecord, SourceDef } from '../../features/types.ts'
import { entityKeyOf, type KeyResult } from '../task/event-fields.ts'

/** Debezium's default `unavailable.value.placeholder`. */
export const DEBEZIUM_UNAVAILABLE_VALUE = '__debezium_unavailable_value'

/** The placeholder of a source's changes: its own, Debezium's for a changelog, none for a table source (kfs ingest writes real rows). */
export function unavailableValueOf(source: SourceDef): Placeholder | undefined {
  const spec = source.changes
  if (spec?.kind !== 'changelog') return undefined
  return placeholder(spec.unavailableValue ?? DEBEZIUM_UNAVAILABLE_VALUE)
}

/** A placeholder text and its UTF-8 bytes (a binary column carries those). */
export interface Placeholder {
  readonly text: string
  readonly bytes: Uint8Array
}

const placeholders = new Map<string, Placeholder>()

export function placeholder(text: string): Placeholder {
  let p = placeholders.get(text)
  if (p === undefined) placeholders.set(text, (p = { text, bytes: new TextEncoder().encode(text) }))
  return p
}

/** True when `value` is the placeholder: its text, its bytes, or a one-element list of either. */
export function isUnavailable(value: unknown, p: Placeholder | undefined): boolean {
  if (p === undefined) return false
  if (typeof value === 'string') return value === p.text
  if (value instanceof Uint8Array) return value.length === p.bytes.length && value.every((b, i) => b === p.bytes[i])
  return Array.isArray(value) && value.length === 1 && !Array.isArray(value[0]) && isUnavailable(value[0], p)
}

/** A value a key-only image holds outside its key: null, the type's fallback, or the placeholder. */
export function saysNothing(value: unknown, p: Placeholder | undefined): boolean {
  if (value === null || value === undefined || value === '' || value === 0 || value === 0n || value === false) return true
  if (value instanceof Uint8Array || Array.isArray(value)) return value.length === 0 || isUnavailable(value, p)
  if (value instanceof Date) return value.getTime() === 0
  return isUnavailable(value, p)
}

/**
 * True when `before` carries nothing outside `identity` (the primary key, and for a current-state
 * view its group columns): every other column says nothing. Such an image cannot be told from a
 * key-only one, so it is not compared with the row it deletes — the delete still deletes.
 */
export function isKeyOnly(before: EventRecord, identity: ReadonlySet<string>, p: Placeholder | undefined): boolean {
  for (const column of Object.keys(before)) {
    if (!identity.has(column) && !saysNothing(before[column], p)) return false
  }
  return true
}

export type Filled = { readonly ok: true; readonly row: EventRecord } | { readonly ok: false; readonly column: string }

/**
 * `after` with each unavailable column taken from the first of `known` (the key's current row,
 * then the change's before image) holding a value for it; the first column none holds otherwise.
 * Returns `after` itself when it holds no placeholder (the common case allocates nothing).
 */
export function fillUnavailable(after: EventRecord, known: readonly (EventRecord | null)[], p: Placeholder | undefined): Filled {
  if (p === undefined) return { ok: true, row: after }
  let filled: Record<string, unknown> | undefined
  for (const column of Object.keys(after)) {
    if (!isUnavailable(after[column], p)) continue
    const source = known.find(
      (row) =>
        row !== null &&
        Object.hasOwn(row, column) &&
        row[column] !== null &&
        row[column] !== undefined &&
        !isUnavailable(row[column], p),
    )
    if (source === undefined || source === null) return { ok: false, column }
    filled ??= { ...after }
    filled[column] = source[column]
  }
  return { ok: true, row: filled ?? after }
}

/**
 * The group a key-only before image names, by its raw join keys (as the re-key stage routes it);
 * a join key holding the placeholder names none (a TOASTed group column Debezium did not log).
 */
export function keyOnlyGroup(entity: EntityDef, before: EventRecord, p: Placeholder | undefined): KeyResult {
  const unlogged = entity.joinKeys.find((k) => isUnavailable(before[k], p))
  if (unlogged !== undefined)
    return { ok: false, reason: 'missing_key', detail: `join key ${unlogged} is the unavailable-value placeholder` }
  const key = entityKeyOf(entity, before)
  if (!key.ok) return key
  // A NOT NULL number column outside the replica identity arrives as 0, a valid int key: the
  // fallback, not the row's group (a real group 0 is found through the re-key stage's row index).
  const fallback = entity.joinKeys.find((k) => saysNothing(before[k], p))
  if (fallback !== undefined)
    return { ok: false, reason: 'missing_key', detail: `join key ${fallback} holds ${String(before[fallback])}, a CDC tool's fallback for a column the image did not log` }
  return key
}

/** The dead-letter detail of an after image whose placeholder nothing fills. */
export function unavailableDetail(key: string, column: string, where: string): string {
  return `column ${column} of row ${key} is the CDC tool's unavailable-value placeholder (an unchanged TOASTed column), and ${where} holds no value for it: send full after images (e.g. Postgres REPLICA IDENTITY FULL) or re-snapshot the row`
}
