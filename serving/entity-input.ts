/**
 * Entity keys from requests. Each join-key value is checked before anything reaches the store:
 * strings by core/entity-key.ts's rules, `int` keys as canonical decimal integers (so `007` and
 * `7` cannot name two entities). Composite keys are encoded in the entity's declared order.
 *
 * An `int` key is read by the engine's rule (operators/task/event-fields.ts, docs/semantics.md §1):
 * a safe-integer number, or a canonical decimal string of any length — the engine keeps a 64-bit id
 * past 2^53 from its digits and a training set joins it exactly, so serving must answer it too.
 * Such an id can only be sent as a string: a JSON number past 2^53 has already lost its digits.
 */
import { CANONICAL_INT_KEY, encodeEntityKey, invalidKeyPartReason } from '../core/entity-key.ts'
import type { EntityDef } from '../features/types.ts'
import { badRequest } from './errors.ts'


/**
 * A join-key value of a request that no view of it reads (`{user_id: [...], item_id: [9]}` for
 * user features only): held to the rules every key part meets, whatever its entity's key type,
 * because it is echoed in every row of the answer.
 */
export function checkJoinKeyValue(joinKey: string, raw: unknown): void {
  if (typeof raw !== 'string' && !(typeof raw === 'number' && Number.isSafeInteger(raw))) {
    throw badRequest(`${joinKey} values must be strings or integers`, { joinKey })
  }
  const reason = invalidKeyPartReason(String(raw))
  if (reason) throw badRequest(`${joinKey} is invalid: ${reason}`, { joinKey })
}

export function keyPart(entity: EntityDef, joinKey: string, raw: unknown): string {
  let part: string
  if (typeof raw === 'string') part = raw
  // JSON clients often send ids as numbers; integers are accepted for either key type.
  else if (typeof raw === 'number' && Number.isSafeInteger(raw)) part = String(raw)
  else if (typeof raw === 'number' && Number.isInteger(raw)) {
    throw badRequest(
      `${joinKey} is a number past 2^53, which JSON numbers cannot hold exactly: send it as a string of its digits`,
      { joinKey },
    )
  } else throw badRequest(`${joinKey} must be ${entity.keyType === 'int' ? 'an integer' : 'a string'}`, { joinKey })
  const reason = invalidKeyPartReason(part)
  if (reason) throw badRequest(`${joinKey} is invalid: ${reason}`, { joinKey })
  if (entity.keyType === 'int' && !CANONICAL_INT_KEY.test(part)) throw badRequest(`${joinKey} must be a canonical integer`, { joinKey })
  return part
}

export function entityKeyOf(entity: EntityDef, parts: Readonly<Record<string, unknown>>): string {
  return encodeEntityKey(
    entity.joinKeys.map((k) => {
      if (!(k in parts)) throw badRequest(`missing join key ${k} of entity ${entity.name}`, { joinKey: k })
      return keyPart(entity, k, parts[k])
    }),
  )
}
