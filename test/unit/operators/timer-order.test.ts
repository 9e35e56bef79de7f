import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { KeyTable } from '../../../operators/task/key-state.ts'
import { TimerQueue } from '../../../operators/task/timer-queue.ts'
import { compareKeyBytes } from '../../../operators/task/key-order.ts'

// Keys that share long prefixes (and stop sharing them as keys arrive), differ late, are
// prefixes of each other, and — in some runs — hold units ≥ U+D800.
const keyArb = fc.tuple(fc.constantFrom('user-', 'user-1', 'us', 'u', 'v', ''), fc.string({ unit: fc.constantFrom('0', '1', '9', '-', 'a', 'é', '\u{1F600}', '\uE000'), maxLength: 5 })).map(([p, s]) => p + s).filter((k) => k.length > 0)

void describe('operators > timer queue > key order', () => {
  void test('a due bucket comes out in key-byte order, each live id once', () => {
    fc.assert(
      fc.property(fc.uniqueArray(keyArb, { minLength: 1, maxLength: 200 }), fc.array(fc.nat(), { maxLength: 100 }), (keys, dropAt) => {
        const table = new KeyTable([])
        const timers = new TimerQueue(table)
        const ids = keys.map((k) => table.add(k, 0, null))
        for (const id of ids) timers.schedule(id, 100)
        // Some keys scheduled twice into the same bucket, some dropped.
        for (const d of dropAt) timers.schedule(ids[d % ids.length] as number, 100)
        const dropped = new Set(dropAt.filter((d) => d % 3 === 0).map((d) => d % ids.length))
        for (const d of dropped) table.drop(ids[d] as number)
        const due = timers.popDue(100)
        const expected = keys.filter((_, i) => !dropped.has(i)).sort(compareKeyBytes)
        assert.deepEqual((due?.ids ?? []).map((id) => table.keyOf[id]), expected)
      }),
      { numRuns: 400 },
    )
  })
})
