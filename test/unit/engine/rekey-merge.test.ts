/**
 * The re-key stage's record merge (rekey-alignment.ts, docs/semantics.md §16), on its own.
 *
 * Properties over random multi-partition inputs (in-bound disorder, unordered records, empty
 * partitions), each fed in random batches in a random interleaving with random transaction sizes:
 * 1. the output is the offline merge ("repeatedly take the smallest (event time, partition) head,
 *    unordered records as −∞") — independent of batch boundaries and arrival order;
 * 2. a "crash" at any point followed by a restart from the positions after the last emitted record
 *    of each partition continues with exactly the rest of that sequence;
 * 3. no event on time in its source partition is late in the merged stream or in any hash
 *    subsequence of it (an internal partition).
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { RecordMerge, type MergeRecord } from '../../../engine/rekey-alignment.ts'
import { prng } from '../../support/scenario.ts'

type Rec = MergeRecord<string>
const rec = (partition: number, offset: number, timeMs: number | undefined): Rec => ({
  offset: BigInt(offset),
  timeMs,
  value: `${partition}/${offset}`,
})

/** The offline merge over complete partitions. */
function offlineMerge(partitions: readonly (readonly Rec[])[]): string[] {
  const heads = partitions.map(() => 0)
  const out: string[] = []
  for (;;) {
    let best = -1
    let bestTime = Infinity
    partitions.forEach((records, p) => {
      const r = records[heads[p]!]
      if (r === undefined) return
      const t = r.timeMs ?? -Infinity
      if (best < 0 || t < bestTime) {
        best = p
        bestTime = t
      }
    })
    if (best < 0) return out
    out.push(partitions[best]![heads[best]!++]!.value)
  }
}

/** A random input: every partition spans the same event-time range, disorder ≤ boundMs, some unordered records. */
function randomInput(rand: () => number, boundMs: number): Rec[][] {
  const count = 1 + Math.floor(rand() * 6)
  return Array.from({ length: count }, (_, p) => {
    const n = rand() < 0.15 ? 0 : Math.floor(rand() * 300)
    const base = 1_000 * Math.floor(rand() * 50)
    let t = base
    return Array.from({ length: n }, (_, i) => {
      t += Math.floor(rand() * 40)
      const r = rand()
      return rec(p, i, r < 0.05 ? undefined : r < 0.3 ? t - Math.floor(rand() * boundMs) : t)
    })
  })
}

/**
 * Feeds the partitions from `start` offsets on in random batches and interleavings; `stopAfter`
 * emitted records ends the run early (a crash). Returns what was emitted.
 */
function onlineMerge(
  rand: () => number,
  partitions: readonly (readonly Rec[])[],
  start: readonly number[],
  stopAfter = Infinity,
): string[] {
  const merge = new RecordMerge<string>(partitions.length)
  const fed = [...start]
  partitions.forEach((records, p) => merge.start(p, BigInt(start[p]!), BigInt(records.length)))
  const out: string[] = []
  while (out.length < stopAfter) {
    const pending = partitions.map((records, p) => (fed[p]! < records.length ? p : -1)).filter((p) => p >= 0)
    if (pending.length > 0 && (rand() < 0.7 || merge.waiting().length > 0)) {
      const p = pending[Math.floor(rand() * pending.length)]!
      const size = 1 + Math.floor(rand() * 40)
      const batch = partitions[p]!.slice(fed[p], fed[p]! + size)
      fed[p]! += batch.length
      merge.add(p, batch, BigInt(fed[p]!), BigInt(partitions[p]!.length))
    }
    const taken = merge.take(Math.min(1 + Math.floor(rand() * 30), stopAfter - out.length))
    out.push(...taken.map((m) => m.record.value))
    if (pending.length === 0 && taken.length === 0) break
  }
  return out
}

void describe('re-key merge > properties over random inputs', () => {
  void test('the output is the offline merge, whatever the batches and their interleaving', () => {
    const rand = prng(3)
    for (let round = 0; round < 300; round++) {
      const input = randomInput(rand, 2_000)
      const expected = offlineMerge(input)
      assert.deepEqual(
        onlineMerge(
          rand,
          input,
          input.map(() => 0),
        ),
        expected,
        `round ${round}`,
      )
      assert.equal(
        expected.length,
        input.reduce((n, r) => n + r.length, 0),
        'every record emitted once',
      )
    }
  })

  void test('a crash at any point and a restart from the committed positions continue the same sequence', () => {
    const rand = prng(4)
    for (let round = 0; round < 300; round++) {
      const input = randomInput(rand, 2_000)
      const expected = offlineMerge(input)
      const cut = Math.floor(rand() * (expected.length + 1))
      const before = onlineMerge(
        rand,
        input,
        input.map(() => 0),
        cut,
      )
      // Committed positions: after the last emitted record of each partition.
      const positions = input.map((_, p) => before.filter((v) => v.startsWith(`${p}/`)).length)
      const after = onlineMerge(rand, input, positions)
      assert.deepEqual([...before, ...after], expected, `round ${round}, crash after ${cut}`)
    }
  })

  void test('no event on time in its source partition is late in the merged stream or an internal partition', () => {
    const rand = prng(5)
    const budgetMs = 1_500
    let checked = 0
    for (let round = 0; round < 200; round++) {
      const input = randomInput(rand, budgetMs)
      const onTime = new Set<string>()
      for (const records of input) {
        let max = -Infinity
        for (const r of records) {
          if (r.timeMs === undefined) continue
          if (r.timeMs > max - budgetMs) onTime.add(r.value)
          max = Math.max(max, r.timeMs)
        }
      }
      const timeOf = new Map(input.flat().map((r) => [r.value, r.timeMs]))
      const merged = onlineMerge(
        rand,
        input,
        input.map(() => 0),
      )
      for (const lanes of [1, 3]) {
        const max = new Array<number>(lanes).fill(-Infinity)
        merged.forEach((value, i) => {
          const t = timeOf.get(value)
          if (t === undefined) return
          const lane = i % lanes
          if (onTime.has(value)) {
            assert.ok(t > max[lane]! - budgetMs, `round ${round}: ${value} at ${t} late behind ${max[lane]}`)
            checked++
          }
          max[lane] = Math.max(max[lane]!, t)
        })
      }
    }
    assert.ok(checked > 10_000, `${checked} on-time events checked`)
  })
})

void describe('re-key merge > the rule', () => {
  void test('a partition with nothing queued holds the merge back until it is known to be at its end', () => {
    const m = new RecordMerge<string>(3)
    m.start(0, 0n, 10n)
    m.start(1, 5n, 5n)
    assert.deepEqual(m.waiting(), [0, 2], 'partition 1 read to its end; 2 not started')
    m.add(0, [rec(0, 0, 100), rec(0, 1, 50)], 2n, 10n)
    assert.deepEqual(m.take(10), [], 'partition 2 is not started: nothing goes')
    m.start(2, 0n, 3n)
    m.add(2, [rec(2, 0, 120)], 1n, 3n)
    assert.deepEqual(
      m.take(10).map((x) => x.record.value),
      ['0/0', '0/1'],
      'smallest head each time; then 0 is empty and not at its end',
    )
    m.add(2, [rec(2, 1, 130)], 2n, 3n)
    // Partition 2 ends with a transaction marker at offset 2: a fetch moves past it without records.
    m.add(0, [rec(0, 2, 200)], 10n, 10n)
    assert.deepEqual(
      m.take(10).map((x) => x.record.value),
      ['2/0', '2/1'],
    )
    assert.deepEqual(m.waiting(), [2])
    m.moved(2, 3n, 3n)
    assert.deepEqual(
      m.take(10).map((x) => x.record.value),
      ['0/2'],
      'past the marker, partition 2 is at its end',
    )
    assert.equal(m.atEnd(0) && m.atEnd(1) && m.atEnd(2), true)
  })

  void test('an unordered head goes at once unless a waiting partition with a smaller index could precede it', () => {
    const m = new RecordMerge<string>(3)
    for (const p of [0, 1, 2]) m.start(p, 0n, 9n)
    m.add(1, [rec(1, 0, undefined), rec(1, 1, 10)], 2n, 9n)
    assert.deepEqual(m.take(10), [], 'partition 0 waits and could deliver its own unordered record first')
    m.add(0, [rec(0, 0, 20)], 1n, 9n)
    assert.deepEqual(
      m.take(10).map((x) => x.record.value),
      ['1/0'],
      'partition 2 waits, but it can only come after (−∞, 1)',
    )
  })

  void test('redelivered records are ignored; a lane stopped (partition revoked) holds the merge back again', () => {
    const m = new RecordMerge<string>(2)
    m.start(0, 0n, 3n)
    m.start(1, 0n, 0n)
    assert.equal(m.add(0, [rec(0, 0, 1), rec(0, 1, 2)], 2n, 3n), 2)
    assert.equal(m.add(0, [rec(0, 1, 2), rec(0, 2, 3)], 3n, 3n), 1, 'offset 1 came again')
    m.stop(1)
    assert.deepEqual(m.take(10), [])
    m.start(1, 0n, 0n)
    assert.deepEqual(
      m.take(10).map((x) => x.record.value),
      ['0/0', '0/1', '0/2'],
    )
    assert.throws(() => m.start(2, 0n), RangeError)
  })
})
