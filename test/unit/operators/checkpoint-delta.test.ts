/**
 * Incremental checkpoints at the operator level (docs/semantics.md §8): random event and change
 * streams, checkpoints at random points — each a full snapshot (a compaction) or a delta of the
 * keys changed since the one before — and at every checkpoint the state restored from the base and
 * its deltas must give the live state's full snapshot byte for byte, and then continue exactly as
 * the live task does (same rows, same dead letters, same final bytes).
 */
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import type { EventRecord, FeatureRow, FeatureViewDef, SourceDef } from '../../../features/types.ts'
import { createPartitionTask, restorePartitionTask, type PartitionTask } from '../../../operators/task/partition-task.ts'
import type { TaskDeadLetter } from '../../../operators/task/output.ts'
import { CheckpointError } from '../../../core/errors.ts'
import { ByteReader } from '../../../operators/codec/bytes.ts'
import { scenarioArb } from './gen.ts'
import { attributeView, changeSource, currentStateView, randomChangelog, type Shape } from './changes/change-scenarios.ts'
import { testSource, testView } from './defs.ts'

type Step =
  | {
      readonly offset: string
      readonly eventTimeMs: number | undefined
      readonly event: EventRecord
      readonly role?: 'retract' | 'add'
    }
  | { readonly marker: number }

interface Run {
  rows: FeatureRow[][]
  dead: TaskDeadLetter[]
}

function feed(task: PartitionTask, step: Step, into: Run): void {
  const out =
    'marker' in step
      ? task.processWatermarkMarker(step.marker)
      : task.processEvent({
          offset: step.offset,
          eventTimeMs: step.eventTimeMs,
          event: step.event,
          ...(step.role ? { role: step.role } : {}),
        })
  out.rows.forEach((rows, i) => into.rows[i]!.push(...rows))
  into.dead.push(...out.deadLetters)
}

/** A checkpoint after `gap` more steps; `full`: a full snapshot (compaction) instead of a delta. */
interface Checkpoint {
  readonly gap: number
  readonly full: boolean
}

const checkpointsArb = fc.array(fc.record({ gap: fc.integer({ min: 0, max: 12 }), full: fc.boolean() }), {
  minLength: 1,
  maxLength: 25,
  size: 'medium',
})

/** What the runs exercised, so that a generator that stopped producing a case shows up. */
const seen = { deltas: 0, deltasRemovingKeys: 0 }

/** Keys the first view's part of a delta removes (operators/task/state-delta.ts layout, after the task's header). */
function keysRemovedBy(delta: Uint8Array): number {
  const r = new ByteReader(delta)
  for (let i = 0; i < 5; i++) r.u8()
  r.f64()
  r.uvarint()
  r.str()
  return r.uvarint()
}

function checkChain(
  views: readonly FeatureViewDef[],
  source: SourceDef,
  steps: readonly Step[],
  checkpoints: readonly Checkpoint[],
): void {
  const live = createPartitionTask({ views, source })
  const liveRun: Run = { rows: views.map(() => []), dead: [] }
  const twins: { task: PartitionTask; deadFrom: number; rowsFrom: number[]; run: Run }[] = []
  let base: Uint8Array | undefined
  let deltas: Uint8Array[] = []
  let at = 0
  const take = (full: boolean, where: string): void => {
    if (base === undefined || full) {
      base = live.checkpointFull()
      deltas = []
    } else {
      const delta = live.checkpointDelta()
      assert.ok(delta !== undefined, 'change tracking is lost only past thousands of keys')
      deltas.push(delta)
      seen.deltas++
      if (keysRemovedBy(delta) > 0) seen.deltasRemovingKeys++
    }
    const restored = restorePartitionTask(views, source, base, deltas)
    assert.deepEqual(
      restored.snapshot(),
      live.snapshot(),
      `${where}: base + ${deltas.length} deltas restore the live state's bytes`,
    )
    assert.equal(restored.watermarkMs, live.watermarkMs)
    twins.push({
      task: restored,
      deadFrom: liveRun.dead.length,
      rowsFrom: liveRun.rows.map((r) => r.length),
      run: { rows: views.map(() => []), dead: [] },
    })
  }
  for (const cp of checkpoints) {
    for (const step of steps.slice(at, at + cp.gap)) {
      feed(live, step, liveRun)
      for (const twin of twins) feed(twin.task, step, twin.run)
    }
    at = Math.min(steps.length, at + cp.gap)
    take(cp.full, `checkpoint after step ${at}`)
  }
  for (const step of steps.slice(at)) {
    feed(live, step, liveRun)
    for (const twin of twins) feed(twin.task, step, twin.run)
  }
  const final = live.snapshot()
  for (const twin of twins) {
    assert.deepEqual(
      twin.run.rows,
      liveRun.rows.map((rows, v) => rows.slice(twin.rowsFrom[v])),
      'a restored task emits what the live one does',
    )
    assert.deepEqual(twin.run.dead, liveRun.dead.slice(twin.deadFrom), 'and dead-letters what it does')
    assert.deepEqual(twin.task.snapshot(), final)
  }
}

void describe('operators > incremental checkpoints', () => {
  void test('event views: base + deltas restore the full snapshot at every checkpoint and continue alike', () => {
    fc.assert(
      fc.property(scenarioArb, checkpointsArb, ({ source, views, records }, checkpoints) =>
        checkChain(views, source, records, checkpoints),
      ),
      { numRuns: 300 },
    )
    assert.ok(seen.deltas > 500, `deltas were taken (${seen.deltas})`)
  })

  void test('event views with key churn (short windows, many keys, jumping watermarks): the same', () => {
    const source = testSource({ outOfOrdernessMs: 2, allowedLatenessMs: 3 })
    const views = [
      testView({
        name: 'short',
        source,
        features: [
          { op: 'sum', field: 'x', windowMs: 10, hopMs: 5 },
          { op: 'last_n', field: 's', n: 2, windowMs: 10, hopMs: 5 },
          { op: 'approx_distinct', field: 's', windowMs: 20, hopMs: 5 },
          { op: 'top_k', field: 's', params: { k: 2 }, windowMs: 10, hopMs: 10 },
        ],
      }),
      testView({
        name: 'life',
        source,
        features: [
          { op: 'count', windowMs: 10, hopMs: 5 },
          { op: 'max', field: 'x', windowMs: null },
        ],
      }),
    ]
    const stepArb = fc.oneof(
      {
        weight: 8,
        arbitrary: fc.record({
          dt: fc.integer({ min: -6, max: 15 }),
          user: fc.integer({ min: 0, max: 40 }),
          x: fc.integer({ min: -8, max: 8 }),
          s: fc.constantFrom('p', 'q', 'r'),
        }),
      },
      { weight: 2, arbitrary: fc.record({ ahead: fc.integer({ min: -5, max: 80 }) }) },
    )
    const before = seen.deltasRemovingKeys
    fc.assert(
      fc.property(fc.array(stepArb, { minLength: 40, maxLength: 150 }), checkpointsArb, (raw, checkpoints) => {
        let now = 0
        let offset = 0
        const steps: Step[] = raw.map((r) => {
          if ('ahead' in r) return { marker: now + r.ahead }
          now += Math.max(0, r.dt)
          const t = now + Math.min(0, r.dt)
          return { offset: String(offset++), eventTimeMs: t, event: { ts: t, user: `k${r.user}`, x: r.x, s: r.s } }
        })
        checkChain(views, source, steps, checkpoints)
      }),
      { numRuns: 200 },
    )
    assert.ok(
      seen.deltasRemovingKeys - before > 50,
      `keys were dropped between checkpoints (${seen.deltasRemovingKeys - before})`,
    )
  })

  void test('change views (attributes and current state): the same, over random changelogs', () => {
    const shapes: Shape[] = ['plain', 'filter', 'double', 'throws']
    const before = { ...seen }
    for (let seed = 0; seed < 160; seed++) {
      const source = changeSource(seed % 3 === 0 ? 0 : 5, seed % 2 === 0 ? 0 : 20)
      const views = [attributeView(source, shapes[seed % 4]!), currentStateView(source, shapes[(seed >> 2) % 4]!)]
      const rnd = mulberry(seed)
      const checkpoints = Array.from({ length: 1 + Math.floor(rnd() * 20) }, () => ({
        gap: Math.floor(rnd() * 10),
        full: rnd() < 0.25,
      }))
      checkChain(views, source, randomChangelog(31_000 + seed, 30 + (seed % 90)), checkpoints)
    }
    assert.ok(seen.deltas - before.deltas > 500, 'deltas were taken')
    assert.ok(seen.deltasRemovingKeys - before.deltasRemovingKeys > 10, 'keys were forgotten between checkpoints')
  })

  void test('a delta refuses another plan, other bytes, and trailing bytes', () => {
    const source = testSource({ allowedLatenessMs: 0 })
    const view = testView({ source, features: [{ op: 'sum', field: 'x', windowMs: 10, hopMs: 5 }] })
    const task = createPartitionTask({ views: [view], source })
    task.processEvent({ offset: '0', eventTimeMs: 1, event: { user: 'a', x: 1 } })
    const base = task.checkpointFull()
    task.processEvent({ offset: '1', eventTimeMs: 2, event: { user: 'b', x: 2 } })
    const delta = task.checkpointDelta() as Uint8Array
    const other = testView({ source, features: [{ op: 'sum', field: 'x', windowMs: 20, hopMs: 5 }] })
    const corrupt = (err: unknown): boolean => err instanceof CheckpointError && err.code === 'CHECKPOINT_CORRUPT'
    assert.throws(
      () => restorePartitionTask([other], source, createPartitionTask({ views: [other], source }).snapshot(), [delta]),
      corrupt,
    )
    assert.throws(() => restorePartitionTask([view], source, base, [base]), corrupt)
    assert.throws(() => restorePartitionTask([view], source, base, [new Uint8Array([...delta, 0])]), corrupt)
    assert.deepEqual(restorePartitionTask([view], source, base, [delta]).snapshot(), task.snapshot())
  })

  void test('past thousands of untracked drops a view reports its changes lost, and a full checkpoint starts over', () => {
    const source = testSource({ allowedLatenessMs: 0 })
    const view = testView({ source, features: [{ op: 'count', windowMs: 10, hopMs: 5 }] })
    const attrSource = changeSource(0, 0)
    for (const [views, src, event] of [
      [[view], source, (i: number) => ({ user: `u${i}` })],
      [
        [attributeView(attrSource, 'plain')],
        attrSource,
        (i: number) => ({ op: 'd', before: { id: i, grp: 'g', x: 1, s: 'a' }, after: null, ts_ms: i, snapshot: null }),
      ],
    ] as const) {
      const task = createPartitionTask({ views, source: src })
      task.checkpointFull()
      // Each key is dropped (or, for the attribute view, its unknown delete dead-lettered and
      // nothing kept) right after it is seen; the event view drops them as the watermark passes.
      for (let i = 0; i < 5_000; i++) task.processEvent({ offset: String(i), eventTimeMs: i * 20, event: event(i) })
      task.processWatermarkMarker(1e9)
      if (views[0]!.changeMode === undefined) assert.equal(task.checkpointDelta(), undefined, 'the event view lost track')
      const base = task.checkpointFull()
      task.processEvent({ offset: 'x', eventTimeMs: 2e9, event: event(7) })
      const delta = task.checkpointDelta()
      assert.ok(delta !== undefined, 'tracking works again after a full checkpoint')
      assert.deepEqual(restorePartitionTask(views, src, base, [delta]).snapshot(), task.snapshot())
    }
  })
})

function mulberry(seed: number): () => number {
  let a = seed + 0x6d2b79f5
  return () => {
    a = (a + 0x6d2b79f5) | 0
    let t = Math.imul(a ^ (a >>> 15), 1 | a)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}
