/**
 * Change views inside the partition task (docs/design.md §11, §2): a change split by the re-key
 * stage into retract/add copies on two tasks does what it does whole; a task restored from a
 * snapshot continues exactly; snapshots are deterministic bytes.
 */
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { createPartitionTask, restorePartitionTask } from '../../../../operators/task/partition-task.ts'
import { changeOf } from '../../../../operators/changes/change.ts'
import { changeRoute, partialImageRoute, partialImagesOf } from '../../../../engine/rekey-records.ts'
import type { EventRecord, FeatureViewDef } from '../../../../features/types.ts'
import { prng } from '../../../support/scenario.ts'
import type { ChangeStep } from '../../../reference/changes-reference.ts'
import { attributeView, changeSource, currentStateView, deadOf, feedTask, ITEM, randomChangelog, type Shape } from './change-scenarios.ts'

const SHAPES: readonly Shape[] = ['plain', 'filter', 'double', 'throws']

const taskOfGroup = (g: string): number => [...g].reduce((h, ch) => (h * 31 + ch.charCodeAt(0)) >>> 0, 7) % 2

/**
 * The re-key stage's routing (engine/rekey-records.ts, docs/design.md §11): by the raw images' join
 * keys — the stage applies no view's filter or map — copies per task, with roles when the groups
 * differ. What the stage refuses (no time or time 0, a bad envelope, no group, a placeholder the
 * before image does not fill) goes whole to task 0, whose view refuses it once, as the stage would.
 */
function route(view: FeatureViewDef, steps: readonly ChangeStep[]): ChangeStep[][] {
  const out: ChangeStep[][] = [[], []]
  const known = partialImagesOf(view.source, view.entity, ITEM)
  for (const step of steps) {
    if ('marker' in step) continue
    const change = changeOf(step.event, ITEM)
    // A partial image is routed as the stage routes it: placeholders read from the before image.
    const partial = change.ok ? partialImageRoute(known, view.entity, change.change, step.event) : undefined
    const refusedWhole =
      step.eventTimeMs === undefined || step.eventTimeMs === 0 || !change.ok || (partial !== undefined && 'reason' in partial)
    const routed = refusedWhole ? undefined : changeRoute(view.entity, partial?.event ?? step.event)
    if (routed === undefined || !routed.ok) {
      out[0]!.push(step)
      continue
    }
    for (const copy of routed.copies) out[taskOfGroup(copy.key)]!.push(copy.role === undefined ? step : { ...step, role: copy.role })
  }
  return out
}

const sorted = (xs: string[]): string[] => [...xs].sort()

void describe('operators > change views > partition task', () => {
  void test('role-split feeding across two tasks equals the unsplit result per group (240 random changelogs)', () => {
    for (let seed = 1; seed <= 240; seed++) {
      // Lateness beyond the run: each split task sees part of the stream, so its watermark differs.
      const source = changeSource(0, 1e12)
      const view = currentStateView(source, SHAPES[seed % SHAPES.length] as Shape)
      const steps = randomChangelog(7000 + seed, 20 + (seed % 80))
      const whole = feedTask(createPartitionTask({ views: [view], source }), steps)
      const parts = route(view, steps).map((s) => feedTask(createPartitionTask({ views: [view], source }), s))
      const groups = new Set(whole.rows[0]!.map((r) => r.entityKey))
      for (const p of parts) for (const r of p.rows[0]!) assert.ok(groups.has(r.entityKey), `seed ${seed}: split rows of group ${r.entityKey}, which the whole run has none of`)
      for (const g of groups) {
        const split = parts.flatMap((p) => p.rows[0]!.filter((r) => r.entityKey === g))
        assert.deepEqual(split, whole.rows[0]!.filter((r) => r.entityKey === g), `seed ${seed}: group ${g}`)
      }
      assert.deepEqual(sorted(deadOf(parts.flatMap((p) => p.dead))), sorted(deadOf(whole.dead)), `seed ${seed}: dead letters`)
    }
  })

  void test('a task restored from a snapshot at a random point continues exactly (240 random changelogs)', () => {
    for (let seed = 1; seed <= 240; seed++) {
      const rnd = prng(seed)
      const source = changeSource([0, 3, 10][seed % 3] as number, [0, 5, 30][Math.floor(seed / 3) % 3] as number)
      const shape = SHAPES[Math.floor(rnd() * SHAPES.length)] as Shape
      const views = [attributeView(source, shape), currentStateView(source, shape)]
      const steps = randomChangelog(9000 + seed, 20 + (seed % 80))
      const cut = Math.floor(rnd() * (steps.length + 1))
      const whole = createPartitionTask({ views, source })
      const expected = feedTask(whole, steps)
      const first = createPartitionTask({ views, source })
      const run = feedTask(first, steps.slice(0, cut))
      const bytes = first.snapshot()
      const restored = restorePartitionTask(views, source, bytes)
      assert.deepEqual(restored.snapshot(), bytes, `seed ${seed}: re-encoding a restored task`)
      assert.deepEqual(restored.keyCounts(), first.keyCounts())
      feedTask(restored, steps.slice(cut), run)
      assert.deepEqual(run.rows, expected.rows, `seed ${seed}: rows after restoring at ${cut}`)
      assert.deepEqual(deadOf(run.dead), deadOf(expected.dead), `seed ${seed}: dead letters`)
      assert.deepEqual(restored.snapshot(), whole.snapshot(), `seed ${seed}: equal state, equal bytes`)
    }
  })

  void test('deleted keys and emptied groups are dropped once beyond the allowed lateness; live keys are kept', () => {
    const source = changeSource(0, 10)
    const views = [attributeView(source, 'plain'), currentStateView(source, 'plain')]
    const task = createPartitionTask({ views, source })
    const row = (id: number, grp: string): EventRecord => ({ id, grp, x: 1, s: 'a' })
    const ev = (offset: number, t: number, event: EventRecord) => task.processEvent({ offset: String(offset), eventTimeMs: t, event: { ...event, ts_ms: t, snapshot: null } })
    ev(0, 100, { op: 'c', before: null, after: row(1, 'g1') })
    ev(1, 100, { op: 'c', before: null, after: row(2, 'g2') })
    ev(2, 105, { op: 'd', before: row(2, 'g2'), after: null })
    assert.deepEqual(task.keyCounts(), [2, 2])
    task.processWatermarkMarker(114)
    assert.deepEqual(task.keyCounts(), [2, 2])
    task.processWatermarkMarker(115)
    assert.deepEqual(task.keyCounts(), [1, 1])
    task.processWatermarkMarker(1e9)
    assert.deepEqual(task.keyCounts(), [1, 1])
  })

  void test('refuses a snapshot of other change views', () => {
    const source = changeSource(0, 10)
    const task = createPartitionTask({ views: [currentStateView(source, 'plain')], source })
    task.processEvent({ offset: '0', eventTimeMs: 5, event: { op: 'c', before: null, after: { id: 1, grp: 'g', x: 2, s: null }, ts_ms: 5, snapshot: null } })
    assert.throws(() => restorePartitionTask([attributeView(source, 'plain')], source, task.snapshot()), /different/)
  })
})
