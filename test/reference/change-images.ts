/**
 * How the brute-force oracle (changes-reference.ts) reads a change's images, from the design text:
 * what a before image says (a null, a fallback or a placeholder says nothing), what a key-only
 * image is, and how an after image's placeholders are filled from rows already known.
 */
import type { EventRecord, FeatureViewDef } from '../../features/types.ts'

export function sameScalar(a: unknown, b: unknown): boolean {
  if (typeof a === 'number' && typeof b === 'number') return a === b || (a !== a && b !== b)
  if ((typeof a === 'bigint' || typeof a === 'number') && (typeof b === 'bigint' || typeof b === 'number'))
    return String(a) === String(b)
  // Records, lists and bytes (nested columns) by content.
  if (typeof a === 'object' && a !== null && typeof b === 'object' && b !== null) return contentText(a) === contentText(b)
  return a === b
}

function contentText(v: object): string {
  return JSON.stringify(v, (_k, x: unknown) =>
    typeof x === 'bigint' ? `${x}n` : x instanceof Uint8Array ? `bytes:${Buffer.from(x).toString('hex')}` : x,
  )
}

/** A null or a placeholder in the before image, or a column the current row does not hold (added to the schema since), says nothing. */
export function beforeDisagrees(before: EventRecord, current: EventRecord, placeholder: string | undefined): boolean {
  return Object.entries(before).some(
    ([k, v]) => v !== null && v !== undefined && !unavailable(v, placeholder) && k in current && !sameScalar(v, current[k]),
  )
}

/** A delete's before image: its fallbacks ('' 0 false, empty) say nothing either (a partial image of a NOT NULL table). */
export function deleteDisagrees(before: EventRecord, current: EventRecord, placeholder: string | undefined): boolean {
  return Object.entries(before).some(
    ([k, v]) => !keyOnly({ [k]: v }, [], placeholder) && k in current && !sameScalar(v, current[k]),
  )
}

/** The placeholder of a changelog's values it did not log: the source's, else Debezium's; none for a table source. */
export function placeholderOf(view: FeatureViewDef): string | undefined {
  const spec = view.source.changes
  return spec?.kind === 'changelog' ? (spec.unavailableValue ?? '__debezium_unavailable_value') : undefined
}

/** The placeholder as a string column, a binary column (its UTF-8 bytes) or an array (one element) holds it. */
export function unavailable(v: unknown, placeholder: string | undefined): boolean {
  if (placeholder === undefined) return false
  if (typeof v === 'string') return v === placeholder
  if (v instanceof Uint8Array) return Buffer.from(v).equals(Buffer.from(placeholder, 'utf8'))
  return (
    Array.isArray(v) && v.length === 1 && (v[0] === placeholder || (v[0] instanceof Uint8Array && unavailable(v[0], placeholder)))
  )
}

/** A before image holding nothing outside `identity` but nulls, the types' fallbacks ('' 0 false, empty) and placeholders: a key-only image. */
export function keyOnly(before: EventRecord, identity: readonly string[], placeholder: string | undefined): boolean {
  return Object.entries(before).every(
    ([k, v]) =>
      identity.includes(k) ||
      v === null ||
      v === undefined ||
      v === '' ||
      v === 0 ||
      v === 0n ||
      v === false ||
      ((v instanceof Uint8Array || Array.isArray(v)) && v.length === 0) ||
      (v instanceof Date && v.getTime() === 0) ||
      unavailable(v, placeholder),
  )
}

/** `after` with its placeholders taken from the first row of `known` holding a value; the column none holds. */
export function filled(
  after: EventRecord,
  known: readonly (EventRecord | null)[],
  placeholder: string | undefined,
): EventRecord | { missing: string } {
  const out: Record<string, unknown> = { ...after }
  for (const [k, v] of Object.entries(after)) {
    if (!unavailable(v, placeholder)) continue
    const row = known.find((r) => r !== null && r[k] !== null && r[k] !== undefined && !unavailable(r[k], placeholder))
    if (row === undefined || row === null) return { missing: k }
    out[k] = row[k]
  }
  return out
}
