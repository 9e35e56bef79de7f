/**
 * One feature view inside a partition task: filter → map → key → tiles → rows, and the decay
 * rows fired by the watermark (docs/design.md §2–§3).
 *
 * Strategy:
 * 1. Each key holds, per hop group, only its non-empty tiles (ascending), so memory follows the
 *    data: a key seen once a day keeps a handful of tiles however long its windows are. Keys
 *    are dense ids and the numeric tiles of all a key's hop groups one region of a paged slab
 *    (key-state.ts, key-regions.ts; object accumulators per group, tile-slab.ts), so the hot
 *    loop does one Map lookup per record, no per-tile objects for plain numbers and no
 *    allocation to insert or evict a tile.
 * 2. A key is evaluated only at its clock c. A window value is the fold, in ascending tile order,
 *    of the tiles in range (see windows/hops.ts); the fold order is fixed, so results are bit
 *    for bit reproducible from the tiles alone — tiles are the whole state, and a restored task
 *    continues exactly. The only derived data kept beside them are mirror slots (tile-layout.ts),
 *    a pure function of one tile's accumulator, rebuilt with it on restore; no window result is
 *    cached, so a decay row re-folds every window of its key.
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
import type { EventRecord, FeatureRow, FeatureValue } from '../../features/types.ts'
import type { ViewPlan } from './plan.ts'
import { KeyTable } from './key-state.ts'
import { firstTileAt, type TileSlab } from './tile-slab.ts'
import { nextLossOf } from './key-tiles.ts'
import { TimerQueue } from './timer-queue.ts'
import { entityKeyOf, fieldValueOf, firstInputProblem } from './event-fields.ts'
import { rowValuesEqual } from './values-equal.ts'
import type { Aggregator } from '../aggregators/types.ts'
import type { TaskDeadLetter } from './output.ts'
import { filterAndMap } from './filter-map.ts'
import { checkInput, INPUT_OK } from '../aggregators/input-check.ts'
import { NUM_COUNT, NUM_MIN, NUM_SUM, READ_ADD, READ_MAX, READ_MIN, READ_PAIR, READ_RANGE, tileLayouts, type GroupLayout } from './tile-layout.ts'
import type { FeatureSlot } from './plan.ts'

interface FlatColumn {
  readonly agg: Aggregator
  readonly field: string | undefined
}

export class ViewRunner {
  readonly plan: ViewPlan
  readonly layouts: readonly GroupLayout[]
  readonly table: KeyTable
  readonly timers: TimerQueue
  readonly #allowedLatenessMs: number
  readonly #columns: FlatColumn[]
  readonly #lifeOffset: number
  readonly #scratch: unknown[]
  readonly #emptyValue: FeatureValue[]
  readonly #hasLifetime: boolean

  constructor(plan: ViewPlan, allowedLatenessMs: number) {
    this.plan = plan
    this.#allowedLatenessMs = allowedLatenessMs
    this.#columns = []
    for (const g of plan.groups) this.#columns.push(...g.columns)
    this.#lifeOffset = this.#columns.length
    this.#columns.push(...plan.lifetimeColumns)
    this.#scratch = new Array<unknown>(this.#columns.length).fill(null)
    this.#emptyValue = new Array<FeatureValue>(plan.featureCount)
    for (const g of plan.groups) {
      for (const s of g.specs) for (const f of s.features) this.#emptyValue[f.featureIndex] = finishSlot(f, g.columns.map((c) => c.agg.init()))
    }
    this.#hasLifetime = plan.lifetimeColumns.length > 0
    this.layouts = tileLayouts(plan)
    this.table = new KeyTable(this.layouts)
    this.timers = new TimerQueue(this.table)
  }

  /** A new key with clock `c` and empty state. */
  addKey(key: string, c: number): number {
    const life = this.#hasLifetime ? this.plan.lifetimeColumns.map((col) => col.agg.init()) : null
    return this.table.add(key, c, life)
  }

  /** Step 2 of docs/design.md §2 for one accepted record. */
  processEvent(offset: string, eventTimeMs: number, event: EventRecord, rows: FeatureRow[], dead: TaskDeadLetter[]): void {
    const view = this.plan.view
    const ev = filterAndMap(view, offset, event, dead)
    if (ev === undefined) return
    const keyResult = entityKeyOf(view.entity, ev)
    if (!keyResult.ok) {
      dead.push({ offset, reason: keyResult.reason, view: view.name, detail: keyResult.detail })
      return
    }
    const scratch = this.#scratch
    const columns = this.#columns
    const maxStringBytes = this.plan.maxStringBytes
    for (let i = 0; i < columns.length; i++) {
      const col = columns[i] as FlatColumn
      if (col.field === undefined) {
        scratch[i] = 1
        continue
      }
      const v = fieldValueOf(ev, col.field)
      if (v !== null && checkInput(col.agg.input, v, maxStringBytes) !== INPUT_OK) {
        dead.push({ offset, view: view.name, ...firstInputProblem(view.features, ev, maxStringBytes) })
        return
      }
      scratch[i] = v
    }
    this.#accept(keyResult.key, offset, eventTimeMs, rows)
  }

  #accept(key: string, offset: string, t: number, rows: FeatureRow[]): void {
    const table = this.table
    let id = table.ids.get(key)
    let before: FeatureValue[] | undefined
    if (id === undefined) {
      id = this.addKey(key, t)
    } else if (t <= table.clockOf(id)) {
      before = this.evaluate(id)
    }
    const oldC = table.clockOf(id)
    const c = t > oldC ? t : oldC
    const scratch = this.#scratch
    const layouts = this.layouts
    // The groups in their order in the key's region (key-regions.ts), each one's tiles after the last.
    const regions = table.regions
    const order = regions.order
    let groupAt = regions.startOf(id)
    for (let oi = 0; oi < order.length; oi++) {
      const g = order[oi] as number
      const lay = layouts[g] as GroupLayout
      const ns = lay.numStride
      const n = regions.count(id, g)
      let base = groupAt
      groupAt += n * ns
      const h = lay.hopMs
      const k = Math.floor(t / h)
      if (k < Math.floor(c / h) + 1 - lay.maxTiles) continue
      const os = lay.objStride
      let page = regions.pageOf(id)
      let i = n
      while (i > 0 && (page[base + (i - 1) * ns] as number) > k) i--
      let pos: number
      if (i > 0 && page[base + (i - 1) * ns] === k) {
        pos = i - 1
      } else {
        pos = i
        regions.insert(id, g, pos, k)
        if (os > 0) (table.objSlabs[g] as TileSlab).insert(id, pos, k)
        page = regions.pageOf(id)
        base = regions.baseOf(id, g)
        groupAt = base + (n + 1) * ns
      }
      const at0 = base + pos * ns + 1
      const kinds = lay.numKind
      const numScratch = lay.numScratch
      for (let j = 0; j < kinds.length; j++) {
        const v = scratch[numScratch[j] as number]
        if (v === null) continue
        const at = at0 + j
        const acc = page[at] as number
        switch (kinds[j]) {
          case NUM_COUNT:
            page[at] = acc + 1
            break
          case NUM_SUM:
            page[at] = acc + (v as number)
            break
          case NUM_MIN:
            if ((v as number) < acc || acc !== acc) page[at] = v as number
            break
          default:
            if ((v as number) > acc || acc !== acc) page[at] = v as number
        }
      }
      if (os > 0) {
        const slab = table.objSlabs[g] as TileSlab
        const slot = slab.slotOf(id)
        const objs = slab.obj[slot >>> slab.pageBits] as unknown[]
        const aggs = lay.objAggs
        const objScratch = lay.objScratch
        const mirror = lay.objMirror
        const ob = (slot & slab.pageMask) * os + pos * os
        for (let j = 0; j < aggs.length; j++) {
          const v = scratch[objScratch[j] as number]
          if (v === null) continue
          const agg = aggs[j] as Aggregator
          const acc = agg.add(objs[ob + j], v as number | string, t, offset)
          objs[ob + j] = acc
          const m = mirror[j] as number
          if (m > 0) page[at0 - 1 + m] = agg.mirror!(acc)
        }
      }
    }
    // Views without lifetime features skip the (cold) per-key lifetime slot altogether.
    const life = this.#hasLifetime ? (table.life[id] as unknown[] | null) : null
    if (life !== null) {
      const cols = this.plan.lifetimeColumns
      for (let j = 0; j < cols.length; j++) {
        const v = scratch[this.#lifeOffset + j]
        if (v !== null) life[j] = cols[j]!.agg.add(life[j], v as number | string, t, offset)
      }
    }
    table.setClock(id, c)
    const values = this.evaluate(id, c > oldC)
    if (before === undefined || !rowValuesEqual(before, values)) rows.push({ entityKey: key, asOfMs: c, values })
    this.#reschedule(id, this.#evaluatedNextLoss)
  }

  /** Step 4 of docs/design.md §2: decay rows for every due boundary, in (boundary, key bytes) order. */
  fire(watermarkMs: number, rows: FeatureRow[]): void {
    const table = this.table
    for (;;) {
      const due = this.timers.popDue(watermarkMs)
      if (due === undefined) return
      const b = due.atMs
      const ids = due.ids
      // Its keys' tiles loaded before the first row: their misses overlap (key-regions.ts `warm`).
      if (ids.length > 1) table.regions.warm(ids)
      for (let i = 0; i < ids.length; i++) {
        const id = ids[i] as number
        // A live loss timer was set from the current tiles (every change re-schedules), so some
        // window loses a non-empty tile at b.
        let loss: number | undefined
        if (table.clockOf(id) < b && table.isLossTimer(id)) {
          table.setClock(id, b)
          rows.push({ entityKey: table.keyOf[id] as string, asOfMs: b, values: this.evaluate(id, true) })
          loss = this.#evaluatedNextLoss
        }
        table.setTimer(id, Number.NaN)
        if (!this.#reschedule(id, loss) && table.clockOf(id) + this.#allowedLatenessMs <= watermarkMs) table.drop(id)
      }
    }
  }

  /**
   * The next loss boundary of the key last evaluated (`nextLossMs` at its clock): evaluate finds
   * each window's first tile anyway, and the boundary is read off it, so a row's evaluation and
   * its timer share one search per window.
   */
  #evaluatedNextLoss = Number.NaN

  /**
   * Values of every feature at the key's clock, in the view's feature order. With `evict` (the
   * clock has moved), first drops each group's tiles that no window reaches any more: the same
   * walk finds them, where a separate eviction pass walked every group's tiles a second time.
   */
  evaluate(id: number, evict = false): FeatureValue[] {
    const out = this.#emptyValue.slice()
    let nextLoss = Number.NaN
    const table = this.table
    const t = table.clockOf(id)
    const layouts = this.layouts
    // The groups in their order in the key's region (key-regions.ts), each one's tiles after the last.
    const regions = table.regions
    const order = regions.order
    let tiles = regions.pageOf(id)
    let groupAt = regions.startOf(id)
    for (let oi = 0; oi < order.length; oi++) {
      const g = order[oi] as number
      const lay = layouts[g] as GroupLayout
      let count = regions.count(id, g)
      if (count === 0) continue
      const ns = lay.numStride
      const os = lay.objStride
      const top = Math.floor(t / lay.hopMs)
      let b = groupAt
      if (evict) {
        const keepFrom = firstTileAt(tiles, b, count, ns, top + 1 - lay.maxTiles)
        if (keepFrom > 0) {
          regions.dropFront(id, g, keepFrom)
          table.objSlabs[g]?.dropFront(id, keepFrom)
          count -= keepFrom
          // The region may have moved (down a class) or, with no tile left, been freed.
          tiles = regions.pageOf(id)
          b = regions.baseOf(id, g)
          groupAt = b
          if (count === 0) continue
        }
      }
      groupAt = b + count * ns
      // Only the page array and the record: the object tiles' own line is loaded by reads that need it.
      const slab = table.objSlabs[g]
      let objs: unknown[] = NO_OBJECTS
      let ob = 0
      if (slab !== null && slab !== undefined) {
        const slot = slab.slotOf(id)
        objs = slab.obj[slot >>> slab.pageBits] as unknown[]
        ob = (slot & slab.pageMask) * os
      }
      for (const spec of lay.specs) {
        const lo = firstTileAt(tiles, b, count, ns, top + 1 - spec.tiles)
        const n = count - lo
        if (n === 0) continue
        const loss = ((tiles[b + lo * ns] as number) + spec.tiles) * lay.hopMs
        if (!(loss >= nextLoss)) nextLoss = loss
        for (const read of spec.reads) {
          const at = read.at
          let value: FeatureValue
          switch (read.mode) {
            case READ_PAIR: {
              let x = 0
              let y = 0
              for (let i = lo; i < count; i++) {
                x += tiles[b + i * ns + at] as number
                y += tiles[b + i * ns + read.pairAt] as number
              }
              value = read.combine(x, y)
              break
            }
            case READ_ADD: {
              if (n === 1) {
                value = tiles[b + lo * ns + at] as number
                break
              }
              let s = 0
              for (let i = lo; i < count; i++) s += tiles[b + i * ns + at] as number
              value = s
              break
            }
            case READ_MIN: {
              let m = Number.NaN
              for (let i = lo; i < count; i++) {
                const v = tiles[b + i * ns + at] as number
                if (v < m || m !== m) m = v
              }
              value = m !== m ? null : m
              break
            }
            case READ_MAX: {
              let m = Number.NaN
              for (let i = lo; i < count; i++) {
                const v = tiles[b + i * ns + at] as number
                if (v > m || m !== m) m = v
              }
              value = m !== m ? null : m
              break
            }
            case READ_RANGE:
              value = read.finisher.finishRange!(objs, ob + lo * os + at, os, n, tiles, b + lo * ns + read.mirror, ns)
              break
            default: {
              if (n === 1) {
                value = read.finisher.finish(objs[ob + lo * os + at])
                break
              }
              const agg = read.agg
              let acc = agg.init()
              for (let i = lo; i < count; i++) acc = agg.merge(acc, objs[ob + i * os + at])
              value = read.finisher.finish(acc)
            }
          }
          out[read.featureIndex] = value
        }
      }
    }
    const life = this.#hasLifetime ? (table.life[id] as unknown[] | null) : null
    if (life !== null) {
      for (const slot of this.plan.lifetimeFeatures) out[slot.featureIndex] = finishSlot(slot, life)
    }
    this.#evaluatedNextLoss = nextLoss
    return out
  }

  /** Earliest boundary > c at which some window of the key loses a non-empty tile; NaN if none. */
  nextLossMs(id: number): number {
    return nextLossOf(this.table, this.layouts, id)
  }

  /**
   * Sets the key's single timer; returns false when the key has nothing left to emit. `loss` is
   * `nextLossMs(id)`, passed in when the caller has just evaluated the key at its clock.
   */
  #reschedule(id: number, loss = this.nextLossMs(id)): boolean {
    let at = loss
    if (Number.isNaN(loss) && !this.#hasLifetime) at = this.table.clockOf(id) + this.#allowedLatenessMs
    if (!Object.is(at, this.table.timerOf(id))) this.timers.schedule(id, at)
    this.table.setLossTimer(id, !Number.isNaN(loss))
    return !Number.isNaN(loss) || this.#hasLifetime
  }
}

/** The object page of a group without object columns (no read looks into it). */
const NO_OBJECTS: unknown[] = []

/** A feature's value from the (merged) accumulators of its columns. */
function finishSlot(slot: FeatureSlot, accs: readonly unknown[]): FeatureValue {
  return slot.pair === undefined ? slot.finisher.finish(accs[slot.column]) : slot.pair.combine(accs[slot.column] as number, accs[slot.pair.column] as number)
}
