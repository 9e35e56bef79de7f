/**
 * Event times are any epoch milliseconds within ±2^53 (docs/semantics.md), so a row's as_of may lie
 * beyond the ±8.64e15 ms a Date holds — a changelog's commit time of 9e15, say. The offline table's
 * day partition must take such a row (the path names its day number) and read it back unchanged:
 * building the path with toISOString threw, and the sink failed the same batch again on every retry.
 */
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { MemoryObjectStore } from '../../../adapters/object-store/index.ts'
import {
  appendFiles,
  createTable,
  dayPartitionSpec,
  formatDay,
  readRows,
  writeDataFiles,
} from '../../../adapters/offline/iceberg/index.ts'
import { isoTextOrMs, MAX_DATE_MS } from '../../../core/iso-time.ts'
import { isoTime } from '../../../serving/handlers/catalog/html.ts'
import { clicksSchema, testClock } from './clicks-table.ts'

const DAY = 86_400_000
const TIMES = [
  0,
  -1,
  Date.UTC(2024, 0, 15),
  MAX_DATE_MS,
  -MAX_DATE_MS,
  MAX_DATE_MS + 1,
  -MAX_DATE_MS - 1,
  9e15,
  -9e15,
  2 ** 53 - 1,
  -(2 ** 53 - 1),
]

void describe('offline table > as_of beyond the dates a Date holds', () => {
  void test('formatDay names every day an as_of within ±2^53 falls on: its date inside the Date range, its number beyond', () => {
    for (const t of TIMES) {
      const day = Math.floor(t / DAY)
      const text = formatDay(day)
      if (Math.abs(day * DAY) <= MAX_DATE_MS) assert.equal(text, new Date(day * DAY).toISOString().slice(0, 10), String(t))
      else assert.equal(text, String(day), String(t))
    }
  })

  void test('rows at each such as_of are written and read back unchanged', async () => {
    const schema = clicksSchema()
    const created = await createTable(new MemoryObjectStore(), 'wh/times', {
      schema,
      partitionSpec: dayPartitionSpec(schema, 'as_of'),
      clock: testClock,
    })
    const rows = TIMES.map((t, i) => ({ entity_key: `k${i}`, as_of: t, clicks: i }))
    const res = await appendFiles(created, await writeDataFiles(created, rows), {}, { clock: testClock })
    assert.equal(res.status, 'committed')
    const back: Record<string, unknown>[] = []
    for await (const r of readRows(res.table)) back.push(r)
    const byKey = new Map(back.map((r) => [r.entity_key, Number(r.as_of)]))
    for (const r of rows) assert.equal(byKey.get(r.entity_key), r.as_of, r.entity_key)
  })

  void test('time texts for messages and the catalog page never throw: ISO inside the Date range, ms beyond', () => {
    for (const t of TIMES) {
      const inside = Math.abs(t) <= MAX_DATE_MS
      assert.equal(isoTextOrMs(t), inside ? new Date(t).toISOString() : `${t} ms`)
      assert.equal(isoTime(t), inside ? new Date(t).toISOString().replace('.000Z', 'Z') : `${t} ms`)
    }
  })
})
