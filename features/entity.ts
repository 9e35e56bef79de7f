import { DefinitionError } from '../core/errors.ts'
import type { EntityDef, KeyType } from './types.ts'
import { brand, checkName, checkText, describeGivenValue } from './validate.ts'

export interface EntityOptions {
  readonly name: string
  /** Event fields identifying the entity; several make a composite key (order matters). */
  readonly joinKeys: readonly string[]
  readonly keyType?: KeyType
  readonly description?: string
}

/** Columns every offline feature table has besides the join keys (adapters/offline/iceberg/table-schemas.ts). */
export const FEATURE_TABLE_ROW_COLUMNS = ['entity_key', 'as_of', 'created_at', 'seq'] as const

/** An Avro field name: what a join key names in an event, and a column name every engine accepts. */
const COLUMN_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/

/**
 * Each join key becomes a typed column of the view's offline table, beside `entity_key`: it must be
 * a plain column name and not one of the table's own columns (compared ignoring case, as DuckDB
 * and Spark compare column names).
 */
function checkJoinKeyColumn(key: string, where: string): void {
  if (!COLUMN_NAME.test(key)) {
    throw new DefinitionError(
      `${where}: join key ${describeGivenValue(key)} is not a valid field name; use letters, digits and _ (not starting with a digit), as Avro field names do`,
    )
  }
  const reserved = FEATURE_TABLE_ROW_COLUMNS.find((c) => c === key.toLowerCase())
  if (reserved !== undefined) {
    throw new DefinitionError(
      `${where}: join key '${key}' is reserved (offline feature tables have a column ${reserved}: ${FEATURE_TABLE_ROW_COLUMNS.join(', ')}); name the key otherwise and give events that field in the view (map and mapFields)`,
    )
  }
}

/**
 * Declares what a feature view is keyed by.
 *
 * @example
 * export const user = entity({ name: 'user', joinKeys: ['user_id'], description: 'A signed-in shopper' })
 */
export function entity(options: EntityOptions): EntityDef {
  const name = checkName(options?.name, 'entity')
  const where = `entity ${name}`
  const joinKeys = options.joinKeys
  if (!Array.isArray(joinKeys) || joinKeys.length === 0 || joinKeys.some((k) => typeof k !== 'string' || k === '')) {
    throw new DefinitionError(`${where}: joinKeys must be a non-empty list of field names, e.g. joinKeys: ['user_id']`)
  }
  const dup = joinKeys.find((k, i) => joinKeys.indexOf(k) !== i)
  if (dup !== undefined) throw new DefinitionError(`${where}: join key '${dup}' is listed twice`)
  for (const key of joinKeys) checkJoinKeyColumn(key, where)
  const folded = joinKeys.map((k) => k.toLowerCase())
  const twin = joinKeys.find((_, i) => folded.indexOf(folded[i]!) !== i)
  if (twin !== undefined) {
    throw new DefinitionError(
      `${where}: join keys '${joinKeys[folded.indexOf(twin.toLowerCase())]}' and '${twin}' differ only in case; readers that ignore case (DuckDB, Spark) could not tell their offline-table columns apart`,
    )
  }
  const keyType = options.keyType ?? 'string'
  if (keyType !== 'string' && keyType !== 'int') {
    throw new DefinitionError(`${where}: keyType ${describeGivenValue(keyType)} is not supported; use 'string' or 'int'`)
  }
  return brand({
    kind: 'entity',
    name,
    joinKeys: Object.freeze([...joinKeys]),
    keyType,
    description: checkText(options.description, where, 'description'),
  } satisfies EntityDef)
}
