import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { createPartitionTask } from '../../../operators/task/partition-task.ts'
import { runReference, type ReferenceRecord } from '../../reference/reference-model.ts'
import { testSource, testView } from './defs.ts'
import { runTask } from './run-task.ts'

// Expected rows below are worked out by hand from docs/design.md §2–§3 (window 10 ms, hop 5 ms: at time t
// the window holds tiles ⌊t/5⌋−1 and ⌊t/5⌋; tile k leaves it at (k+2)·5).

void describe('operators > partition task > worked examples', () => {
  void test('count decays to 0 by itself, late events are dead-lettered, decayed keys are dropped', () => {
    const source = testSource({ outOfOrdernessMs: 0, allowedLatenessMs: 0 })
    const view = testView({ source, features: [{ op: 'count', windowMs: 10, hopMs: 5 }] })
    const task = createPartitionTask({ views: [view], source })
    const ev = (offset: string, t: number, user: string) => task.processEvent({ offset, eventTimeMs: t, event: { user, ts: t } })

    assert.deepEqual(ev('0', 3, 'a').rows[0], [{ entityKey: 'a', asOfMs: 3, values: [1] }])
    // Watermark 12 passes boundary 10, where a's tile 0 leaves the window.
    assert.deepEqual(ev('1', 12, 'b').rows[0], [
      { entityKey: 'b', asOfMs: 12, values: [1] },
      { entityKey: 'a', asOfMs: 10, values: [0] },
    ])
    assert.deepEqual(task.keyCounts(), [1], 'a is empty and c=10 ≤ watermark − lateness: dropped')
    const late = ev('2', 11, 'a')
    assert.deepEqual(late.rows[0], [])
    assert.deepEqual(late.deadLetters.map((d) => d.reason), ['late'])
    assert.deepEqual(task.processWatermarkMarker(20).rows[0], [{ entityKey: 'b', asOfMs: 20, values: [0] }])
    assert.deepEqual(task.keyCounts(), [0])
  })

  void test('an out-of-order event emits at the key clock, and only if a value changed', () => {
    const source = testSource({ outOfOrdernessMs: 100, allowedLatenessMs: 100 })
    const view = testView({ source, features: [{ op: 'count', windowMs: 10, hopMs: 5 }, { op: 'max', field: 'x', windowMs: 10, hopMs: 5 }] })
    const task = createPartitionTask({ views: [view], source })
    const ev = (offset: string, t: number, x: number) => task.processEvent({ offset, eventTimeMs: t, event: { user: 'a', ts: t, x } }).rows[0]
    assert.deepEqual(ev('0', 50, 5), [{ entityKey: 'a', asOfMs: 50, values: [1, 5] }])
    assert.deepEqual(ev('1', 10, 1), [], 'outside the window at c=50: same as_of, same values')
    assert.deepEqual(ev('2', 48, 2), [{ entityKey: 'a', asOfMs: 50, values: [2, 5] }])
  })

  void test('within one boundary, keys go out in UTF-8 byte order (not UTF-16 order)', () => {
    const source = testSource({ allowedLatenessMs: 10 })
    const view = testView({ source, features: [{ op: 'count', windowMs: 5, hopMs: 5 }] })
    const task = createPartitionTask({ views: [view], source })
    // U+FF5E sorts before U+1F600 in UTF-8 (EF BD 9E < F0 9F 98 80) but after it in UTF-16.
    for (const [i, user] of ['\u{1F600}', '\uFF5E', 'z'].entries()) task.processEvent({ offset: String(i), eventTimeMs: 1, event: { user, ts: 1 } })
    assert.deepEqual(task.processWatermarkMarker(5).rows[0]!.map((r) => r.entityKey), ['z', '\uFF5E', '\u{1F600}'])
  })

  void test('the reference keeps partitions apart; each matches its own task', () => {
    const source = testSource({ outOfOrdernessMs: 2, allowedLatenessMs: 1 })
    const view = testView({ source, features: [{ op: 'sum', field: 'x', windowMs: 10, hopMs: 5 }, { op: 'last_n', field: 'x', n: 2, windowMs: null }] })
    const records: ReferenceRecord[] = []
    for (let i = 0; i < 40; i++) {
      const partition = i % 3 === 0 ? 1 : 0
      records.push({ partition, offset: String(i), eventTimeMs: i * 2 - (i % 4), event: { user: `u${i % 5}`, ts: 0, x: i } })
      if (i % 10 === 9) records.push({ partition, marker: i * 2 + 5 })
    }
    const ref = runReference({ views: [view], source, records })
    for (const partition of [0, 1]) {
      const mine = records.filter((r) => r.partition === partition)
      const got = runTask([view], source, mine)
      assert.ok(got.rows[0]!.length > 5)
      assert.deepEqual(got.rows[0], ref.rowsOf(view.name, partition))
    }
  })
})
