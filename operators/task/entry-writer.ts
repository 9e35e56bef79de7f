/**
 * Writes one key's entry of an event view's snapshot (the layout of snapshot.ts): the entries of a
 * full snapshot and of a checkpoint delta alike. A checkpoint's cut writes them between two
 * records, with the event loop stopped, so their cost per key is the stall every partition waits
 * out (issue #21). Hence one loop over flat per-group tables, decided once per view: no closure
 * per hop group or column, no object per key, and numeric accumulators whose kernel declares its
 * wire form (`accWire`: f64 or uvarint) written directly instead of through the kernel's `encode`
 * (a call site that sees every kernel of the view). The bytes are those of the kernels' `encode`.
 */
import type { ByteWriter } from '../codec/bytes.ts'
import type { Aggregator } from '../aggregators/types.ts'
import type { ViewRunner } from './view-runner.ts'
import type { KeyTable } from './key-state.ts'
import type { TileSlab } from './tile-slab.ts'

/** How a column's accumulator is written. */
const WIRE_F64 = 0
const WIRE_UVARINT = 1
/** The kernel's own `encode`, of the numeric tile's double. */
const WIRE_KERNEL_NUM = 2
/** The kernel's own `encode`, of the object tile's accumulator. */
const WIRE_KERNEL_OBJ = 3

/** A hop group's columns in plan order: wire form, place in the numeric or object tile, kernel. */
interface GroupWire {
  readonly numStride: number
  readonly objStride: number
  readonly wire: Uint8Array
  readonly place: Int32Array
  readonly aggs: readonly Aggregator[]
  readonly slab: TileSlab | null
}

const NO_OBJECTS: readonly unknown[] = []

function wireOf(agg: Aggregator, numeric: boolean): number {
  if (!numeric) return WIRE_KERNEL_OBJ
  return agg.accWire === 'f64' ? WIRE_F64 : agg.accWire === 'uvarint' ? WIRE_UVARINT : WIRE_KERNEL_NUM
}

export class EntryWriter {
  readonly #table: KeyTable
  readonly #groups: readonly GroupWire[]
  readonly #life: readonly Aggregator[]
  readonly #lifeWire: Uint8Array

  constructor(runner: ViewRunner) {
    const table = runner.table
    this.#table = table
    this.#groups = runner.plan.groups.map((group, g) => {
      const lay = runner.layouts[g]!
      return {
        numStride: lay.numStride,
        objStride: lay.objStride,
        wire: Uint8Array.from(group.columns, (col, j) => wireOf(col.agg, lay.isNum[j] === 1)),
        place: lay.placeOf,
        aggs: group.columns.map((col) => col.agg),
        slab: table.objSlabs[g] ?? null,
      }
    })
    this.#life = runner.plan.lifetimeColumns.map((col) => col.agg)
    // Lifetime accumulators are the kernels' values (a number for an unboxed kernel).
    this.#lifeWire = Uint8Array.from(this.#life, (agg) => wireOf(agg, true))
  }

  /** Key `key` (id `id`)'s entry: key, clock, timer, each group's tiles, the lifetime accumulators. */
  write(id: number, key: string, w: ByteWriter): void {
    const table = this.#table
    const regions = table.regions
    w.str(key)
    w.f64(table.clockOf(id))
    w.f64(table.timerOf(id))
    const groups = this.#groups
    for (let g = 0; g < groups.length; g++) {
      const count = regions.count(id, g)
      w.uvarint(count)
      if (count === 0) continue
      const group = groups[g] as GroupWire
      const tiles = regions.pageOf(id)
      const base = regions.baseOf(id, g)
      let objs = NO_OBJECTS
      let ob = 0
      const slab = group.slab
      if (slab !== null) {
        const slot = slab.slotOf(id)
        objs = slab.obj[slot >>> slab.pageBits] as unknown[]
        ob = (slot & slab.pageMask) * slab.os
      }
      this.#writeTiles(group, tiles, base, count, objs, ob, w)
    }
    const life = table.life[id]
    if (life !== null && life !== undefined) this.#writeLife(life, w)
  }

  #writeTiles(
    group: GroupWire,
    tiles: Float64Array,
    base: number,
    count: number,
    objs: readonly unknown[],
    ob: number,
    w: ByteWriter,
  ): void {
    const { numStride, objStride, wire, place, aggs } = group
    for (let t = 0; t < count; t++) {
      const at = base + t * numStride
      w.svarint(tiles[at] as number)
      for (let j = 0; j < wire.length; j++) {
        const p = place[j] as number
        switch (wire[j]) {
          case WIRE_F64:
            w.f64(tiles[at + p] as number)
            break
          case WIRE_UVARINT:
            w.uvarint(tiles[at + p] as number)
            break
          case WIRE_KERNEL_NUM:
            ;(aggs[j] as Aggregator).encode(tiles[at + p], w)
            break
          default:
            ;(aggs[j] as Aggregator).encode(objs[ob + t * objStride + p], w)
        }
      }
    }
  }

  #writeLife(life: readonly unknown[], w: ByteWriter): void {
    const aggs = this.#life
    const wire = this.#lifeWire
    for (let j = 0; j < aggs.length; j++) {
      if (wire[j] === WIRE_F64) w.f64(life[j] as number)
      else if (wire[j] === WIRE_UVARINT) w.uvarint(life[j] as number)
      else (aggs[j] as Aggregator).encode(life[j], w)
    }
  }
}
