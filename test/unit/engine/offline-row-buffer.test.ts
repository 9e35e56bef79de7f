/**
 * The engine keeps a view's offline rows between checkpoints as columns (engine/offline-row-buffer.ts).
 * What it stages must be exactly what the same rows as objects stage: the table columns built from
 * the buffer equal, column for column, those built from the row objects — over seeded random rows
 * of every feature type, with nulls, -0, NaN, tombstones, offsets past 2^32 and row indexes past
 * the saturation point. A failed checkpoint's rows go back in front (`concat`), and a value of the
 * wrong type is refused without leaving half a row behind.
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { SchemaError } from '../../../core/errors.ts'
import type { FeatureValue, FeatureViewDef } from '../../../features/types.ts'
import * as examples from '../../../examples/features.ts'
import { archiveSeq, archiveSeqOf } from '../../../adapters/offline/iceberg/offline-sink.ts'
import { featureRowsToColumns, rowColumnsToTable } from '../../../adapters/offline/iceberg/table-schemas.ts'
import { OfflineRowBuffer } from '../../../engine/offline-row-buffer.ts'
import type { OfflineFeatureRow } from '../../../ports/offline.ts'
import { prng } from '../../support/scenario.ts'

const aggregation = examples.userClicks.features[0]!.aggregation
const features = [
  { name: 'n', type: 'long' as const, aggregation },
  { name: 'avg', type: 'double' as const, aggregation },
  { name: 'last_page', type: 'string' as const, aggregation },
  { name: 'recent', type: 'long[]' as const, aggregation },
  { name: 'scores', type: 'double[]' as const, aggregation },
  { name: 'pages', type: 'string[]' as const, aggregation },
]
const eventView: FeatureViewDef = { ...examples.userClicks, name: 'buf', version: 1, features }
const attributeView: FeatureViewDef = { ...eventView, changeMode: 'attributes' }
const types = features.map((f) => f.type)

function randomRows(seed: number, count: number, firstOffset: number): OfflineFeatureRow[] {
  const next = prng(seed)
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(next() * xs.length)]!
  const doubles = [0, -0, 1.5, -2.25, Number.NaN, 1e300, Number.MIN_VALUE, 0.1 + 0.2]
  const rows: OfflineFeatureRow[] = []
  let offset = firstOffset
  let index = 0
  for (let i = 0; i < count; i++) {
    if (next() < 0.6) {
      offset += 1 + Math.floor(next() * 3)
      index = 0
    }
    const deleted = next() < 0.1
    const values: FeatureValue[] = deleted
      ? features.map(() => null)
      : [
          next() < 0.2 ? null : pick([0, -1, 42, 2 ** 53 - 1, -(2 ** 53) + 1]),
          next() < 0.2 ? null : pick(doubles),
          next() < 0.2 ? null : pick(['', 'home', 'façade', '𝔘']),
          next() < 0.2 ? null : [1, 2, 3].slice(0, Math.floor(next() * 4)),
          next() < 0.2 ? null : [pick(doubles), -0],
          next() < 0.2 ? null : ['a', 'ü'],
        ]
    const origin = { partition: 2, offset: String(offset), seq: next() < 0.05 ? 0x1fffff + 7 : index++, marker: next() < 0.1 }
    const row = {
      entityKey: `user-${Math.floor(next() * 50)}`,
      asOfMs: 1_700_000_000_000 + Math.floor(next() * 1e9),
      values,
      createdAtMs: 1_800_000_000_000 + i,
      origin,
    }
    rows.push(deleted ? { ...row, deleted: true } : row)
  }
  return rows
}

function bufferOf(rows: readonly OfflineFeatureRow[], capacity?: number): OfflineRowBuffer {
  const buffer = new OfflineRowBuffer(types, capacity)
  for (const row of rows) buffer.push(row, row.createdAtMs, row.origin.offset, row.origin.seq)
  return buffer
}

/** Table columns with NaN and -0 made visible, so deepStrictEqual tells them apart from 0 and null. */
function comparable(columns: Readonly<Record<string, ArrayLike<unknown>>>): Record<string, unknown[]> {
  const show = (v: unknown): unknown =>
    typeof v === 'number' ? (Object.is(v, -0) ? '-0' : Number.isNaN(v) ? 'NaN' : v) : Array.isArray(v) ? v.map(show) : v
  return Object.fromEntries(Object.entries(columns).map(([name, values]) => [name, Array.from(values, show)]))
}

void describe('engine > offline row buffer', () => {
  for (const [name, view] of [
    ['an event view', eventView],
    ['an attribute view (deleted column)', attributeView],
  ] as const) {
    void test(`${name}: the buffer stages the same table columns as the row objects`, () => {
      for (const seed of [1, 2, 3, 4, 5]) {
        // Small first capacity: the buffer grows several times on the way.
        const rows = randomRows(seed, 700, seed === 5 ? 2 ** 32 - 300 : 0)
        const expected = featureRowsToColumns(view, rows, (r) => archiveSeqOf(r.origin))
        const actual = rowColumnsToTable(view, bufferOf(rows, 4), archiveSeq)
        assert.equal(actual.rowCount, rows.length)
        assert.deepStrictEqual(comparable(actual.columns), comparable(expected.columns), `seed ${seed}`)
      }
    })
  }

  void test('numeric columns without a null stage the same values, -0 and NaN included', () => {
    const rows = randomRows(6, 300, 0).map((row, i) => ({
      ...row,
      deleted: undefined,
      values: [i - 150, [0, -0, Number.NaN, 2.5][i % 4]!, ...row.values.slice(2)],
    }))
    const expected = featureRowsToColumns(eventView, rows, (r) => archiveSeqOf(r.origin))
    const actual = rowColumnsToTable(eventView, bufferOf(rows), archiveSeq)
    assert.deepStrictEqual(comparable(actual.columns), comparable(expected.columns))
    assert.ok(actual.columns.avg!.some((v) => Object.is(v, -0)))
  })

  void test('concat puts a failed checkpoint’s rows in front of the rows that came after it', () => {
    const rows = randomRows(9, 300, 10)
    for (const cut of [0, 1, 150, 299, 300]) {
      const joined = bufferOf(rows.slice(0, cut)).concat(bufferOf(rows.slice(cut)))
      assert.equal(joined.length, rows.length)
      const expected = featureRowsToColumns(eventView, rows, (r) => archiveSeqOf(r.origin))
      assert.deepStrictEqual(
        comparable(rowColumnsToTable(eventView, joined, archiveSeq).columns),
        comparable(expected.columns),
        `cut at ${cut}`,
      )
      // The joined buffer keeps taking rows.
      joined.push(rows[0]!, rows[0]!.createdAtMs, '1', 0)
      assert.equal(joined.length, rows.length + 1)
      assert.equal(joined.entityKeys.at(-1), rows[0]!.entityKey)
    }
  })

  void test('withoutFirst leaves the rows after a published record’s cut, in order', () => {
    const rows = randomRows(13, 300, 10)
    for (const cut of [0, 1, 150, 299, 300]) {
      const rest = bufferOf(rows).withoutFirst(cut)
      assert.equal(rest.length, rows.length - cut)
      const expected = featureRowsToColumns(eventView, rows.slice(cut), (r) => archiveSeqOf(r.origin))
      assert.deepStrictEqual(
        comparable(rowColumnsToTable(eventView, rest, archiveSeq).columns),
        comparable(expected.columns),
        `cut at ${cut}`,
      )
      rest.push(rows[0]!, rows[0]!.createdAtMs, '1', 0)
      assert.equal(rest.entityKeys.at(-1), rows[0]!.entityKey)
    }
  })

  void test('a cleared buffer takes new rows as a new one would (a published checkpoint’s buffer is reused)', () => {
    const buffer = bufferOf(randomRows(11, 500, 0), 8)
    buffer.clear()
    assert.equal(buffer.length, 0)
    assert.equal(buffer.featureColumn(2).length, 0)
    const rows = randomRows(12, 200, 7)
    for (const row of rows) buffer.push(row, row.createdAtMs, row.origin.offset, row.origin.seq)
    const expected = featureRowsToColumns(attributeView, rows, (r) => archiveSeqOf(r.origin))
    assert.deepStrictEqual(comparable(rowColumnsToTable(attributeView, buffer, archiveSeq).columns), comparable(expected.columns))
    assert.ok(buffer.holds(types))
    assert.ok(!buffer.holds([...types.slice(1), types[0]!]))
    assert.ok(!buffer.holds(types.slice(1)))
  })

  void test('a value of the wrong type or count is refused and leaves the buffer as it was', () => {
    const rows = randomRows(3, 10, 0)
    const buffer = bufferOf(rows)
    const good = rows[0]!
    const badType = { ...good, values: ['7', ...good.values.slice(1)] }
    const badCount = { ...good, values: good.values.slice(1) }
    for (const bad of [badType, badCount]) assert.throws(() => buffer.push(bad, 0, '1', 0), SchemaError)
    assert.equal(buffer.length, rows.length)
    assert.equal(buffer.entityKeys.length, rows.length)
    assert.equal(buffer.featureColumn(2).length, rows.length)
    const expected = featureRowsToColumns(eventView, rows, (r) => archiveSeqOf(r.origin))
    assert.deepStrictEqual(comparable(rowColumnsToTable(eventView, buffer, archiveSeq).columns), comparable(expected.columns))
  })
})
