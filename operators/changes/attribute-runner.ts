/**
 * An attribute view over a change source (docs/design.md §11, changeMode 'attributes'): its
 * features are columns of each key's current row, keyed by the primary-key entity (the view's).
 *
 * Per key the state is {c, current raw row or deleted, last row's values}. Changes apply in
 * (commit time, offset) order: the task feeds offsets in order, so a change with t < c is older
 * than the key's current version and is superseded (no state change, no row, no dead letter).
 * Every applied change has t ≥ c, so c is also the commit time of the current version.
 * - upsert: a before image that disagrees with a live row → before_mismatch (a key-only one only
 *   where it says something, as a delete's); else the after image
 *   becomes the row, each column holding the CDC tool's unavailable-value placeholder taken from
 *   the current row (else the before image; neither holds it → unavailable_value); the emitted row
 *   holds each feature's column of map(row), or is a tombstone when the view's filter refuses the
 *   row (the row exists, but not in this view).
 * - delete: of a key never seen or already deleted → unknown_retraction; a before image that
 *   disagrees on a column where it says something (not a null, a type's fallback '' 0 false or a
 *   placeholder: a key-only image says nothing outside its key, partial-images.ts) →
 *   before_mismatch; else the key is deleted (its time kept, so older changes stay superseded)
 *   and a tombstone row is emitted.
 * - no row when as_of, the deleted flag and the values equal the key's previous row.
 * No timers: a row never changes by time passing. fire() only forgets deleted keys whose c ≤
 * watermark − allowedLateness, which no accepted change can reach any more (drop-queue.ts).
 */
import type { ByteReader, ByteWriter } from '../codec/bytes.ts'
import { CheckpointError, DefinitionError } from '../../core/errors.ts'
import type { EventRecord, FeatureRow, FeatureValue, FeatureViewDef } from '../../features/types.ts'
import { DEFAULT_VALUE_LIMITS } from '../../features/limits.ts'
import type { TaskDeadLetter } from '../task/output.ts'
import { filterAndMap } from '../task/filter-map.ts'
import { sortKeysByBytes } from '../task/key-order.ts'
import { KeyedChanges } from '../task/state-delta.ts'
import { rowValuesEqual } from '../task/values-equal.ts'
import { changeOf } from './change.ts'
import { DropQueue } from './drop-queue.ts'
import { attributeValueOf, disagreeingColumn } from './row-images.ts'
import { fillUnavailable, isKeyOnly, unavailableDetail, unavailableValueOf, type Placeholder } from './partial-images.ts'
import type { TaskViewRunner } from './runner.ts'
import { decodeFeatureValues, decodeRow, encodeFeatureValues, encodeRow } from './state-codec.ts'

interface AttributeKey {
  /** Commit time of the current version (= the key's clock c). */
  c: number
  /** The current raw row (the after image), or null once deleted. */
  row: EventRecord | null
  /** The key's last row: its values, or null for a tombstone (deleted, or refused by the filter). */
  shown: FeatureValue[] | null
}

export class AttributeRunner implements TaskViewRunner {
  readonly view: FeatureViewDef
  readonly #columns: readonly string[]
  readonly #allowedLatenessMs: number
  readonly #maxStringBytes: number
  readonly #keys = new Map<string, AttributeKey>()
  readonly #drops = new DropQueue()
  readonly #nulls: readonly FeatureValue[]
  readonly #placeholder: Placeholder | undefined
  /** The primary key's columns: all a key-only before image holds. */
  readonly #identity: ReadonlySet<string>
  /** Keys changed or forgotten since the last checkpoint (every change of `#keys` marks its key). */
  readonly changes: KeyedChanges<AttributeKey>

  constructor(view: FeatureViewDef, allowedLatenessMs: number) {
    this.view = view
    this.#columns = view.features.map((f) => {
      if (f.aggregation.field === undefined) throw new DefinitionError(`view ${view.name}: attribute feature ${f.name} names no column`)
      return f.aggregation.field
    })
    this.#allowedLatenessMs = allowedLatenessMs
    this.#maxStringBytes = (view.limits ?? DEFAULT_VALUE_LIMITS).maxStringBytes
    this.#nulls = view.features.map(() => null)
    this.#placeholder = unavailableValueOf(view.source)
    this.#identity = new Set(view.entity.joinKeys)
    const entries = { encodeEntry: this.#encodeEntry.bind(this), decodeEntry: (r: ByteReader) => this.#decodeEntry(r, true) }
    this.changes = new KeyedChanges({ viewName: view.name, fingerprint: this.#fingerprint(), ...entries }, this.#keys)
  }

  get keyCount(): number {
    return this.#keys.size
  }

  processEvent(offset: string, t: number, event: EventRecord, rows: FeatureRow[], dead: TaskDeadLetter[]): void {
    const view = this.view
    const result = changeOf(event, view.entity)
    if (!result.ok) {
      dead.push({ offset, reason: result.reason, view: view.name, detail: result.detail })
      return
    }
    const change = result.change
    const state = this.#keys.get(change.key)
    if (state !== undefined && t < state.c) return
    const live = state?.row ?? null
    if (change.kind === 'delete') {
      if (live === null) {
        dead.push({ offset, reason: 'unknown_retraction', view: view.name, detail: `delete of key ${change.key}, which is not live (never seen, or already deleted)` })
        return
      }
      // Only what a delete's before image says is compared: a partial image's fallbacks are not.
      if (this.#mismatch(offset, change.key, change.before, live, dead, true)) return
      this.#apply(change.key, state, t, null, null, rows)
      return
    }
    // A key-only update image (MySQL's minimal row image) says nothing beyond its key, as a key-only
    // delete's: its fallbacks are not compared; a full one is, column by column.
    const keyOnly = change.before !== null && isKeyOnly(change.before, this.#identity, this.#placeholder)
    if (change.before !== null && live !== null && this.#mismatch(offset, change.key, change.before, live, dead, keyOnly)) return
    // An unchanged column the CDC tool did not log keeps the key's current value.
    const after = fillUnavailable(change.after, [live, change.before], this.#placeholder)
    if (!after.ok) {
      dead.push({
        offset,
        reason: 'unavailable_value',
        view: view.name,
        detail: unavailableDetail(change.key, after.column, "neither the key's current row nor the before image"),
      })
      return
    }
    const shown = this.#valuesOf(offset, after.row, dead)
    if (shown === undefined) return
    this.#apply(change.key, state, t, after.row, shown, rows)
  }

  #mismatch(
    offset: string,
    key: string,
    before: EventRecord,
    live: EventRecord,
    dead: TaskDeadLetter[],
    ofDelete = false,
  ): boolean {
    const column = disagreeingColumn(before, live, this.#placeholder, ofDelete)
    if (column === undefined) return false
    dead.push({ offset, reason: 'before_mismatch', view: this.view.name, detail: `before image of key ${key} disagrees with its current row on column ${column}` })
    return true
  }

  /** The view's values of a row: null when its filter refuses the row; undefined when refused (dead letter pushed). */
  #valuesOf(offset: string, after: EventRecord, dead: TaskDeadLetter[]): FeatureValue[] | null | undefined {
    const refusedBefore = dead.length
    const ev = filterAndMap(this.view, offset, after, dead)
    if (ev === undefined) return dead.length === refusedBefore ? null : undefined
    const values: FeatureValue[] = []
    for (const column of this.#columns) {
      const v = attributeValueOf(ev, column, this.#maxStringBytes)
      if (!v.ok) {
        dead.push({ offset, reason: v.reason, view: this.view.name, detail: v.detail })
        return undefined
      }
      values.push(v.value)
    }
    return values
  }

  #apply(key: string, state: AttributeKey | undefined, t: number, row: EventRecord | null, shown: FeatureValue[] | null, rows: FeatureRow[]): void {
    this.changes.touch(key)
    const same =
      state !== undefined && state.c === t && (state.shown === null ? shown === null : shown !== null && rowValuesEqual(state.shown, shown))
    if (state === undefined) this.#keys.set(key, { c: t, row, shown })
    else {
      state.c = t
      state.row = row
      state.shown = shown
    }
    if (row === null) this.#drops.push({ atMs: t + this.#allowedLatenessMs, key, member: undefined })
    if (same) return
    rows.push(shown === null ? { entityKey: key, asOfMs: t, values: this.#nulls.slice(), deleted: true } : { entityKey: key, asOfMs: t, values: shown })
  }

  fire(watermarkMs: number): void {
    for (;;) {
      const due = this.#drops.popDue(watermarkMs)
      if (due === undefined) return
      const state = this.#keys.get(due.key)
      if (state !== undefined && state.row === null && state.c + this.#allowedLatenessMs <= watermarkMs) {
        this.#keys.delete(due.key)
        this.changes.touch(due.key)
      }
    }
  }

  /** Layout: str fingerprint, uvarint key count, per key in key-byte order: str key, f64 c, row (u8 0 | 1 + row), shown (u8 0 | 1 + values). */
  encodeState(w: ByteWriter): void {
    w.str(this.#fingerprint())
    const keys = sortKeysByBytes([...this.#keys.keys()])
    w.uvarint(keys.length)
    for (const key of keys) this.#encodeEntry(key, w)
  }

  #encodeEntry(key: string, w: ByteWriter): void {
    const state = this.#keys.get(key) as AttributeKey
    w.str(key)
    w.f64(state.c)
    w.u8(state.row === null ? 0 : 1)
    if (state.row !== null) encodeRow(state.row, w)
    w.u8(state.shown === null ? 0 : 1)
    if (state.shown !== null) encodeFeatureValues(state.shown, w)
  }

  decodeState(r: ByteReader): void {
    if (r.str() !== this.#fingerprint()) {
      throw new CheckpointError('CHECKPOINT_CORRUPT', `operator snapshot of view ${this.view.name} was taken with different attributes`)
    }
    const n = r.uvarint()
    for (let i = 0; i < n; i++) this.#decodeEntry(r, false)
  }

  /** One key's entry; `replacing`: a delta's entry, which replaces the key's state if it holds one. */
  #decodeEntry(r: ByteReader, replacing: boolean): void {
    const key = r.str()
    if (!replacing && this.#keys.has(key)) throw new CheckpointError('CHECKPOINT_CORRUPT', `operator snapshot of view ${this.view.name} repeats a key`)
    const c = r.f64()
    const row = r.u8() === 0 ? null : decodeRow(r)
    const shown = r.u8() === 0 ? null : decodeFeatureValues(this.#columns.length, r)
    this.#keys.set(key, { c, row, shown })
    if (row === null) this.#drops.push({ atMs: c + this.#allowedLatenessMs, key, member: undefined })
  }

  #fingerprint(): string {
    const e = this.view.entity
    return JSON.stringify({ mode: 'attributes', key: [e.keyType, ...e.joinKeys], columns: this.#columns })
  }
}
