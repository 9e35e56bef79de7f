/**
 * Which group a current-state view retracts a row from when the change's before image cannot say
 * it (docs/table-and-changelog-sources.md, "Partial images"): an upsert without a before image
 * (Postgres REPLICA IDENTITY DEFAULT logs none for an update), or a key-only before image (the
 * primary key and maybe the group columns; nulls or a CDC tool's fallbacks elsewhere). Such an
 * image has no contribution to compare: the change retracts whatever the group holds for the row,
 * as DESIGN §11's upsert replaces the key's previous row.
 */
import type { EntityDef, EventRecord } from '../../features/types.ts'
import type { TaskDeadLetter } from '../task/output.ts'
import { entityKeyOf } from '../task/event-fields.ts'
import type { Change } from './change.ts'
import { isKeyOnly, keyOnlyGroup, type Placeholder } from './partial-images.ts'

/** True when the change's before image is missing or key-only: it is not compared, only its row retracted. */
export function hasPartialBefore(change: Change, identity: ReadonlySet<string>, p: Placeholder | undefined): boolean {
  return change.before === null || isKeyOnly(change.before, identity, p)
}

/**
 * Where the retraction's group came from: the re-key stage's row index (`held`: the group of the
 * row's last after image), the key-only image's own group columns (`image`), or the after image
 * (`after`: the row assumed to stay in its group). Only a group the image names is a claim that it
 * holds the row, so only there is a missing row a dead letter (unknown_retraction).
 */
export type RetractionSource = 'held' | 'image' | 'after'

export type RetractionGroup =
  | { readonly ok: true; readonly group: string; readonly from: RetractionSource }
  | { readonly ok: false; readonly letter: Omit<TaskDeadLetter, 'offset' | 'view'> }

/**
 * The group to retract row `change.key` from: `heldGroup` when the stage gave one, else the group
 * the key-only image names (by its raw join keys, as the stage routes), else for an upsert the
 * group of `after` (filled, raw join keys). Undefined: an upsert whose after image names no group
 * either (its addition is refused or filtered on its own). A delete naming no group is refused.
 */
export function retractionGroupOf(
  entity: EntityDef,
  change: Change,
  after: EventRecord | null,
  heldGroup: string | undefined,
  p: Placeholder | undefined,
): RetractionGroup | undefined {
  if (heldGroup !== undefined) return { ok: true, group: heldGroup, from: 'held' }
  const named = change.before !== null ? keyOnlyGroup(entity, change.before, p) : undefined
  if (named?.ok === true) return { ok: true, group: named.key, from: 'image' }
  if (after !== null) {
    const key = entityKeyOf(entity, after)
    return key.ok ? { ok: true, group: key.key, from: 'after' } : undefined
  }
  if (named === undefined || named.ok) return undefined
  return {
    ok: false,
    letter: {
      reason: named.reason,
      detail: `${keyOnlyText(change)}, which does not name the row's group (${named.detail}): the view needs full before images (e.g. Postgres REPLICA IDENTITY FULL)`,
    },
  }
}

/** The dead letter of a key-only image whose group does not hold the row live. */
export function unheldLetter(change: Change, group: string): Omit<TaskDeadLetter, 'offset' | 'view'> {
  return {
    reason: 'unknown_retraction',
    detail: `${keyOnlyText(change)}, and group ${group} it names does not hold the row: the view needs full before images (e.g. Postgres REPLICA IDENTITY FULL)`,
  }
}

function keyOnlyText(change: Change): string {
  const what = change.kind === 'delete' ? 'delete' : 'update'
  return `${what} of row ${change.key} has a key-only before image (nothing outside its primary key and group columns but nulls or a CDC tool's fallbacks)`
}
