/**
 * The partition task against the reference model on event streams an outside auditor would build
 * (docs/design.md §2–§3, docs/semantics.md §1, §7–§8): times at 0, negative, near ±2^53, exactly on
 * hop and window boundaries and one off, duplicates, bursts after long idle gaps that drop keys,
 * far-past (late) events, markers exactly at boundaries, below the watermark and far ahead. Every
 * stream is also cut at several random points (snapshot, restore, continue) and must give the
 * uninterrupted task's rows bit for bit. Seeded: a failure names its seed; KFS_TEST_SEED replays it.
 */
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import type { EventRecord, FeatureRow, FeatureViewDef, SourceDef } from '../../../features/types.ts'
import { createPartitionTask, restorePartitionTask } from '../../../operators/task/partition-task.ts'
import { prng } from '../../../examples/generate-events.ts'
import { runReference, type ReferenceRecord } from '../../reference/reference-model.ts'
import { valuesClose } from '../../support/scenario.ts'
import { testEntity, testSource, testView, type FeatureSpec } from './defs.ts'
import { feed, type Collected } from './run-task.ts'

const MAX = Number.MAX_SAFE_INTEGER
/** Every hop below divides 60, so multiples of 60 are boundaries of every window. */
const HOPS = [5, 10, 20, 30, 60]
const KEYS = ['a', 'b', 'é', '\u{1F600}', 'k9']

type Rand = () => number
const pick = <T>(rand: Rand, xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)] as T
const int = (rand: Rand, lo: number, hi: number): number => lo + Math.floor(rand() * (hi - lo + 1))

function features(rand: Rand): FeatureSpec[] {
  const out: FeatureSpec[] = [{ op: 'count', windowMs: null }]
  const n = int(rand, 1, 4)
  for (let i = 0; i < n; i++) {
    const hopMs = pick(rand, HOPS)
    const windowMs = hopMs * pick(rand, [1, 2, 3, 12])
    const op = pick(rand, ['count', 'sum', 'min', 'max', 'first', 'last', 'last_n', 'avg'] as const)
    out.push(
      op === 'count'
        ? { op, windowMs, hopMs }
        : op === 'last_n'
          ? { op, field: 'x', n: 2, windowMs, hopMs }
          : { op, field: 'x', windowMs, hopMs },
    )
  }
  return out
}

/** Where a stream starts: the edges of the time line and the ordinary middle. */
const ORIGINS = [0, -1, 1, -60, -1_000_000_007, 1_767_225_600_000, MAX - 5_000, -MAX + 5_000, 2 ** 52]

function stream(rand: Rand, source: SourceDef): ReferenceRecord[] {
  const records: ReferenceRecord[] = []
  let cursor = pick(rand, ORIGINS)
  let offset = int(rand, 0, 3) * 1_000_000
  let last: { t: number; event: EventRecord } | undefined
  const count = int(rand, 20, 90)
  for (let i = 0; i < count; i++) {
    const r = rand()
    if (r < 0.08) {
      // A marker: exactly on a boundary, one off, below the watermark, or far ahead.
      const b = Math.floor(cursor / 60) * 60 + 60 * int(rand, 0, 3)
      const marker = pick(rand, [b, b - 1, b + 1, cursor - 1_000, cursor + 10_000_000, cursor])
      records.push({ partition: 0, marker: Math.min(marker, MAX) })
      continue
    }
    let t: number
    let event: EventRecord
    if (r < 0.16 && last !== undefined) {
      // A duplicate: the same event again (same time, key and value) at the next offset.
      t = last.t
      event = last.event
    } else {
      const step = rand()
      if (step < 0.3) t = cursor + int(rand, 0, 7)
      else if (step < 0.55) t = Math.floor(cursor / 60) * 60 + 60 * int(rand, 0, 2) + pick(rand, [0, 0, -1, 1])
      else if (step < 0.65)
        t = cursor + pick(rand, [3_600_000, 86_400_000 * 400, 10 ** 12]) // a burst after a long idle gap
      else if (step < 0.75) t = cursor - int(rand, 1, source.outOfOrdernessMs + source.allowedLatenessMs + 5)
      else if (step < 0.8)
        t = cursor - pick(rand, [10 ** 6, 10 ** 12]) // far past: late
      else t = cursor + int(rand, 0, 60)
      if (t > MAX || t < -MAX) t = cursor
      cursor = Math.max(cursor, t)
      event = { ts: t, user: pick(rand, KEYS), x: int(rand, -8, 8) / 4 }
    }
    records.push({ partition: 0, offset: String(offset++), eventTimeMs: t, event })
    last = { t, event }
  }
  return records
}

function scenario(seed: number): { source: SourceDef; views: FeatureViewDef[]; records: ReferenceRecord[] } {
  const rand = prng(seed)
  const source = testSource({ outOfOrdernessMs: pick(rand, [0, 7, 60]), allowedLatenessMs: pick(rand, [0, 1, 60, 3_600_000]) })
  const views = [0, 1].map((i) => testView({ name: `v${i}`, source, entity: testEntity(['user']), features: features(rand) }))
  return { source, views, records: stream(rand, source) }
}

/** Runs the task, restoring it from its own snapshot before each index in `cuts`. */
function runWithCuts(
  views: readonly FeatureViewDef[],
  source: SourceDef,
  records: readonly ReferenceRecord[],
  cuts: readonly number[],
): Collected {
  const into: Collected = { rows: views.map(() => []), dead: [] }
  let task = createPartitionTask({ views, source })
  let from = 0
  for (const cut of [...cuts, records.length]) {
    feed(task, records.slice(from, cut), into)
    from = cut
    if (cut < records.length) task = restorePartitionTask(views, source, task.snapshot())
  }
  into.finalSnapshot = task.snapshot()
  return into
}

const show = (r: FeatureRow): string => `${r.entityKey}@${r.asOfMs}:${JSON.stringify(r.values)}`
const BASE_SEED = Number(process.env.KFS_TEST_SEED ?? 20_260_522)
const SEEDS = process.env.KFS_TEST_SEED === undefined ? 150 : 1

void describe('operators > adversarial event times against the reference model', () => {
  void test(`seeds ${BASE_SEED}…${BASE_SEED + SEEDS - 1}: rows and dead letters equal the reference's; any cuts give the same bytes`, () => {
    let late = 0
    let rows = 0
    for (let seed = BASE_SEED; seed < BASE_SEED + SEEDS; seed++) {
      const { source, views, records } = scenario(seed)
      const where = `seed ${seed} (KFS_TEST_SEED=${seed} replays it)`
      const ref = runReference({ views, source, records })
      const whole = runWithCuts(views, source, records, [])
      views.forEach((view, i) => {
        const got = whole.rows[i]!
        const want = ref.rowsOf(view.name, 0)
        assert.equal(
          got.length,
          want.length,
          `${where}, ${view.name}: row count\n got:  ${got.map(show).join(' | ')}\n want: ${want.map(show).join(' | ')}`,
        )
        got.forEach((row, j) => {
          const exp = want[j]!
          const same = row.entityKey === exp.entityKey && row.asOfMs === exp.asOfMs && valuesClose(row.values, exp.values)
          assert.ok(same, `${where}, ${view.name} row ${j}: ${show(row)} vs expected ${show(exp)}`)
        })
        rows += got.length
      })
      assert.deepEqual(
        whole.dead.map((d) => `${d.offset}:${d.reason}:${d.view ?? ''}`),
        ref.deadLetters.map((d) => `${d.offset}:${d.reason}:${d.view ?? ''}`),
        `${where}: dead letters`,
      )
      late += whole.dead.filter((d) => d.reason === 'late').length
      const rand = prng(seed ^ 0x5eed)
      const cuts = [...new Set([0, 1, 2].map(() => Math.floor(rand() * records.length)))].sort((a, b) => a - b)
      // deepEqual compares numbers with Object.is: bit for bit, −0 ≠ 0.
      assert.deepEqual(runWithCuts(views, source, records, cuts), whole, `${where}: restored at ${cuts.join(', ')}`)
    }
    // The streams did what they are for: rows, and late events refused.
    assert.ok(rows > SEEDS * 10, `only ${rows} rows`)
    if (SEEDS > 1) assert.ok(late > 0, 'no stream had a late event')
  })
})

void describe('operators > the watermark ends at 2^53 − 1', () => {
  // An event near either end of time (a record whose timestamp does not bound it), then the
  // partition idles: its markers can run past 2^53. Before, they fired boundaries past it too —
  // rows with as_of 9007199254800000, which the online store refuses, so the engine failed on
  // every restart at the same place.
  const source = testSource({ outOfOrdernessMs: 0, allowedLatenessMs: 0 })
  const view = testView({
    source,
    features: [
      { op: 'count', windowMs: 60_000, hopMs: 10_000 },
      { op: 'sum', field: 'x', windowMs: 7, hopMs: 7 },
      { op: 'count', windowMs: null },
    ],
  })
  const markers = [MAX + 1, MAX + 120_000, 2 ** 60, 1e300, Infinity]
  for (const t of [MAX, MAX - 5, MAX - 60_000, -MAX, 0]) {
    for (const marker of markers) {
      void test(`event at ${t}, then a marker at ${marker}`, () => {
        const records: ReferenceRecord[] = [
          { partition: 0, offset: '0', eventTimeMs: t, event: { user: 'a', ts: t, x: 1 } },
          { partition: 0, marker },
          { partition: 0, offset: '1', eventTimeMs: MAX, event: { user: 'b', ts: MAX, x: 2 } },
          { partition: 0, marker: Infinity },
        ]
        const task = createPartitionTask({ views: [view], source })
        const into: Collected = { rows: [[]], dead: [] }
        feed(task, records, into)
        for (const row of into.rows[0]!) assert.ok(Number.isSafeInteger(row.asOfMs), `row ${show(row)}: as_of not a safe integer`)
        assert.equal(task.watermarkMs, MAX)
        const ref = runReference({ views: [view], source, records })
        assert.deepEqual(into.rows[0]!.map(show), ref.rowsOf(view.name, 0).map(show))
        // The event at 2^53 − 1 after the capped watermark is late (≤ watermark − 0), as the reference says.
        assert.deepEqual(
          into.dead.map((d) => `${d.offset}:${d.reason}`),
          ref.deadLetters.map((d) => `${d.offset}:${d.reason}`),
        )
      })
    }
  }
})
