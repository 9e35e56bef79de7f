import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { createPartitionTask, restorePartitionTask } from '../../../operators/task/partition-task.ts'
import { CheckpointError } from '../../../core/errors.ts'
import { testSource, testView } from './defs.ts'

void describe('operators > partition task > snapshot', () => {
  const source = testSource({ outOfOrdernessMs: 5, allowedLatenessMs: 5 })
  const view = testView({ source, features: [{ op: 'sum', field: 'x', windowMs: 10, hopMs: 5 }, { op: 'approx_distinct', field: 's', windowMs: null }] })
  const task = createPartitionTask({ views: [view], source })
  for (let i = 0; i < 30; i++) task.processEvent({ offset: String(i), eventTimeMs: i * 3, event: { user: `u${i % 4}`, x: i, s: `s${i}` } })
  const bytes = task.snapshot()

  void test('restores the watermark and re-encodes to the same bytes', () => {
    const restored = restorePartitionTask([view], source, bytes)
    assert.equal(restored.watermarkMs, task.watermarkMs)
    assert.deepEqual(restored.keyCounts(), task.keyCounts())
    assert.deepEqual(restored.snapshot(), bytes)
  })

  void test('warmUpSnapshot encodes up to its bound of keys and changes nothing: the next delta and snapshot are those of a task without it', () => {
    const warmed = createPartitionTask({ views: [view], source })
    const twin = createPartitionTask({ views: [view], source })
    assert.equal(warmed.warmUpSnapshot(10), 0, 'no key yet')
    for (let i = 0; i < 30; i++) {
      const input = { offset: String(i), eventTimeMs: i * 3, event: { user: `u${i % 4}`, x: i, s: `s${i}` } }
      warmed.processEvent(input)
      twin.processEvent(input)
      if (i === 9) {
        assert.deepEqual(warmed.checkpointFull(), twin.checkpointFull())
        assert.equal(warmed.warmUpSnapshot(3), 3)
      }
    }
    assert.equal(warmed.warmUpSnapshot(100), 4, 'every key, when fewer than the bound')
    assert.deepEqual(warmed.checkpointDelta(), twin.checkpointDelta())
    assert.deepEqual(warmed.snapshot(), twin.snapshot())
  })

  void test('refuses a snapshot taken with a different feature plan', () => {
    const other = testView({ source, features: [{ op: 'sum', field: 'x', windowMs: 20, hopMs: 5 }, { op: 'approx_distinct', field: 's', windowMs: null }] })
    assert.throws(() => restorePartitionTask([other], source, bytes), (err: unknown) => err instanceof CheckpointError && err.code === 'CHECKPOINT_CORRUPT')
  })

  void test('refuses truncated, padded or foreign bytes', () => {
    for (const bad of [bytes.subarray(0, bytes.length - 3), new Uint8Array([...bytes, 0]), new Uint8Array([1, 2, 3, 4, 5])]) {
      assert.throws(() => restorePartitionTask([view], source, bad), (err: unknown) => err instanceof CheckpointError && err.code === 'CHECKPOINT_CORRUPT')
    }
  })
})
