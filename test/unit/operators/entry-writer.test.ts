/**
 * EntryWriter (operators/task/entry-writer.ts) writes a key's snapshot entry from flat per-group
 * tables, and numeric accumulators by their kernel's declared wire form (`accWire`) instead of the
 * kernel's `encode`. Its bytes must be those of the layout written the plain way: each group's
 * tiles, each column's accumulator through its kernel's `encode` (snapshot.ts's layout).
 */
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { ByteWriter } from '../../../operators/codec/bytes.ts'
import { EntryWriter } from '../../../operators/task/entry-writer.ts'
import { planView } from '../../../operators/task/plan.ts'
import { ViewRunner } from '../../../operators/task/view-runner.ts'
import { countKernel } from '../../../operators/aggregators/count.ts'
import { maxKernel } from '../../../operators/aggregators/max.ts'
import { minKernel } from '../../../operators/aggregators/min.ts'
import { sumKernel } from '../../../operators/aggregators/sum.ts'
import type { Aggregator } from '../../../operators/aggregators/types.ts'
import { scenarioArb } from './gen.ts'

/** The entry as snapshot.ts's layout spells it, every accumulator through its kernel's `encode`. */
function plainEntry(runner: ViewRunner, key: string, w: ByteWriter): void {
  const table = runner.table
  const id = table.ids.get(key) as number
  w.str(key)
  w.f64(table.clockOf(id))
  w.f64(table.timerOf(id))
  runner.plan.groups.forEach((group, g) => {
    const lay = runner.layouts[g]!
    const count = table.regions.count(id, g)
    w.uvarint(count)
    const tiles = table.regions.pageOf(id)
    const base = table.regions.baseOf(id, g)
    const slab = table.objSlabs[g]
    const slot = slab ? slab.slotOf(id) : 0
    for (let t = 0; t < count; t++) {
      w.svarint(tiles[base + t * lay.numStride] as number)
      group.columns.forEach((col, j) => {
        const place = lay.placeOf[j] as number
        const acc =
          lay.isNum[j] === 1
            ? tiles[base + t * lay.numStride + place]
            : slab!.obj[slot >>> slab!.pageBits]![(slot & slab!.pageMask) * slab!.os + t * lay.objStride + place]
        col.agg.encode(acc, w)
      })
    }
  })
  const life = table.life[id]
  if (life !== null && life !== undefined) runner.plan.lifetimeColumns.forEach((col, j) => col.agg.encode(life[j], w))
}

void describe('operators > task > EntryWriter', () => {
  void test('every key of random views and streams: the bytes of the plain layout', () => {
    let keys = 0
    fc.assert(
      fc.property(scenarioArb, ({ source, views, records }) => {
        const runners = views.map((view) => new ViewRunner(planView(view, source), source.allowedLatenessMs))
        // The partition task's acceptance and watermark rules (partition-task.ts), enough to drive runners.
        let watermark = -Infinity
        const check = (): void => {
          for (const runner of runners) {
            const writer = new EntryWriter(runner)
            for (const [key, id] of runner.table.ids) {
              const plain = new ByteWriter(1)
              plainEntry(runner, key, plain)
              const fast = new ByteWriter(1)
              writer.write(id, key, fast)
              assert.deepEqual(fast.finish(), plain.finish())
              keys++
            }
          }
        }
        records.forEach((r, i) => {
          if ('marker' in r) watermark = Math.max(watermark, r.marker)
          else if (r.eventTimeMs !== undefined && r.eventTimeMs > watermark - source.allowedLatenessMs) {
            for (const runner of runners) runner.processEvent(r.offset, r.eventTimeMs, r.event, [], [])
            watermark = Math.max(watermark, r.eventTimeMs - source.outOfOrdernessMs)
          } else return
          for (const runner of runners) runner.fire(watermark, [])
          if (i % 7 === 6) check()
        })
        check()
      }),
      { numRuns: 150 },
    )
    assert.ok(keys > 300, `only ${keys} entries compared`)
  })

  void test("a kernel's accWire is exactly what its encode writes", () => {
    const kernels: Aggregator[] = [sumKernel, minKernel, maxKernel, countKernel]
    const values = [0, -0, 1, 127, 128, 300, 2 ** 31, 2 ** 53 - 1, 0.25, -7.5, Number.NaN, 1e300]
    for (const kernel of kernels) {
      assert.ok(kernel.accWire !== undefined, kernel.name)
      for (const v of values) {
        if (kernel.accWire === 'uvarint' && !(Number.isSafeInteger(v) && v >= 0)) continue
        const viaKernel = new ByteWriter(1)
        kernel.encode(v, viaKernel)
        const viaWire = new ByteWriter(1)
        if (kernel.accWire === 'f64') viaWire.f64(v)
        else viaWire.uvarint(v)
        assert.deepEqual(viaWire.finish(), viaKernel.finish(), `${kernel.name}(${v})`)
      }
    }
  })
})
