import assert from 'node:assert/strict'
import { test } from 'node:test'
import { DeliveryQueue } from '../../../engine/delivery-queue.ts'
import type { SlotOutput } from '../../../engine/partition-slot.ts'
import type { OfflineFeatureRow } from '../../../ports/offline.ts'

function output(tag: string, rows: number): SlotOutput {
  const list = Array.from({ length: rows }, (_, i) => ({ entityKey: `${tag}${i}` }) as unknown as OfflineFeatureRow)
  return { rows: [list], deadLetters: [], records: rows }
}

/** A flush the test completes by hand; records the tags of each flush's outputs. */
function harness(maxQueuedRows: number) {
  const flushes: string[][] = []
  const pending: { resolve(): void; reject(err: unknown): void }[] = []
  const queue = new DeliveryQueue({
    maxQueuedRows,
    flush: (outputs) => {
      flushes.push(outputs.map((o) => o.rows[0]![0]!.entityKey.replace(/\d+$/, '')))
      return new Promise<void>((resolve, reject) => pending.push({ resolve, reject }))
    },
  })
  return { queue, flushes, pending }
}

const tick = () => new Promise((resolve) => setImmediate(resolve))

void test('delivery queue > one flush in flight; outputs queued meanwhile go together, in order', async () => {
  const { queue, flushes, pending } = harness(100)
  await queue.enqueue(output('a', 3))
  assert.deepEqual(flushes, [['a']])
  await queue.enqueue(output('b', 3))
  await queue.enqueue(output('c', 3))
  assert.deepEqual(flushes, [['a']], 'nothing starts while a flush is in flight')
  pending[0]!.resolve()
  await tick()
  assert.deepEqual(flushes, [['a'], ['b', 'c']])
  pending[1]!.resolve()
  await queue.landed()
})

void test('delivery queue > enqueue waits for the in-flight flush once the queue holds maxQueuedRows', async () => {
  const { queue, pending } = harness(5)
  await queue.enqueue(output('a', 3))
  await queue.enqueue(output('b', 3))
  let returned = false
  const full = queue.enqueue(output('c', 3)).then(() => (returned = true))
  await tick()
  assert.equal(returned, false, 'a queue over its bound must hold the producer back')
  pending[0]!.resolve()
  await full
  assert.equal(returned, true)
})

void test('delivery queue > landed() waits for everything enqueued before it, not for later outputs', async () => {
  const { queue, pending } = harness(100)
  await queue.enqueue(output('a', 1))
  await queue.enqueue(output('b', 1))
  let landed = false
  const done = queue.landed().then(() => (landed = true))
  pending[0]!.resolve()
  await tick()
  assert.equal(landed, false, 'b is still queued')
  await queue.enqueue(output('c', 1))
  pending[1]!.resolve()
  await done
  assert.equal(landed, true)
  assert.equal(pending.length, 3, 'c went in a flush of its own')
})

void test('delivery queue > a failed flush rejects landed() and every later enqueue', async () => {
  const { queue, pending } = harness(100)
  await queue.enqueue(output('a', 1))
  await queue.enqueue(output('b', 1))
  const landed = queue.landed()
  pending[0]!.reject(new Error('redis gone'))
  await assert.rejects(landed, /redis gone/)
  await assert.rejects(queue.enqueue(output('c', 1)), /redis gone/)
  await assert.rejects(queue.landed(), /redis gone/)
})

void test('delivery queue > outputs without rows or dead letters are not flushed', async () => {
  const { queue, flushes } = harness(100)
  await queue.enqueue({ rows: [[]], deadLetters: [], records: 4 })
  assert.deepEqual(flushes, [])
  await queue.landed()
})
