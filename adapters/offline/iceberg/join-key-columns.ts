/**
 * The entity's join keys as typed columns of a feature table (issue #17 item 5), so a reader of the
 * table (DuckDB, PyIceberg, Spark) joins on `user_id` or `item_id` directly instead of decoding the
 * opaque `entity_key` (core/entity-key.ts: composite keys joined with U+001F, each part escaped).
 *
 * Types: a `string` entity's keys are `string` columns; an `int` entity's are `long` — `int` keys
 * are 64-bit (an Avro int or long, or canonical decimal digits a map returns), and one type for
 * every table of an entity keeps joins between them plain.
 *
 * Values are decoded from the row's entity key, exactly: digits are never parsed through a double,
 * so an id past 2^53 is the same int64 in the column. The columns are optional, and an int key part
 * that is not a canonical int64 (digits beyond the int64 range, `-0`: accepted by the engine as
 * digits, but no int64 spells them) is null there; `entity_key` always holds the key as it is. A
 * non-null typed value therefore always prints back to its part of `entity_key`.
 */
import { decodeEntityKey } from '../../../core/entity-key.ts'
import type { EntityDef } from '../../../features/types.ts'

export type JoinKeyEntity = Pick<EntityDef, 'name' | 'joinKeys' | 'keyType'>

export interface JoinKeyColumn {
  readonly name: string
  readonly type: 'string' | 'long'
  /** The column's Iceberg `doc`: where its values come from. */
  readonly doc: string
}

/** Table property naming the join-key columns (comma-separated, in `entity_key` part order). */
export const JOIN_KEYS_PROPERTY = 'kfs.join-keys'

export function joinKeyColumnsOf(entity: JoinKeyEntity): JoinKeyColumn[] {
  const arity = entity.joinKeys.length
  return entity.joinKeys.map((name, i) => ({
    name,
    type: entity.keyType === 'int' ? 'long' : 'string',
    doc:
      arity === 1
        ? `join key of entity ${entity.name} (entity_key, typed)`
        : `join key ${i + 1} of ${arity} of entity ${entity.name} (part ${i + 1} of entity_key, typed)`,
  }))
}

/** Canonical int64 digits: no sign on zero, no leading zeros, at most 19 digits (range checked below). */
const CANONICAL_INT = /^(?:0|-?[1-9][0-9]{0,18})$/
const INT64_MIN = -(2n ** 63n)
const INT64_MAX = 2n ** 63n - 1n

/** The int64 an `int` key part spells: a number while exact (≤ 15 digits), else a bigint; null when no int64 does. */
export function int64OfKeyPart(part: string): number | bigint | null {
  if (!CANONICAL_INT.test(part)) return null
  if (part.length <= 15) return Number(part)
  const value = BigInt(part)
  return value < INT64_MIN || value > INT64_MAX ? null : value
}

/** One value array per join key (in `joinKeys` order) for the rows' entity keys. */
export function joinKeyValuesOf(entity: JoinKeyEntity, entityKeys: readonly string[]): (readonly unknown[])[] {
  const arity = entity.joinKeys.length
  const typed: (part: string) => unknown = entity.keyType === 'int' ? int64OfKeyPart : (part) => part
  // The common case, one string key: the column is the entity keys themselves.
  if (arity === 1) return [entity.keyType === 'int' ? entityKeys.map(int64OfKeyPart) : entityKeys]
  const columns = entity.joinKeys.map(() => new Array<unknown>(entityKeys.length))
  for (let i = 0; i < entityKeys.length; i++) {
    const parts = decodeEntityKey(entityKeys[i]!, arity)
    // A key with another number of parts was not encoded for this entity: no typed values, not wrong ones.
    for (let k = 0; k < arity; k++) columns[k]![i] = parts.length === arity ? typed(parts[k]!) : null
  }
  return columns
}
