/**
 * A current-state view over a change source (docs/design.md §11, changeMode 'current_state'):
 * lifetime count/sum/avg over the rows currently in each group (the view's entity, read from the
 * row image), e.g. open orders per user.
 *
 * A change has up to two parts: retract the before image from its group, add the after image to
 * its group — each only when the image passes the view's filter. A re-keyed copy carries only its
 * `role`'s part (docs/design.md §11, re-keying); without a role both. The parts are independent,
 * so a change split across two tasks does exactly what it does whole. Per group the state is
 * {c, totals, members by primary key: {t, contribution, or retracted}}:
 * - a part whose member has t_member > t is superseded (older than the member's version): ignored;
 *   a group holds no version of a row it does not hold, so a change older than its row's version
 *   elsewhere is the re-key stage's to supersede (engine/rekey-records.ts, role `superseded`);
 * - retract: no live member → unknown_retraction (never a negative count); a before image whose
 *   contribution differs from the member's → before_mismatch, and the step is refused whole (an
 *   add in the same group is not applied either); else the member is retracted at t;
 * - add: the member (live or not) becomes the after image's contribution at t;
 * - both parts in one group are one step (one row); a group whose values changed emits a row at
 *   as_of = max(c, t), retract group first. An emptied group reads count 0, sum 0, avg null — a
 *   normal row: the group still exists, with nothing in it.
 * An image the view refuses (map, group key, value: a dead letter) refuses the change whole, in
 * both copies of a split change (each judges the other's image); a retraction the group cannot
 * make (unknown_retraction) does not stop the add: that depends on the group's state, which the
 * other copy cannot see.
 * A change whose before image the filter refuses while its group holds the row live →
 * before_mismatch. A change without a before image, or with a key-only one (partial-retraction.ts),
 * retracts whatever one group holds for the row — the group the re-key stage's row index gave
 * (`heldGroup`), else the one the key-only image names, else the after image's — and adds the
 * after image as usual (#partialChange). An after image's unavailable-value placeholder is filled
 * from the before image, else the change is refused whole (unavailable_value).
 * fire() forgets retracted members and member-less groups whose time ≤ watermark − allowedLateness
 * (drop-queue.ts): no accepted change can be superseded by them or find them live.
 */
import type { ByteReader, ByteWriter } from '../codec/bytes.ts'
import { CheckpointError } from '../../core/errors.ts'
import type { EntityDef, EventRecord, FeatureRow, FeatureViewDef, SourceDef } from '../../features/types.ts'
import { DEFAULT_VALUE_LIMITS } from '../../features/limits.ts'
import type { TaskDeadLetter } from '../task/output.ts'
import { filterAndMap } from '../task/filter-map.ts'
import { entityKeyOf } from '../task/event-fields.ts'
import { sortKeysByBytes } from '../task/key-order.ts'
import { KeyedChanges } from '../task/state-delta.ts'
import { rowValuesEqual } from '../task/values-equal.ts'
import { changeOf, type Change } from './change.ts'
import { DropQueue } from './drop-queue.ts'
import { primaryKeyEntity } from './row-images.ts'
import { fillUnavailable, unavailableDetail, unavailableValueOf, type Placeholder } from './partial-images.ts'
import { hasPartialBefore, retractionGroupOf, unheldLetter } from './partial-retraction.ts'
import type { ChangeRole, TaskViewRunner } from './runner.ts'
import {
  applyContribution, contributionOf, currentStateFeatures, emptyTotals, sameContribution, valuesOf,
  type Contribution, type CurrentStateFeature, type GroupTotals,
} from './group-aggregates.ts'

interface Member {
  t: number
  /** Null once retracted (kept until droppable: it still supersedes older changes). */
  contribution: Contribution | null
}

interface Group {
  c: number
  totals: GroupTotals
  live: number
  readonly members: Map<string, Member>
}

/** One part of a change, ready to apply: its group and the image's contribution. */
interface Part {
  readonly group: string
  readonly contribution: Contribution
}

export class CurrentStateRunner implements TaskViewRunner {
  readonly view: FeatureViewDef
  readonly #primaryKey: EntityDef
  readonly #features: readonly CurrentStateFeature[]
  readonly #allowedLatenessMs: number
  readonly #maxStringBytes: number
  /** Primary-key and group columns: what a key-only before image holds (partial-images.ts). */
  readonly #identity: ReadonlySet<string>
  readonly #placeholder: Placeholder | undefined
  readonly #groups = new Map<string, Group>()
  readonly #drops = new DropQueue()
  /** Groups changed or forgotten since the last checkpoint (every change of `#groups` marks its group). */
  readonly changes: KeyedChanges<Group>

  constructor(view: FeatureViewDef, source: SourceDef) {
    this.view = view
    this.#primaryKey = primaryKeyEntity(source, view)
    this.#features = currentStateFeatures(view)
    this.#allowedLatenessMs = source.allowedLatenessMs
    this.#maxStringBytes = (view.limits ?? DEFAULT_VALUE_LIMITS).maxStringBytes
    this.#identity = new Set([...this.#primaryKey.joinKeys, ...view.entity.joinKeys])
    this.#placeholder = unavailableValueOf(source)
    const entries = { encodeEntry: this.#encodeEntry.bind(this), decodeEntry: (r: ByteReader) => this.#decodeEntry(r, true) }
    this.changes = new KeyedChanges({ viewName: view.name, fingerprint: this.#fingerprint(), ...entries }, this.#groups)
  }

  get keyCount(): number {
    return this.#groups.size
  }

  processEvent(offset: string, t: number, event: EventRecord, rows: FeatureRow[], dead: TaskDeadLetter[], role?: ChangeRole, heldGroup?: string): void {
    const name = this.view.name
    const result = changeOf(event, this.#primaryKey)
    if (!result.ok) {
      dead.push({ offset, reason: result.reason, view: name, detail: result.detail })
      return
    }
    const change = result.change
    let after = change.kind === 'upsert' ? change.after : null
    if (after !== null) {
      // No raw row is kept here: an unavailable column is taken from the (full) before image, which
      // the retraction checks against the row the group holds.
      const filled = fillUnavailable(after, [change.before], this.#placeholder)
      if (!filled.ok) {
        dead.push({
          offset,
          reason: 'unavailable_value',
          view: name,
          detail: unavailableDetail(change.key, filled.column, 'the before image'),
        })
        return
      }
      after = filled.row
    }
    if (hasPartialBefore(change, this.#identity, this.#placeholder)) {
      this.#partialChange(offset, t, change, after, role, heldGroup, rows, dead)
      return
    }
    // The stage gives a held group only to a partial before image: a full one is retracted where it names.
    if (heldGroup !== undefined) return
    const refused = dead.length
    const retract = role !== 'add' && change.before !== null ? this.#part(offset, change.before, dead) : undefined
    const beforeRefused = dead.length > refused
    // The filter refused the before image, yet its group holds the row live: the image is not that
    // row (a key-only before image: nulls, or a CDC tool's fallbacks for NOT NULL columns).
    // Refused as any disagreeing before image is; silently skipped, the row stayed in the group.
    const contradicted = change.before !== null && retract === undefined && role !== 'add' && dead.length === refused ? this.#heldLive(t, change.key, change.before) : undefined
    if (contradicted !== undefined) {
      dead.push({
        offset,
        reason: 'before_mismatch',
        view: name,
        detail: `before image of row ${change.key} does not pass the view's filter, but group ${contradicted} holds the row: the view needs full before images (e.g. Postgres REPLICA IDENTITY FULL)`,
      })
    }
    const addFrom = dead.length
    const add = role !== 'retract' && after !== null ? this.#part(offset, after, dead) : undefined
    // An image this view refuses for what it holds (a value out of range or oversize, a bad group
    // key, a failing map) refuses the change whole: retracting the old row while refusing the new
    // one would drop the row from its group, so the dead letter would not be all it leaves behind.
    // A copy split by the re-key stage judges the other copy's image too, silently (that copy
    // writes the letter): it depends on the image alone, so both copies agree.
    if (beforeRefused || dead.length > addFrom || this.#otherImageRefused(offset, role, change.before, after)) return
    if (contradicted !== undefined && add?.group === contradicted) return
    if (retract !== undefined && add !== undefined && retract.group === add.group) {
      this.#step(offset, t, change.key, retract.group, retract.contribution, add.contribution, rows, dead)
      return
    }
    if (retract !== undefined) this.#step(offset, t, change.key, retract.group, retract.contribution, undefined, rows, dead)
    if (add !== undefined) this.#step(offset, t, change.key, add.group, undefined, add.contribution, rows, dead)
  }

  /** Whether the image a split copy does not carry is one this view refuses (a letter its own copy writes). */
  #otherImageRefused(
    offset: string,
    role: ChangeRole | undefined,
    before: EventRecord | null,
    after: EventRecord | null,
  ): boolean {
    const other = role === 'retract' ? after : role === 'add' ? before : null
    if (other === null) return false
    const scratch: TaskDeadLetter[] = []
    this.#part(offset, other, scratch)
    return scratch.length > 0
  }

  /** The image's group and contribution; undefined when the filter refuses it or it is bad (dead letter pushed). */
  #part(offset: string, image: EventRecord, dead: TaskDeadLetter[]): Part | undefined {
    const view = this.view
    const ev = filterAndMap(view, offset, image, dead)
    if (ev === undefined) return undefined
    const key = entityKeyOf(view.entity, ev)
    if (!key.ok) {
      dead.push({ offset, reason: key.reason, view: view.name, detail: key.detail })
      return undefined
    }
    const c = contributionOf(this.#features, ev, this.#maxStringBytes)
    if (!c.ok) {
      dead.push({ offset, reason: c.reason, view: view.name, detail: c.detail })
      return undefined
    }
    return { group: key.key, contribution: c.value }
  }

  /**
   * A change whose before image is missing or key-only (partial-retraction.ts): nothing to compare,
   * so the retraction takes what the group holds for the row — nothing when it holds no live row,
   * silently unless the key-only image named that group itself. A superseded member ignores the
   * retraction (and the step, when the addition goes to the same group). The addition is the after
   * image's part as for any change; an after image the view refuses refuses the change whole, in
   * every copy (silently where the copy carries no addition: the add copy writes the letter); one
   * the filter refuses adds nothing, so the row leaves the group it was in.
   */
  #partialChange(
    offset: string,
    t: number,
    change: Change,
    after: EventRecord | null,
    role: ChangeRole | undefined,
    heldGroup: string | undefined,
    rows: FeatureRow[],
    dead: TaskDeadLetter[],
  ): void {
    let add: Part | undefined
    if (after !== null && role !== 'retract' && heldGroup === undefined) {
      const letters = dead.length
      add = this.#part(offset, after, dead)
      if (dead.length > letters) return
    } else if (after !== null && this.#otherImageRefused(offset, 'retract', null, after)) return
    const pk = change.key
    const target = role === 'add' ? undefined : retractionGroupOf(this.view.entity, change, after, heldGroup, this.#placeholder)
    if (target !== undefined && !target.ok) {
      dead.push({ offset, view: this.view.name, ...target.letter })
      return
    }
    let retract: Contribution | undefined
    if (target !== undefined) {
      const member = this.#groups.get(target.group)?.members.get(pk)
      const superseded = member !== undefined && member.t > t
      if (!superseded && member?.contribution != null) retract = member.contribution
      else if (!superseded && target.from === 'image') dead.push({ offset, view: this.view.name, ...unheldLetter(change, target.group) })
    }
    if (add !== undefined && add.group === target?.group) {
      this.#step(offset, t, pk, add.group, retract, add.contribution, rows, dead)
      return
    }
    if (retract !== undefined && target !== undefined) this.#step(offset, t, pk, target.group, retract, undefined, rows, dead)
    if (add !== undefined) this.#step(offset, t, pk, add.group, undefined, add.contribution, rows, dead)
  }

  /** The group a filtered-out before image names (by its raw join keys, as the re-key stage routes it), when it holds row `pk` live at or before t. */
  #heldLive(t: number, pk: string, before: EventRecord): string | undefined {
    const key = entityKeyOf(this.view.entity, before)
    if (!key.ok) return undefined
    const member = this.#groups.get(key.key)?.members.get(pk)
    return member !== undefined && member.contribution !== null && member.t <= t ? key.key : undefined
  }

  #step(offset: string, t: number, pk: string, key: string, retract: Contribution | undefined, add: Contribution | undefined, rows: FeatureRow[], dead: TaskDeadLetter[]): void {
    const features = this.#features
    let group = this.#groups.get(key)
    const member = group?.members.get(pk)
    if (member !== undefined && member.t > t) return
    let removed: Contribution | undefined
    if (retract !== undefined) {
      if (member === undefined || member.contribution === null) {
        dead.push({ offset, reason: 'unknown_retraction', view: this.view.name, detail: `retraction of row ${pk} from group ${key}, which does not hold it` })
      } else if (!sameContribution(member.contribution, retract)) {
        dead.push({ offset, reason: 'before_mismatch', view: this.view.name, detail: `before image of row ${pk} disagrees with what it contributes to group ${key}` })
        // The change contradicts the row the group holds: refused whole (its add too), as an
        // attribute view refuses it, so the dead letter is all it leaves behind.
        return
      } else removed = member.contribution
    }
    if (removed === undefined && add === undefined) return
    this.changes.touch(key)
    if (group === undefined) {
      group = { c: t, totals: emptyTotals(features), live: 0, members: new Map() }
      this.#groups.set(key, group)
    }
    const before = valuesOf(group.totals, features)
    // An add replaces a live member the retract did not remove (a create of a row it holds).
    const replaced = removed ?? (add !== undefined ? (member?.contribution ?? undefined) : undefined)
    const next = add ?? null
    // Equal contributions leave the totals alone: no rounding where nothing changed.
    if (replaced === undefined || next === null || !sameContribution(replaced, next)) {
      if (replaced !== undefined) applyContribution(group.totals, features, replaced, -1)
      if (next !== null) applyContribution(group.totals, features, next, 1)
    }
    group.live += (next !== null ? 1 : 0) - (replaced !== undefined ? 1 : 0)
    if (member === undefined) group.members.set(pk, { t, contribution: next })
    else {
      member.t = t
      member.contribution = next
    }
    if (t > group.c) group.c = t
    if (next === null) this.#drops.push({ atMs: t + this.#allowedLatenessMs, key, member: pk })
    if (group.live === 0) this.#drops.push({ atMs: group.c + this.#allowedLatenessMs, key, member: undefined })
    const after = valuesOf(group.totals, features)
    if (!rowValuesEqual(before, after)) rows.push({ entityKey: key, asOfMs: group.c, values: after })
  }

  fire(watermarkMs: number): void {
    const lateness = this.#allowedLatenessMs
    for (;;) {
      const due = this.#drops.popDue(watermarkMs)
      if (due === undefined) return
      const group = this.#groups.get(due.key)
      if (group === undefined) continue
      if (due.member === undefined) {
        if (group.live === 0 && group.c + lateness <= watermarkMs) {
          this.#groups.delete(due.key)
          this.changes.touch(due.key)
        }
        continue
      }
      const member = group.members.get(due.member)
      if (member !== undefined && member.contribution === null && member.t + lateness <= watermarkMs) {
        group.members.delete(due.member)
        this.changes.touch(due.key)
      }
    }
  }

  /**
   * Layout: str fingerprint, uvarint group count, per group in key-byte order: str key, f64 c,
   * per feature f64 total and f64 n, uvarint member count, per member in key-byte order: str
   * primary key, f64 t, u8 live, if live per feature u8 0 (null) | 1 + f64 contribution.
   * Totals are stored, not recomputed: a restored task continues with the same rounding.
   */
  encodeState(w: ByteWriter): void {
    w.str(this.#fingerprint())
    const keys = sortKeysByBytes([...this.#groups.keys()])
    w.uvarint(keys.length)
    for (const key of keys) this.#encodeEntry(key, w)
  }

  #encodeEntry(key: string, w: ByteWriter): void {
    const group = this.#groups.get(key) as Group
    w.str(key)
    w.f64(group.c)
    for (let i = 0; i < this.#features.length; i++) {
      w.f64(group.totals.total[i] as number)
      w.f64(group.totals.n[i] as number)
    }
    const pks = sortKeysByBytes([...group.members.keys()])
    w.uvarint(pks.length)
    for (const pk of pks) {
      const member = group.members.get(pk) as Member
      w.str(pk)
      w.f64(member.t)
      w.u8(member.contribution === null ? 0 : 1)
      if (member.contribution === null) continue
      for (const v of member.contribution) {
        w.u8(v === null ? 0 : 1)
        if (v !== null) w.f64(v)
      }
    }
  }

  decodeState(r: ByteReader): void {
    if (r.str() !== this.#fingerprint()) {
      throw new CheckpointError('CHECKPOINT_CORRUPT', `operator snapshot of view ${this.view.name} was taken with different features or keys`)
    }
    const n = r.uvarint()
    for (let i = 0; i < n; i++) this.#decodeEntry(r, false)
  }

  /** One group's entry; `replacing`: a delta's entry, which replaces the group if it is held. */
  #decodeEntry(r: ByteReader, replacing: boolean): void {
    const lateness = this.#allowedLatenessMs
    const key = r.str()
    if (!replacing && this.#groups.has(key)) throw new CheckpointError('CHECKPOINT_CORRUPT', `operator snapshot of view ${this.view.name} repeats a group`)
    const c = r.f64()
    const totals = emptyTotals(this.#features)
    for (let j = 0; j < this.#features.length; j++) {
      totals.total[j] = r.f64()
      totals.n[j] = r.f64()
    }
    const group: Group = { c, totals, live: 0, members: new Map() }
    const m = r.uvarint()
    for (let j = 0; j < m; j++) {
      const pk = r.str()
      const t = r.f64()
      let contribution: (number | null)[] | null = null
      if (r.u8() === 1) contribution = this.#features.map(() => (r.u8() === 0 ? null : r.f64()))
      group.members.set(pk, { t, contribution })
      if (contribution === null) this.#drops.push({ atMs: t + lateness, key, member: pk })
      else group.live++
    }
    if (group.live === 0) this.#drops.push({ atMs: c + lateness, key, member: undefined })
    this.#groups.set(key, group)
  }

  #fingerprint(): string {
    const e = this.view.entity
    return JSON.stringify({ mode: 'current_state', key: [e.keyType, ...e.joinKeys], primaryKey: [this.#primaryKey.keyType, ...this.#primaryKey.joinKeys], features: this.#features })
  }
}
