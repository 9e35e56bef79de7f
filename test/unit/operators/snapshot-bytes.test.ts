/**
 * The operator snapshot and checkpoint delta bytes are a stored format (docs/semantics.md §8):
 * a faster encoder must write exactly what the one before it wrote. These tests pin SHA-256
 * digests of the bytes of fixed streams, taken with the encoder of 8b9d284 (per-key closures,
 * kernel `encode` calls, a Set of touched key strings), over random views of every kernel and over
 * keys and strings the UTF-8 fast paths must leave alone (non-ASCII, surrogates, ≥ 128 bytes).
 */
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import fc from 'fast-check'
import { createPartitionTask, type PartitionTask } from '../../../operators/task/partition-task.ts'
import { scenarioArb } from './gen.ts'
import { testEntity, testSource, testView } from './defs.ts'

/** Feeds `steps` to `task`, checkpointing every `every` steps (each third cut a full one), and hashes every cut's bytes. */
function cutDigest(
  task: PartitionTask,
  steps: readonly (() => void)[],
  every: number,
  hash: ReturnType<typeof createHash>,
): void {
  let cuts = 0
  steps.forEach((step, i) => {
    step()
    if ((i + 1) % every !== 0) return
    const bytes = cuts++ % 3 === 0 ? task.checkpointFull() : task.checkpointDelta()
    hash.update(bytes ?? new Uint8Array([0xff]))
    hash.update(task.snapshot())
  })
}

void describe('operators > snapshot and delta bytes', () => {
  void test('random views and streams: the same bytes as the encoder of 8b9d284', () => {
    const hash = createHash('sha256')
    for (const scenario of fc.sample(scenarioArb, { seed: 21, numRuns: 150 })) {
      const task = createPartitionTask({ views: scenario.views, source: scenario.source })
      const steps = scenario.records.map((r) => () => {
        if ('marker' in r) task.processWatermarkMarker(r.marker)
        else task.processEvent({ offset: r.offset, eventTimeMs: r.eventTimeMs, event: r.event })
      })
      cutDigest(task, steps, 4, hash)
    }
    assert.equal(hash.digest('hex'), '30510dd27c18aa0ea4e27e688d6ec74d610ad8141de49fdbf6c29dc452a2a0c6')
  })

  void test('long and non-ASCII keys and strings: the same bytes as the encoder of 8b9d284', () => {
    const source = testSource({ outOfOrdernessMs: 0, allowedLatenessMs: 10 })
    const view = testView({
      source,
      entity: testEntity(['user']),
      features: [
        { op: 'sum', field: 'x', windowMs: 20, hopMs: 5 },
        { op: 'count', windowMs: 20, hopMs: 5 },
        { op: 'max', field: 'x', windowMs: 40, hopMs: 10 },
        { op: 'last', field: 's', windowMs: 40, hopMs: 10 },
        { op: 'last_n', field: 's', n: 2, windowMs: 40, hopMs: 10 },
        { op: 'count', windowMs: null },
      ],
    })
    const keys = [
      'a',
      'x'.repeat(127),
      'y'.repeat(128),
      'z'.repeat(300),
      'é'.repeat(70),
      '\u{1F600}'.repeat(40),
      '\uE000k',
      'k\u007F',
      'ü',
    ]
    const strings = ['p', 'é', 'q'.repeat(127), 'r'.repeat(128), '\u{1F600}x', 'long ' + 'é'.repeat(100)]
    const task = createPartitionTask({ views: [view], source })
    const steps = Array.from({ length: 400 }, (_, i) => () => {
      const t = 3 * i
      task.processEvent({
        offset: String(1_000 * i),
        eventTimeMs: t,
        event: { ts: t, user: keys[(i * 7) % keys.length], x: (i % 13) - 6, s: strings[i % strings.length] },
      })
    })
    const hash = createHash('sha256')
    cutDigest(task, steps, 17, hash)
    assert.equal(hash.digest('hex'), 'bce5714bd2f0d04aa3a730d8276d2b3f4da4660e1593de6664d86e05f739f6d3')
  })
})
