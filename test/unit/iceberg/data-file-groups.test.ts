/**
 * `writeDataFiles` splits rows by partition (day of as_of) and lists a group's row indices only
 * once a second partition shows up: until then the rows so far are 0 … i − 1. Seeded sequences
 * of days — one day throughout, runs, a second day first seen late, alternation — must give files
 * whose rows are exactly each day's rows in input order, however many files a day is cut into.
 */
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { MemoryObjectStore } from '../../../adapters/object-store/index.ts'
import { createTable, dayPartitionSpec, readDataFileRowBatches, writeDataFiles } from '../../../adapters/offline/iceberg/index.ts'
import { clicksSchema, testClock } from './clicks-table.ts'

const DAY = 86_400_000
const START = Date.UTC(2026, 0, 1)

function rng(seed: number): () => number {
  let s = seed >>> 0
  return () => {
    s = (Math.imul(s, 1_103_515_245) + 12_345) >>> 0
    return s / 4294967296
  }
}

/** Day of each of `n` rows: every shape the grouping has to get right. */
function daySequences(random: () => number, n: number): number[][] {
  const oneDay = Array.from({ length: n }, () => 0)
  const secondLate = Array.from({ length: n }, (_, i) => (i < n - 3 ? 0 : i % 2))
  const runs: number[] = []
  while (runs.length < n)
    runs.push(
      ...Array.from({ length: 1 + Math.floor(random() * 20) }, () => Math.floor(random() * 3)).fill(Math.floor(random() * 3)),
    )
  const scattered = Array.from({ length: n }, () => Math.floor(random() * 4))
  const alternating = Array.from({ length: n }, (_, i) => i % 2)
  return [oneDay, secondLate, runs.slice(0, n), scattered, alternating]
}

void describe('offline table > rows split by partition', () => {
  void test('each day’s files hold exactly that day’s rows, in input order, for every shape of day sequence', async () => {
    for (let seed = 1; seed <= 4; seed++) {
      const random = rng(seed)
      for (const [shape, days] of daySequences(random, 150 + Math.floor(random() * 100)).entries()) {
        const schema = clicksSchema()
        const table = await createTable(new MemoryObjectStore(), `wh/groups-${seed}-${shape}`, {
          schema,
          partitionSpec: dayPartitionSpec(schema, 'as_of'),
          clock: testClock,
        })
        const rows = days.map((d, i) => ({ entity_key: `k${i}`, as_of: START + d * DAY + i, clicks: i }))
        // Small files: a day's rows are cut into several, each picked out of the group's indices.
        const files = await writeDataFiles(table, rows, { targetFileBytes: 600 + Math.floor(random() * 1500) })
        const byDay = new Map<number, number[]>()
        for (const file of files) {
          const day = file.partition[0] as number
          const got = byDay.get(day) ?? []
          for await (const batch of readDataFileRowBatches(table, file)) for (const r of batch) got.push(Number(r.clicks))
          byDay.set(day, got)
        }
        const want = new Map<number, number[]>()
        days.forEach((d, i) => {
          const day = Math.floor((START + d * DAY) / DAY)
          want.set(day, [...(want.get(day) ?? []), i])
        })
        assert.deepEqual(byDay, want, `seed ${seed}, shape ${shape}`)
        if (shape === 0) assert.equal(want.size, 1)
        else assert.ok(want.size > 1, `seed ${seed}, shape ${shape} has one day only`)
      }
    }
  })
})
