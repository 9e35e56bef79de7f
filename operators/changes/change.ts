/**
 * One decoded change envelope (features/change-envelope.ts) read as what it does to a keyed table
 * (docs/design.md §11): an upsert of the after image, or a delete of the key (with the before
 * image when the producer sent one). Bad envelopes come back as a dead-letter reason, never thrown.
 *
 * - c, r, u → upsert; `after` is required. `before` is an update's old row (optional: a key-only
 *   replica identity sends none); a create or a snapshot read has none (Debezium never sends one),
 *   so c or r with a before image does not fit its op: `unknown_op`, not an update in disguise.
 * - d → delete; `before` is required (Debezium always sends at least its key columns), `after` must be null.
 * - anything else (Debezium's `t` truncate included) → `unknown_op`.
 * The row's primary key is read from `after` for an upsert and from `before` for a delete; an
 * update whose before image names another key is `unknown_op` too (a key change is a delete of the
 * old key and a create of the new one, and Debezium publishes it that way).
 */
import type { EntityDef, EventRecord } from '../../features/types.ts'
import { entityKeyOf } from '../task/event-fields.ts'

export type Change =
  | { readonly kind: 'upsert'; readonly key: string; readonly before: EventRecord | null; readonly after: EventRecord }
  | { readonly kind: 'delete'; readonly key: string; readonly before: EventRecord }

export type ChangeResult =
  | { readonly ok: true; readonly change: Change }
  | { readonly ok: false; readonly reason: 'unknown_op' | 'missing_key' | 'invalid_key'; readonly detail: string }

function image(value: unknown): EventRecord | null | undefined {
  if (value === null || value === undefined) return null
  return typeof value === 'object' && !Array.isArray(value) ? (value as EventRecord) : undefined
}

/**
 * The change an envelope carries. `primaryKey` is an entity whose join keys are the table's
 * primary key columns (the source's `keyedBy` entity, or one made of `primaryKey`).
 */
export function changeOf(envelope: EventRecord, primaryKey: EntityDef): ChangeResult {
  const op = envelope.op
  const before = image(envelope.before)
  const after = image(envelope.after)
  if (before === undefined || after === undefined) return { ok: false, reason: 'unknown_op', detail: 'before/after must be row records or null' }
  if (op === 'c' || op === 'r' || op === 'u') {
    if (after === null) return { ok: false, reason: 'unknown_op', detail: `op '${op}' without an after image` }
    if (before !== null && op !== 'u') return { ok: false, reason: 'unknown_op', detail: `op '${op}' with a before image (only an update 'u' carries the old row)` }
    const key = entityKeyOf(primaryKey, after)
    if (!key.ok) return { ok: false, reason: key.reason, detail: `after: ${key.detail}` }
    if (before !== null) {
      const old = entityKeyOf(primaryKey, before)
      if (!old.ok || old.key !== key.key) return { ok: false, reason: 'unknown_op', detail: `op '${op}' whose before image has another primary key than its after image` }
    }
    return { ok: true, change: { kind: 'upsert', key: key.key, before, after } }
  }
  if (op === 'd') {
    if (before === null) return { ok: false, reason: 'unknown_op', detail: "op 'd' without a before image (at least the key columns)" }
    if (after !== null) return { ok: false, reason: 'unknown_op', detail: "op 'd' with an after image" }
    const key = entityKeyOf(primaryKey, before)
    if (!key.ok) return { ok: false, reason: key.reason, detail: `before: ${key.detail}` }
    return { ok: true, change: { kind: 'delete', key: key.key, before } }
  }
  const shown = typeof op === 'string' ? `'${op.length > 20 ? `${op.slice(0, 20)}…` : op}'` : typeof op
  return { ok: false, reason: 'unknown_op', detail: `op ${shown} is not one of c, r, u, d` }
}
