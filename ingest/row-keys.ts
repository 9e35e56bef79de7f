/**
 * A table row's key, as the engine will key it (operators/task/event-fields.ts entityKeyOf): by
 * the source's entity, whose keys are text (keyType 'string') or integers written in one form
 * (keyType 'int': core/entity-key.ts CANONICAL_INT_KEY). A row whose key the entity cannot hold
 * is rejected here (`missing_key`): appended, it was dead-lettered `invalid_key` by every view
 * over the source, and `007` beside `7` was two keys of the log for one entity.
 */
import { CANONICAL_INT_KEY, encodeEntityKey, invalidKeyPartReason, isPlainKeyPart } from '../core/entity-key.ts'
import { SchemaError } from '../core/errors.ts'
import type { KeyType } from '../features/types.ts'
import type { RowColumn } from './row-columns.ts'

/** How a rejected row's value is named in its detail. */
export function describeValue(value: unknown): string {
  if (value === null || value === undefined) return 'null'
  if (typeof value === 'string') return `text ${JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value)}`
  // The value itself for numbers (NaN, Infinity, a fraction, a long past 2^53): "holds number" alone named no row's problem.
  if (typeof value === 'number' || typeof value === 'bigint' || typeof value === 'boolean')
    return `${typeof value} ${String(value)}`
  return typeof value
}

export interface KeyRejection {
  readonly reason: 'missing_key'
  readonly detail: string
}

/** The entity the rows are keyed by: its name and key type (undefined: any value's text, as tests without one ask). */
export interface RowKeyEntity {
  readonly name: string
  readonly keyType: KeyType
}

/**
 * Refuses a primary-key column whose values the entity's keys never are — a number or a boolean
 * for a text entity, a double for an int one: every row would be rejected for it.
 */
export function checkKeyColumns(
  columns: readonly RowColumn[],
  primaryKey: readonly string[],
  entity: RowKeyEntity | undefined,
  where: string,
): void {
  if (entity === undefined) return
  for (const name of primaryKey) {
    const c = columns.find((col) => col.name === name)
    if (c === undefined) continue
    // A richer type (`other`: an enum, bytes…) is judged value by value (keyPart): an enum's symbols are text.
    const fits =
      c.kind === 'other' ||
      (entity.keyType === 'int' ? c.kind === 'long' || c.kind === 'timestamp' || c.kind === 'string' : c.kind === 'string')
    if (!fits)
      throw new SchemaError(
        'SCHEMA_INCOMPATIBLE',
        entity.keyType === 'int'
          ? `the snapshot at ${where}: the primary-key column ${name} is ${c.avro === 'other' ? c.kind : c.avro}, but entity ${entity.name}'s keys are integers (keyType 'int'); nothing was appended (declare the column as a long, or as a string holding integers)`
          : `the snapshot at ${where}: the primary-key column ${name} is ${c.avro === 'other' ? c.kind : c.avro}, but entity ${entity.name}'s keys are text (keyType 'string'); nothing was appended (declare the entity with keyType: 'int', or the column as a string)`,
      )
  }
}

/** The primary-key part `value` of column `name` as text, or why the row has none. */
function keyPart(value: unknown, name: string, entity: RowKeyEntity | undefined): string | KeyRejection {
  if (entity?.keyType === 'int') return intKeyPart(value, name, entity.name)
  // The usual key: printable ASCII text, short enough (what invalidKeyPartReason accepts, told without a regex).
  if (typeof value === 'string' && isPlainKeyPart(value)) return value
  if (value === null || value === undefined) return { reason: 'missing_key', detail: `primary-key column ${name} is null` }
  if (entity !== undefined && typeof value !== 'string')
    return {
      reason: 'missing_key',
      detail: `primary-key column ${name} holds ${describeValue(value)}, not text: entity ${entity.name}'s keys are text`,
    }
  const part = String(value)
  const bad = invalidKeyPartReason(part)
  if (bad !== undefined) return { reason: 'missing_key', detail: `primary-key column ${name} is ${bad}` }
  return part
}

function intKeyPart(value: unknown, name: string, entity: string): string | KeyRejection {
  if (value === null || value === undefined) return { reason: 'missing_key', detail: `primary-key column ${name} is null` }
  // -0 (CSV's "-0" in a long column) is the integer 0: String gives "0".
  if (typeof value === 'number' && Number.isSafeInteger(value)) return String(value)
  if (typeof value === 'bigint') return value.toString()
  if (typeof value === 'string' && CANONICAL_INT_KEY.test(value)) return value
  return {
    reason: 'missing_key',
    detail: `primary-key column ${name} holds ${describeValue(value)}, not an integer: entity ${entity}'s keys are integers, written without sign, leading zeros or fraction (as the engine keys them)`,
  }
}

/** Row r's entity key from its primary-key columns, or why it has none. */
export function keyOf(
  primaryKey: readonly string[],
  keyColumns: readonly ArrayLike<unknown>[],
  r: number,
  entity: RowKeyEntity | undefined,
): string | KeyRejection {
  if (primaryKey.length === 1) return keyPart(keyColumns[0]![r], primaryKey[0]!, entity)
  const parts: string[] = []
  for (let k = 0; k < primaryKey.length; k++) {
    const part = keyPart(keyColumns[k]![r], primaryKey[k]!, entity)
    if (typeof part !== 'string') return part
    parts.push(part)
  }
  return encodeEntityKey(parts)
}
