import { DefinitionError } from '../core/errors.ts'
import type { EntityDef, KeyType } from './types.ts'
import { brand, checkName, checkText } from './validate.ts'

export interface EntityOptions {
  readonly name: string
  /** Event fields identifying the entity; several make a composite key (order matters). */
  readonly joinKeys: readonly string[]
  readonly keyType?: KeyType
  readonly description?: string
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
  const keyType = options.keyType ?? 'string'
  if (keyType !== 'string' && keyType !== 'int') {
    throw new DefinitionError(`${where}: keyType ${JSON.stringify(keyType)} is not supported; use 'string' or 'int'`)
  }
  return brand({
    kind: 'entity',
    name,
    joinKeys: Object.freeze([...joinKeys]),
    keyType,
    description: checkText(options.description, where, 'description'),
  } satisfies EntityDef)
}
