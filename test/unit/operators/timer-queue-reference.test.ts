import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { KeyTable } from '../../../operators/task/key-state.ts'
import { TimerQueue } from '../../../operators/task/timer-queue.ts'
import { compareKeyBytes } from '../../../operators/task/key-order.ts'

/**
 * The queue's contract without its storage: every (time, id) entry ever scheduled, and at a pop
 * the earliest due time's ids whose timer is still that time, in key-byte order, each once.
 */
class ReferenceQueue {
  readonly #entries: { atMs: number; id: number }[] = []
  readonly table: KeyTable
  constructor(table: KeyTable) {
    this.table = table
  }

  schedule(id: number, atMs: number): void {
    this.table.setTimer(id, atMs)
    if (!Number.isNaN(atMs) && atMs !== Infinity) this.#entries.push({ atMs, id })
  }

  popDue(watermarkMs: number): { atMs: number; ids: number[] } | undefined {
    for (;;) {
      const due = this.#entries.filter((e) => e.atMs <= watermarkMs)
      if (due.length === 0) return undefined
      const atMs = Math.min(...due.map((e) => e.atMs))
      const ids = new Set<number>()
      for (let i = this.#entries.length - 1; i >= 0; i--) {
        const e = this.#entries[i]!
        if (e.atMs !== atMs) continue
        if (this.table.timerOf(e.id) === atMs) ids.add(e.id)
        this.#entries.splice(i, 1)
      }
      if (ids.size > 0) return { atMs, ids: [...ids].sort((a, b) => compareKeyBytes(this.table.keyOf[a]!, this.table.keyOf[b]!)) }
    }
  }
}

// A few boundaries, hit again and again (the last bucket scheduled into is then often the one
// a pop hands out, or one popped earlier), spread-out times, times below zero, and the two
// values that clear a timer.
const timeArb = fc.oneof(
  fc.nat(8).map((k) => k * 60),
  fc.integer({ min: -20, max: 1300 }),
  fc.constantFrom(Number.NaN, Infinity, -Infinity),
)
const opArb = fc.oneof(
  { arbitrary: fc.record({ op: fc.constant('schedule' as const), key: fc.nat(40), atMs: timeArb }), weight: 6 },
  {
    arbitrary: fc.record({
      op: fc.constant('pop' as const),
      watermarkMs: fc.oneof(
        timeArb.filter((t) => !Number.isNaN(t)),
        fc.constant(Infinity),
      ),
    }),
    weight: 3,
  },
  { arbitrary: fc.record({ op: fc.constant('drop' as const), key: fc.nat(40) }), weight: 1 },
)

void describe('operators > timer queue > against a reference queue', () => {
  void test('hands out the same buckets in the same order, through schedules, drops and partial pops', () => {
    fc.assert(
      fc.property(fc.array(opArb, { maxLength: 300, size: 'max' }), (ops) => {
        const table = new KeyTable([])
        const queue = new TimerQueue(table)
        const reference = new ReferenceQueue(table)
        const idOf = new Map<number, number>()
        const idFor = (key: number): number => {
          let id = idOf.get(key)
          if (id === undefined) idOf.set(key, (id = table.add(`k${(key * 7919) % 41}-${key}`, 0, null)))
          return id
        }
        for (const o of ops) {
          if (o.op === 'schedule') {
            const id = idFor(o.key)
            queue.schedule(id, o.atMs)
            reference.schedule(id, o.atMs)
          } else if (o.op === 'drop') {
            const id = idOf.get(o.key)
            if (id === undefined) continue
            idOf.delete(o.key)
            table.drop(id)
          } else {
            // One bucket a pop, as a decay pass takes them: later buckets stay queued.
            assert.deepEqual(queue.popDue(o.watermarkMs), reference.popDue(o.watermarkMs))
          }
        }
        for (;;) {
          const want = reference.popDue(Infinity)
          assert.deepEqual(queue.popDue(Infinity), want)
          if (want === undefined) break
        }
      }),
      { numRuns: 400 },
    )
  })
})
