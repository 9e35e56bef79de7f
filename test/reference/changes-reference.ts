/**
 * The brute-force oracle for views over change sources (docs/design.md §11), written from the
 * design text only: it shares no code with operators/changes/ except `changeOf` (reading an
 * envelope) and `entityKeyOf` (canonical keys). It keeps every applied version of every row
 * forever and recomputes everything from that history at each change:
 * - attributes: the key's current version is the applied version with the greatest (t, order);
 *   its clock the greatest applied t;
 * - current state: a member's state in a group is its latest applied event there; a group's
 *   values are recomputed from all its live members, its clock is its greatest applied t.
 * Partial images (docs/table-and-changelog-sources.md): a delete's before image, and a key-only
 * update image, is compared only where it says something (attributes); in a current-state view a missing or key-only before image
 * retracts whatever one group holds for the row — the held group a re-keyed copy names, else the
 * group the image names, else the after image's — and the after image is added as usual; an after
 * image's placeholder takes the current row's value (attributes), else the before image's, else
 * the change is `unavailable_value`. A changelog's commit time 0 is `missing_event_time`.
 * It never forgets state, so it also checks that the runners' dropping is invisible.
 */
import type { EntityDef, EventRecord, FeatureValue, FeatureViewDef } from '../../features/types.ts'
import { changeOf } from '../../operators/changes/change.ts'
import { entityKeyOf } from '../../operators/task/event-fields.ts'
import { beforeDisagrees, deleteDisagrees, filled, keyOnly, placeholderOf, sameScalar } from './change-images.ts'

export type ChangeStep =
  | {
      readonly offset: string
      readonly eventTimeMs: number | undefined
      readonly event: EventRecord
      readonly role?: 'retract' | 'add'
      /** A re-keyed copy the stage routed by its row index (TaskEvent.heldGroup). */
      readonly heldGroup?: string
    }
  | { readonly marker: number }

export interface ExpectedRow {
  readonly entityKey: string
  readonly asOfMs: number
  readonly values: readonly FeatureValue[]
  readonly deleted?: true
  /** Σ|x| of every value ever summed into the row's group: the scale of its rounding error. */
  readonly scale: number
}

export interface ExpectedDeadLetter {
  readonly offset: string
  readonly reason: string
  readonly view?: string
}

export interface ReferenceView {
  readonly view: FeatureViewDef
  /** The primary-key entity of the source's rows. */
  readonly primaryKey: EntityDef
  readonly maxStringBytes: number
}

export interface ChangesReferenceResult {
  /** Rows per view, in emission order. */
  readonly rows: ExpectedRow[][]
  readonly dead: ExpectedDeadLetter[]
}

type Dead = ExpectedDeadLetter[]

/** Filter then map of a row image: the mapped row, 'filtered', or 'failed' (map_failed pushed). */
function viewImage(view: FeatureViewDef, offset: string, row: EventRecord, dead: Dead): EventRecord | 'filtered' | 'failed' {
  let out: unknown = row
  try {
    if (view.filter !== undefined && view.filter(row, view.constants ?? {}) !== true) return 'filtered'
    if (view.map !== undefined) out = view.map(row, view.constants ?? {})
  } catch {
    dead.push({ offset, reason: 'map_failed', view: view.name })
    return 'failed'
  }
  if (typeof out !== 'object' || out === null) {
    dead.push({ offset, reason: 'map_failed', view: view.name })
    return 'failed'
  }
  return out as EventRecord
}

const SAFE = 2 ** 53

/** An attribute column: the value, or a dead-letter reason. */
function columnValue(v: unknown, maxStringBytes: number): { value: FeatureValue } | { reason: string } {
  if (v === null || v === undefined) return { value: null }
  // No emitted row carries NaN or ±Infinity (docs/semantics.md).
  if (typeof v === 'number') return Number.isFinite(v) ? { value: v } : { reason: 'out_of_range' }
  if (typeof v === 'string') return Buffer.byteLength(v, 'utf8') > maxStringBytes ? { reason: 'oversize' } : { value: v }
  if (typeof v === 'bigint') return v > -SAFE && v < SAFE ? { value: Number(v) } : { reason: 'out_of_range' }
  // A timestamp-millis column (decoded as a Date) is its epoch milliseconds.
  if (v instanceof Date && !Number.isNaN(v.getTime())) return { value: v.getTime() }
  return { reason: 'schema_mismatch' }
}

interface Version {
  readonly t: number
  readonly order: number
  readonly row: EventRecord | null
}

class AttributesOracle {
  readonly #history = new Map<string, Version[]>()
  readonly #last = new Map<string, ExpectedRow>()
  readonly ref: ReferenceView
  constructor(ref: ReferenceView) {
    this.ref = ref
  }

  step(offset: string, order: number, t: number, event: EventRecord, rows: ExpectedRow[], dead: Dead): void {
    const { view, maxStringBytes } = this.ref
    const res = changeOf(event, view.entity)
    if (!res.ok) return void dead.push({ offset, reason: res.reason, view: view.name })
    const ch = res.change
    const history = this.#history.get(ch.key) ?? []
    let current: Version | undefined
    for (const v of history) if (current === undefined || v.t > current.t || (v.t === current.t && v.order > current.order)) current = v
    if (current !== undefined && t < current.t) return
    const liveRow = current?.row ?? null
    let row: EventRecord | null = null
    let values: FeatureValue[] | null = null
    const placeholder = placeholderOf(view)
    if (ch.kind === 'delete') {
      if (liveRow === null) return void dead.push({ offset, reason: 'unknown_retraction', view: view.name })
      if (deleteDisagrees(ch.before, liveRow, placeholder))
        return void dead.push({ offset, reason: 'before_mismatch', view: view.name })
    } else {
      // A key-only update image (MySQL's minimal row image) is read as a delete's: only where it says something.
      const disagrees = ch.before !== null && keyOnly(ch.before, view.entity.joinKeys, placeholder) ? deleteDisagrees : beforeDisagrees
      if (ch.before !== null && liveRow !== null && disagrees(ch.before, liveRow, placeholder))
        return void dead.push({ offset, reason: 'before_mismatch', view: view.name })
      const after = filled(ch.after, [liveRow, ch.before], placeholder)
      if ('missing' in after) return void dead.push({ offset, reason: 'unavailable_value', view: view.name })
      const image = viewImage(view, offset, after, dead)
      if (image === 'failed') return
      if (image !== 'filtered') {
        values = []
        for (const f of view.features) {
          const v = columnValue(image[f.aggregation.field as string], maxStringBytes)
          if ('reason' in v) return void dead.push({ offset, reason: v.reason, view: view.name })
          values.push(v.value)
        }
      }
      row = after
    }
    history.push({ t, order, row })
    this.#history.set(ch.key, history)
    const asOfMs = Math.max(...history.map((v) => v.t))
    const expected: ExpectedRow = values === null ? { entityKey: ch.key, asOfMs, values: view.features.map(() => null), deleted: true, scale: 0 } : { entityKey: ch.key, asOfMs, values, scale: 0 }
    const last = this.#last.get(ch.key)
    if (last !== undefined && last.asOfMs === asOfMs && last.deleted === expected.deleted && sameValues(last.values, expected.values)) return
    this.#last.set(ch.key, expected)
    rows.push(expected)
  }
}

function sameValues(a: readonly FeatureValue[], b: readonly FeatureValue[]): boolean {
  return a.length === b.length && a.every((v, i) => sameScalar(v, b[i]))
}

interface MemberEvent {
  readonly pk: string
  readonly t: number
  readonly order: number
  /** Undefined: a retraction. */
  readonly contribution: readonly (number | null)[] | undefined
}

class CurrentStateOracle {
  readonly #events = new Map<string, MemberEvent[]>()
  readonly ref: ReferenceView
  constructor(ref: ReferenceView) {
    this.ref = ref
  }

  /** A row image's group and contribution; undefined when filtered out or refused (dead letter). */
  #part(offset: string, image: EventRecord, dead: Dead): { group: string; contribution: (number | null)[] } | undefined {
    const view = this.ref.view
    const row = viewImage(view, offset, image, dead)
    if (row === 'filtered' || row === 'failed') return undefined
    const key = entityKeyOf(view.entity, row)
    if (!key.ok) return void dead.push({ offset, reason: key.reason, view: view.name })
    const contribution: (number | null)[] = []
    for (const f of view.features) {
      const field = f.aggregation.field
      const raw = field === undefined ? 1 : row[field]
      const v = raw === undefined ? null : raw
      if (f.aggregation.op === 'count') {
        contribution.push(v === null ? 0 : 1)
        continue
      }
      if (v === null) {
        contribution.push(null)
        continue
      }
      const n = typeof v === 'bigint' && v > -SAFE && v < SAFE ? Number(v) : v
      if (typeof n === 'bigint' || (typeof n === 'number' && !(Math.abs(n) <= 2 ** 960))) return void dead.push({ offset, reason: 'out_of_range', view: view.name })
      if (typeof n !== 'number') return void dead.push({ offset, reason: 'schema_mismatch', view: view.name })
      contribution.push(n)
    }
    return { group: key.key, contribution }
  }

  #latest(group: string, pk: string): MemberEvent | undefined {
    let latest: MemberEvent | undefined
    for (const e of this.#events.get(group) ?? []) if (e.pk === pk && (latest === undefined || e.t > latest.t || (e.t === latest.t && e.order > latest.order))) latest = e
    return latest
  }

  #values(group: string): FeatureValue[] {
    const events = this.#events.get(group) ?? []
    const live = [...new Set(events.map((e) => e.pk))]
      .sort()
      .map((pk) => this.#latest(group, pk)?.contribution)
      .filter((c) => c !== undefined)
    return this.ref.view.features.map((f, i) => {
      const xs = live.map((c) => c[i]).filter((x) => x !== null && x !== undefined)
      const sum = xs.reduce((a, b) => a + b, 0)
      if (f.aggregation.op === 'avg') return xs.length === 0 ? null : sum / xs.length
      return sum
    })
  }

  step(offset: string, order: number, t: number, event: EventRecord, role: 'retract' | 'add' | undefined, heldGroup: string | undefined, rows: ExpectedRow[], dead: Dead): void {
    const view = this.ref.view
    const res = changeOf(event, this.ref.primaryKey)
    if (!res.ok) return void dead.push({ offset, reason: res.reason, view: view.name })
    const ch = res.change
    const placeholder = placeholderOf(view)
    let after: EventRecord | null = null
    if (ch.kind === 'upsert') {
      const f = filled(ch.after, [ch.before], placeholder)
      if ('missing' in f) return void dead.push({ offset, reason: 'unavailable_value', view: view.name })
      after = f
    }
    if (ch.before === null || keyOnly(ch.before, [...this.ref.primaryKey.joinKeys, ...view.entity.joinKeys], placeholder))
      return this.#partial(offset, order, t, ch.key, ch.before, after, role, heldGroup, rows, dead)
    // Only a partial before image gets a held group: a full one names its own.
    if (heldGroup !== undefined) return
    const refused = dead.length
    const retract = role !== 'add' && ch.before !== null ? this.#part(offset, ch.before, dead) : undefined
    const beforeRefused = dead.length > refused
    // A before image the filter refuses, of a row its group holds live: not the row the group holds.
    let contradicted: string | undefined
    if (role !== 'add' && ch.before !== null && retract === undefined && dead.length === refused) {
      const key = entityKeyOf(view.entity, ch.before)
      const latest = key.ok ? this.#latest(key.key, ch.key) : undefined
      if (key.ok && latest !== undefined && latest.contribution !== undefined && latest.t <= t) {
        contradicted = key.key
        dead.push({ offset, reason: 'before_mismatch', view: view.name })
      }
    }
    const addFrom = dead.length
    const add = role !== 'retract' && after !== null ? this.#part(offset, after, dead) : undefined
    // An image the view refuses (map, key, value) refuses the change whole, a split copy's other image included.
    const other = role === 'retract' ? after : role === 'add' ? ch.before : null
    const scratch: Dead = []
    if (other !== null) this.#part(offset, other, scratch)
    const otherRefused = scratch.length > 0
    if (beforeRefused || dead.length > addFrom || otherRefused) return
    if (contradicted !== undefined && add?.group === contradicted) return
    const groups: { group: string; retract?: (number | null)[]; add?: (number | null)[] }[] = []
    if (retract !== undefined) groups.push({ group: retract.group, retract: retract.contribution })
    if (add !== undefined) {
      if (groups[0]?.group === add.group) groups[0].add = add.contribution
      else groups.push({ group: add.group, add: add.contribution })
    }
    for (const g of groups) {
      const latest = this.#latest(g.group, ch.key)
      if (latest !== undefined && latest.t > t) continue
      const before = this.#values(g.group)
      const events = this.#events.get(g.group) ?? []
      let applied = false
      if (g.retract !== undefined) {
        if (latest?.contribution === undefined) dead.push({ offset, reason: 'unknown_retraction', view: view.name })
        else if (!latest.contribution.every((x, i) => x === g.retract![i])) {
          // The change contradicts the row the group holds: refused whole in this group, its add too.
          dead.push({ offset, reason: 'before_mismatch', view: view.name })
          continue
        } else {
          events.push({ pk: ch.key, t, order: 2 * order, contribution: undefined })
          applied = true
        }
      }
      if (g.add !== undefined) {
        events.push({ pk: ch.key, t, order: 2 * order + 1, contribution: g.add })
        applied = true
      }
      if (!applied) continue
      this.#events.set(g.group, events)
      this.#emit(g.group, before, rows)
    }
  }

  /**
   * A change whose before image is missing or key-only: no contribution to compare, so it retracts
   * whatever one group holds live for the row (silently nothing, unless the image named that group
   * itself), and adds the after image as any change does.
   */
  #partial(offset: string, order: number, t: number, pk: string, before: EventRecord | null, after: EventRecord | null, role: 'retract' | 'add' | undefined, heldGroup: string | undefined, rows: ExpectedRow[], dead: Dead): void {
    const view = this.ref.view
    const placeholder = placeholderOf(view)
    const adds = role !== 'retract' && heldGroup === undefined
    let add: { group: string; contribution: (number | null)[] } | undefined
    if (after !== null) {
      // A refused after image refuses the change in every copy; the copy that adds it writes the letter.
      const letters: Dead = []
      add = this.#part(offset, after, letters)
      if (adds) dead.push(...letters)
      if (letters.length > 0) return
      if (!adds) add = undefined
    }
    let group: string | undefined
    let named = false
    if (role !== 'add') {
      if (heldGroup !== undefined) group = heldGroup
      // A group column holding a null, a fallback (a NOT NULL int's 0) or the placeholder names no group.
      else if (before !== null && !view.entity.joinKeys.some((k) => keyOnly({ [k]: before[k] }, [], placeholder)) && entityKeyOf(view.entity, before).ok) {
        group = (entityKeyOf(view.entity, before) as { key: string }).key
        named = true
      } else if (after !== null) {
        const key = entityKeyOf(view.entity, after)
        if (key.ok) group = key.key
      } else if (before !== null) {
        // A delete whose key-only image names no group: a group column missing, invalid or the placeholder.
        const key = entityKeyOf(view.entity, before)
        return void dead.push({ offset, reason: key.ok ? 'missing_key' : key.reason, view: view.name })
      }
    }
    const steps: { group: string; retract?: true; add?: (number | null)[] }[] = []
    if (group !== undefined) {
      const latest = this.#latest(group, pk)
      const superseded = latest !== undefined && latest.t > t
      if (!superseded && latest?.contribution !== undefined) steps.push({ group, retract: true })
      else if (!superseded && named) dead.push({ offset, reason: 'unknown_retraction', view: view.name })
    }
    if (add !== undefined) {
      if (add.group === group) steps.length = 0
      steps.push(add.group === group ? { group, retract: true, add: add.contribution } : { group: add.group, add: add.contribution })
    }
    for (const g of steps) {
      const latest = this.#latest(g.group, pk)
      if (latest !== undefined && latest.t > t) continue
      const valuesBefore = this.#values(g.group)
      const events = this.#events.get(g.group) ?? []
      if (g.retract && latest?.contribution !== undefined) events.push({ pk, t, order: 2 * order, contribution: undefined })
      if (g.add !== undefined) events.push({ pk, t, order: 2 * order + 1, contribution: g.add })
      if (events.length === 0) continue
      this.#events.set(g.group, events)
      this.#emit(g.group, valuesBefore, rows)
    }
  }

  /** The group's row after an applied step, when its values changed from `before`. */
  #emit(group: string, before: readonly FeatureValue[], rows: ExpectedRow[]): void {
    const events = this.#events.get(group) ?? []
    const after = this.#values(group)
    if (sameValues(before, after)) return
    const scale = events.reduce((s, e) => s + (e.contribution ?? []).reduce<number>((a, x) => a + Math.abs(x ?? 0), 0), 0)
    rows.push({ entityKey: group, asOfMs: Math.max(...events.map((e) => e.t)), values: after, scale })
  }
}

/**
 * The expected output of one partition task holding `views` over a change source: the task's
 * partition rules (missing time, lateness against the watermark, markers) applied from scratch.
 */
export function runChangesReference(
  source: { readonly outOfOrdernessMs: number; readonly allowedLatenessMs: number; readonly changes?: { readonly kind: string } },
  views: readonly ReferenceView[],
  steps: readonly ChangeStep[],
): ChangesReferenceResult {
  const oracles = views.map((ref) => (ref.view.changeMode === 'attributes' ? new AttributesOracle(ref) : new CurrentStateOracle(ref)))
  const rows: ExpectedRow[][] = views.map(() => [])
  const dead: ExpectedDeadLetter[] = []
  let watermark = -Infinity
  steps.forEach((step, order) => {
    if ('marker' in step) {
      watermark = Math.max(watermark, step.marker)
      return
    }
    const t = step.eventTimeMs
    if (t === undefined) return void dead.push({ offset: step.offset, reason: 'missing_event_time' })
    // A changelog's commit time 0 is a connector's "unknown", not 1970.
    if (t === 0 && source.changes?.kind === 'changelog')
      return void dead.push({ offset: step.offset, reason: 'missing_event_time' })
    if (t <= watermark - source.allowedLatenessMs) return void dead.push({ offset: step.offset, reason: 'late' })
    oracles.forEach((o, i) => {
      if (o instanceof AttributesOracle) o.step(step.offset, order, t, step.event, rows[i]!, dead)
      else o.step(step.offset, order, t, step.event, step.role, step.heldGroup, rows[i]!, dead)
    })
    watermark = Math.max(watermark, t - source.outOfOrdernessMs)
  })
  return { rows, dead }
}
