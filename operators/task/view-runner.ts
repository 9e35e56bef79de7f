/**
 * One feature view inside a partition task: filter → map → key → tiles → rows, and the decay
 * rows fired by the watermark (DESIGN §2–§3).
 *
 * Strategy:
 * 1. Each key holds, per hop group, only its non-empty tiles (ascending), so memory follows the
 *    data: a key seen once a day keeps a handful of tiles however long its windows are.
 * 2. A key is evaluated only at its clock c. A window value is the fold, in ascending tile order,
 *    of the tiles in range (see windows/hops.ts); the fold order is fixed, so results are bit
 *    for bit reproducible from the tiles alone — tiles are the whole state, nothing derived is
 *    cached, and a restored task continues exactly.
 * 3. Each key has at most one timer: the earliest loss boundary B > c of any non-empty tile in
 *    any window (windows/hops.ts §3). When the watermark reaches B the key emits at B (c ← B),
 *    then the next boundary is computed. With no boundary left and no lifetime feature, the key
 *    is dropped once c ≤ watermark − allowedLateness: from then on an accepted event has time
 *    > c, so a fresh state yields exactly the rows the full history would (every old event is
 *    outside every window at that time and the as_of is new).
 * 4. Dedupe ("same as_of and values → no row"): as_of repeats only when an event does not
 *    advance c. The key's previous row is then exactly the value at c before this event (every
 *    state change is followed by an evaluation at c), so it is recomputed instead of stored.
 */
import type { EventRecord, FeatureRow, FeatureValue } from '../define/types.ts'
import type { ColumnPlan, ViewPlan } from './plan.ts'
import { KeyState, firstTileFrom, tileFor, type Tile } from './key-state.ts'
import { TimerQueue } from './timer-queue.ts'
import { entityKeyOf, fieldValueOf } from './event-fields.ts'
import { rowValuesEqual } from './values-equal.ts'
import type { Aggregator } from '../aggregators/types.ts'
import type { TaskDeadLetter } from './output.ts'

interface FlatColumn {
  readonly agg: Aggregator
  readonly field: string | undefined
}

export class ViewRunner {
  readonly plan: ViewPlan
  readonly keys = new Map<string, KeyState>()
  readonly timers = new TimerQueue<KeyState>()
  readonly #allowedLatenessMs: number
  readonly #columns: FlatColumn[]
  readonly #groupOffset: number[]
  readonly #lifeOffset: number
  readonly #scratch: unknown[]
  readonly #emptyValue: FeatureValue[]
  readonly #hasLifetime: boolean
  readonly #groupInits: ((k: number) => Tile)[]

  constructor(plan: ViewPlan, allowedLatenessMs: number) {
    this.plan = plan
    this.#allowedLatenessMs = allowedLatenessMs
    this.#columns = []
    this.#groupOffset = []
    for (const g of plan.groups) {
      this.#groupOffset.push(this.#columns.length)
      this.#columns.push(...g.columns)
    }
    this.#lifeOffset = this.#columns.length
    this.#columns.push(...plan.lifetimeColumns)
    this.#scratch = new Array<unknown>(this.#columns.length).fill(null)
    this.#emptyValue = new Array<FeatureValue>(plan.featureCount)
    for (const g of plan.groups) {
      for (const s of g.specs) for (const f of s.features) this.#emptyValue[f.featureIndex] = f.countColumn !== undefined ? null : f.finisher.finish(g.columns[f.column]!.agg.init())
    }
    this.#hasLifetime = plan.lifetimeColumns.length > 0
    this.#groupInits = plan.groups.map((g) => tileFactory(g.columns))
  }

  newKeyState(key: string, c: number): KeyState {
    const life = this.#hasLifetime ? this.plan.lifetimeColumns.map((col) => col.agg.init()) : null
    return new KeyState(key, c, this.plan.groups.map(() => []), life)
  }

  /** Step 2 of DESIGN §2 for one accepted record. */
  processEvent(offset: string, eventTimeMs: number, event: EventRecord, rows: FeatureRow[], dead: TaskDeadLetter[]): void {
    const view = this.plan.view
    let ev = event
    try {
      if (view.filter !== undefined && !view.filter(event)) return
      if (view.map !== undefined) ev = view.map(event)
    } catch (err: unknown) {
      dead.push({ offset, reason: 'map_failed', view: view.name, detail: `filter/map threw ${err instanceof Error ? err.name : typeof err}` })
      return
    }
    if (ev === null || typeof ev !== 'object') {
      dead.push({ offset, reason: 'map_failed', view: view.name, detail: view.map === undefined ? 'event is not a record' : 'map did not return a record' })
      return
    }
    const keyResult = entityKeyOf(view.entity, ev)
    if (!keyResult.ok) {
      dead.push({ offset, reason: keyResult.reason, view: view.name, detail: keyResult.detail })
      return
    }
    const scratch = this.#scratch
    const columns = this.#columns
    for (let i = 0; i < columns.length; i++) {
      const col = columns[i] as FlatColumn
      if (col.field === undefined) {
        scratch[i] = 1
        continue
      }
      const v = fieldValueOf(ev, col.field)
      if (v !== null && !col.agg.accepts(v)) {
        dead.push({ offset, reason: 'schema_mismatch', view: view.name, detail: `field ${col.field} has a ${typeof v} that ${col.agg.op} cannot aggregate` })
        return
      }
      scratch[i] = v
    }
    this.#accept(keyResult.key, offset, eventTimeMs, rows)
  }

  #accept(key: string, offset: string, t: number, rows: FeatureRow[]): void {
    let state = this.keys.get(key)
    let before: FeatureValue[] | undefined
    if (state === undefined) {
      state = this.newKeyState(key, t)
      this.keys.set(key, state)
    } else if (t <= state.c) {
      before = this.evaluate(state)
    }
    const oldC = state.c
    const c = t > oldC ? t : oldC
    const scratch = this.#scratch
    const groups = this.plan.groups
    for (let g = 0; g < groups.length; g++) {
      const group = groups[g]!
      const h = group.hopMs
      const k = Math.floor(t / h)
      if (k < Math.floor(c / h) + 1 - group.maxTiles) continue
      const tile = tileFor(state.groups, g, k, this.#groupInits[g] as (k: number) => Tile)
      const off = this.#groupOffset[g] as number
      const cols = group.columns
      for (let j = 0; j < cols.length; j++) {
        const v = scratch[off + j]
        if (v !== null) tile[j + 1] = cols[j]!.agg.add(tile[j + 1], v as number | string, t, offset)
      }
    }
    if (state.life !== null) {
      const cols = this.plan.lifetimeColumns
      for (let j = 0; j < cols.length; j++) {
        const v = scratch[this.#lifeOffset + j]
        if (v !== null) state.life[j] = cols[j]!.agg.add(state.life[j], v as number | string, t, offset)
      }
    }
    state.c = c
    if (c > oldC) this.#evict(state)
    const values = this.evaluate(state)
    if (before === undefined || !rowValuesEqual(before, values)) rows.push({ entityKey: key, asOfMs: c, values })
    this.#reschedule(state)
  }

  /** Step 4 of DESIGN §2: decay rows for every due boundary, in (boundary, key bytes) order. */
  fire(watermarkMs: number, rows: FeatureRow[]): void {
    for (;;) {
      const due = this.timers.popDue(watermarkMs)
      if (due === undefined) return
      const b = due.atMs
      for (const state of due.states) {
        if (state.c < b && this.#losesTileAt(state, b)) {
          state.c = b
          this.#evict(state)
          rows.push({ entityKey: state.key, asOfMs: b, values: this.evaluate(state) })
        }
        state.timerMs = Number.NaN
        if (!this.#reschedule(state) && state.c + this.#allowedLatenessMs <= watermarkMs) {
          state.dropped = true
          this.keys.delete(state.key)
        }
      }
    }
  }

  /** Values of every feature at the key's clock, in the view's feature order. */
  evaluate(state: KeyState): FeatureValue[] {
    const out = this.#emptyValue.slice()
    const t = state.c
    const groups = this.plan.groups
    for (let g = 0; g < groups.length; g++) {
      const group = groups[g]!
      const tiles = state.groups[g] as Tile[]
      if (tiles.length === 0) continue
      const top = Math.floor(t / group.hopMs)
      for (const spec of group.specs) {
        const lo = firstTileFrom(tiles, top + 1 - spec.tiles)
        const n = tiles.length - lo
        if (n === 0) continue
        for (const slot of spec.features) {
          const agg = group.columns[slot.column]!.agg
          const at = slot.column + 1
          if (slot.countColumn !== undefined) {
            out[slot.featureIndex] = averageOf(tiles, lo, at, slot.countColumn + 1)
          } else if (n === 1) {
            out[slot.featureIndex] = slot.finisher.finish((tiles[lo] as Tile)[at])
          } else if (slot.finisher.foldTiles !== undefined) {
            out[slot.featureIndex] = slot.finisher.foldTiles(tiles, lo, at)
          } else {
            let acc = agg.init()
            for (let j = lo; j < tiles.length; j++) acc = agg.merge(acc, (tiles[j] as Tile)[at])
            out[slot.featureIndex] = slot.finisher.finish(acc)
          }
        }
      }
    }
    if (state.life !== null) {
      for (const slot of this.plan.lifetimeFeatures) {
        if (slot.countColumn === undefined) out[slot.featureIndex] = slot.finisher.finish(state.life[slot.column])
        else {
          const count = state.life[slot.countColumn] as number
          out[slot.featureIndex] = count === 0 ? null : (state.life[slot.column] as number) / count
        }
      }
    }
    return out
  }

  #losesTileAt(state: KeyState, b: number): boolean {
    const groups = this.plan.groups
    for (let g = 0; g < groups.length; g++) {
      const group = groups[g]!
      if (b % group.hopMs !== 0) continue
      const tiles = state.groups[g] as Tile[]
      for (const spec of group.specs) {
        const k = b / group.hopMs - spec.tiles
        const i = firstTileFrom(tiles, k)
        if (i < tiles.length && (tiles[i] as Tile)[0] === k) return true
      }
    }
    return false
  }

  /** Earliest boundary > c at which some window of the key loses a non-empty tile; NaN if none. */
  nextLossMs(state: KeyState): number {
    let next = Number.NaN
    const groups = this.plan.groups
    for (let g = 0; g < groups.length; g++) {
      const group = groups[g]!
      const tiles = state.groups[g] as Tile[]
      if (tiles.length === 0) continue
      const top = Math.floor(state.c / group.hopMs)
      for (const spec of group.specs) {
        const i = firstTileFrom(tiles, top + 1 - spec.tiles)
        if (i === tiles.length) continue
        const b = (((tiles[i] as Tile)[0] as number) + spec.tiles) * group.hopMs
        if (!(b >= next)) next = b
      }
    }
    return next
  }

  /** Sets the key's single timer; returns false when the key has nothing left to emit. */
  #reschedule(state: KeyState): boolean {
    const loss = this.nextLossMs(state)
    let at = loss
    if (Number.isNaN(loss) && !this.#hasLifetime) at = state.c + this.#allowedLatenessMs
    if (at !== state.timerMs) this.timers.schedule(state, at)
    return !Number.isNaN(loss) || this.#hasLifetime
  }

  #evict(state: KeyState): void {
    const groups = this.plan.groups
    for (let g = 0; g < groups.length; g++) {
      const group = groups[g]!
      const tiles = state.groups[g] as Tile[]
      const keepFrom = firstTileFrom(tiles, Math.floor(state.c / group.hopMs) + 1 - group.maxTiles)
      if (keepFrom > 0) state.groups[g] = tiles.slice(keepFrom)
    }
  }
}

/** avg over tiles[lo..]: Σsum / Σcount in ascending tile order, as the avg aggregator computes it. */
function averageOf(tiles: readonly Tile[], lo: number, sumAt: number, countAt: number): number | null {
  let s = 0
  let n = 0
  for (let i = lo; i < tiles.length; i++) {
    const tile = tiles[i] as Tile
    s += tile[sumAt] as number
    n += tile[countAt] as number
  }
  return n === 0 ? null : s / n
}

/**
 * Tiles are built at exact length (an array literal with spread grows like push, to 17 slots).
 * Tiles whose accumulators are all plain numbers come from their own allocation site, so V8 keeps
 * them as unboxed double arrays instead of learning "generic elements" from mixed tiles.
 */
function tileFactory(columns: readonly ColumnPlan[]): (k: number) => Tile {
  const width = columns.length + 1
  if (columns.every((c) => typeof c.agg.init() === 'number')) {
    return (k) => {
      const tile = new Array<number>(width)
      tile[0] = k
      for (let j = 1; j < width; j++) tile[j] = (columns[j - 1] as ColumnPlan).agg.init() as number
      return tile
    }
  }
  return (k) => {
    const tile = new Array<unknown>(width)
    tile[0] = k
    for (let j = 1; j < width; j++) tile[j] = (columns[j - 1] as ColumnPlan).agg.init()
    return tile
  }
}
