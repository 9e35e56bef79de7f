/**
 * The re-key stage's row index, simulated for tests that feed one task whole changes
 * (docs/table-and-changelog-sources.md, "Partial images"). A task alone cannot know which group a
 * row was in when a change's before image does not say (an upsert without one, or a key-only one
 * naming no group); the stage keeps primary key → group of the row's last forwarded after image, and
 * sends such a change an extra copy keyed by that group when it differs from the after image's. The
 * copy's role and held group come from the processor's own rule (changeCopyOf), as on the internal
 * topic; the whole change still follows it, standing for the copy keyed by the after image's group.
 */
import { changeCopyOf } from '../../../../engine/partition-processor.ts'
import type { EntityDef, SourceDef } from '../../../../features/types.ts'
import { changeOf } from '../../../../operators/changes/change.ts'
import { fillUnavailable, isKeyOnly, keyOnlyGroup, unavailableValueOf } from '../../../../operators/changes/partial-images.ts'
import { entityKeyOf } from '../../../../operators/task/event-fields.ts'
import type { ChangeStep } from '../../../reference/changes-reference.ts'

/** `steps` with the copies the stage's row index adds, each before its change. */
export function withHeldCopies(
  steps: readonly ChangeStep[],
  source: SourceDef,
  entity: EntityDef,
  primaryKey: EntityDef,
): ChangeStep[] {
  const placeholder = unavailableValueOf(source)
  const identity = new Set([...primaryKey.joinKeys, ...entity.joinKeys])
  const index = new Map<string, string>()
  const out: ChangeStep[] = []
  for (const step of steps) {
    out.push(step)
    if ('marker' in step) continue
    const result = changeOf(step.event, primaryKey)
    // What the stage refuses (a bad envelope, no commit time, an unfillable placeholder) reaches
    // the task whole here, and leaves the index alone.
    if (!result.ok || step.eventTimeMs === undefined || step.eventTimeMs === 0) continue
    const change = result.change
    const after = change.kind === 'upsert' ? fillUnavailable(change.after, [change.before], placeholder) : undefined
    if (after?.ok === false) continue
    const key = after === undefined ? undefined : entityKeyOf(entity, after.row)
    const to = key?.ok === true ? key.key : undefined
    const namesNone =
      change.before === null ||
      (isKeyOnly(change.before, identity, placeholder) && !keyOnlyGroup(entity, change.before, placeholder).ok)
    const held = namesNone ? index.get(change.key) : undefined
    if (held !== undefined && held !== to) {
      const copy = changeCopyOf(entity, step.event, held)
      const extra: ChangeStep =
        copy === undefined || copy.role === 'superseded'
          ? step
          : { ...step, role: copy.role, ...(copy.heldGroup === undefined ? {} : { heldGroup: copy.heldGroup }) }
      // A delete naming no group goes to the held group alone; any other change also to its own groups.
      out.splice(out.length - 1, change.kind === 'delete' ? 1 : 0, extra)
    }
    if (to !== undefined) index.set(change.key, to)
    else if (change.kind === 'delete') index.delete(change.key)
  }
  return out
}
