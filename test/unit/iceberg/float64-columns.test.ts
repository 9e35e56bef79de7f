/**
 * Numeric columns handed to the Parquet column builder as a Float64Array (the engine's row buffer,
 * adapters/offline/parquet/float64-columns.ts) must make the very file the same numbers as a JS
 * array make: seeded random columns of double, long and timestamptz — NaN, -0, the largest and
 * smallest doubles, safe-integer edges, empty columns, picked rows — give the same Arrow values,
 * statistics and Parquet bytes, and a value the array path refuses is refused with its message.
 * Through the engine's buffer, a feature table's file (numeric features with and without nulls)
 * is byte for byte the one its rows as objects make.
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { buildColumn } from '../../../adapters/offline/parquet/arrow-columns.ts'
import { encodeParquetColumns, type ParquetColumn, type ParquetScalarType } from '../../../adapters/offline/parquet/index.ts'
import { parquetColumnsOf } from '../../../adapters/offline/iceberg/iceberg-schema.ts'
import { archiveSeq, archiveSeqOf } from '../../../adapters/offline/iceberg/offline-sink.ts'
import { featureRowsToColumns, featureTableSchema, rowColumnsToTable } from '../../../adapters/offline/iceberg/table-schemas.ts'
import { OfflineRowBuffer } from '../../../engine/offline-row-buffer.ts'
import * as examples from '../../../examples/features.ts'
import type { FeatureValue, FeatureViewDef } from '../../../features/types.ts'
import type { OfflineFeatureRow } from '../../../ports/offline.ts'
import { prng } from '../../support/scenario.ts'

const DOUBLES = [0, -0, 1.5, -2.25, Number.NaN, 1e300, -1e300, Number.MAX_VALUE, Number.MIN_VALUE, -Number.MIN_VALUE, 0.1 + 0.2, Infinity, -Infinity]
const INTEGERS = [0, -0, 1, -1, 42, 2 ** 31, -(2 ** 32) - 5, 2 ** 53 - 1, -(2 ** 53) + 1, 9_007_199_254_740, 1_700_000_000_123]
/** Refused by a long (not a safe integer) or a timestamp (not a safe integer of µs, or not an integer). */
const BAD_INTEGERS = [0.5, 2 ** 53, Number.NaN, Infinity, 1e300]

function randomColumn(next: () => number, type: ParquetScalarType, n: number, bad: boolean): Float64Array {
  const pool = type === 'double' ? DOUBLES : INTEGERS
  const out = new Float64Array(n)
  for (let i = 0; i < n; i++) out[i] = pool[Math.floor(next() * pool.length)]!
  if (bad && n > 0) out[Math.floor(next() * n)] = BAD_INTEGERS[Math.floor(next() * BAD_INTEGERS.length)]!
  return out
}

function outcome(run: () => unknown): { ok: unknown } | { error: string } {
  try {
    return { ok: run() }
  } catch (err) {
    return { error: (err as Error).message }
  }
}

/** A built column as plain data: its type, counts, value bytes and bitmap, and its statistics. */
function shown(column: ParquetColumn, values: Float64Array | readonly unknown[], at?: readonly number[]): unknown {
  const { data, stats } = buildColumn(column, values, at)
  const bytes = (a: ArrayBufferView | null | undefined): number[] | null => (a == null ? null : Array.from(new Uint8Array(a.buffer, a.byteOffset, a.byteLength)))
  const show = (v: unknown): unknown => (Object.is(v, -0) ? '-0' : v)
  return { type: String(data.type), length: data.length, nullCount: data.nullCount, values: bytes(data.values), bitmap: bytes(data.nullBitmap), stats: Object.fromEntries(Object.entries(stats).map(([k, v]) => [k, show(v)])) }
}

void describe('sinks > parquet > numeric columns from a Float64Array', () => {
  void test('seeded random columns build as their JS arrays do: values, counts, bounds and refusals', () => {
    for (let seed = 1; seed <= 60; seed++) {
      const next = prng(seed)
      for (const type of ['double', 'long', 'timestamptz'] as const) {
        const n = seed % 10 === 0 ? 0 : Math.floor(next() * 3000)
        const values = randomColumn(next, type, n, type !== 'double' && next() < 0.3)
        const at = next() < 0.5 || n === 0 ? undefined : Array.from({ length: Math.floor(next() * n) }, () => Math.floor(next() * n))
        const column: ParquetColumn = { name: 'x', type, fieldId: 1, required: next() < 0.5 }
        const expected = outcome(() => shown(column, Array.from(values), at))
        assert.deepStrictEqual(outcome(() => shown(column, values, at)), expected, `seed ${seed} ${type}`)
      }
    }
  })

  void test('a file of Float64Array columns is byte for byte the file of their JS arrays', async () => {
    for (let seed = 1; seed <= 8; seed++) {
      const next = prng(100 + seed)
      const n = seed === 1 ? 0 : Math.floor(next() * 5000)
      const types = ['double', 'long', 'timestamptz', 'double'] as const
      const columns: ParquetColumn[] = types.map((type, i) => ({ name: `c${i}`, type, fieldId: i + 1, required: i === 0 }))
      const typed = types.map((type) => randomColumn(next, type, n, false))
      const at = seed % 2 === 0 ? undefined : Array.from({ length: n }, (_, i) => n - 1 - i)
      const fromTyped = await encodeParquetColumns(columns, typed, { worker: false }, at)
      const fromArrays = await encodeParquetColumns(columns, typed.map((c) => Array.from(c)), { worker: false }, at)
      assert.deepStrictEqual(Buffer.from(fromTyped.bytes), Buffer.from(fromArrays.bytes), `seed ${seed}`)
      assert.deepStrictEqual(fromTyped.stats, fromArrays.stats)
    }
  })

  void test("a feature table's file from the engine's buffer is the file of its rows as objects, nulls included", async () => {
    const aggregation = examples.userClicks.features[0]!.aggregation
    const features = [
      { name: 'n', type: 'long' as const, aggregation },
      { name: 'avg', type: 'double' as const, aggregation },
      { name: 'sparse', type: 'double' as const, aggregation },
      { name: 'label', type: 'string' as const, aggregation },
    ]
    for (const changeMode of [undefined, 'attributes'] as const) {
      const view: FeatureViewDef = { ...examples.userClicks, name: 'f64', version: 1, features, ...(changeMode === undefined ? {} : { changeMode }) }
      const columns = parquetColumnsOf(featureTableSchema(view))
      for (let seed = 1; seed <= 6; seed++) {
        const next = prng(200 + seed)
        const count = seed === 1 ? 0 : Math.floor(next() * 2000)
        const nullShare = seed % 3 === 0 ? 0 : 0.1
        const rows: OfflineFeatureRow[] = []
        for (let i = 0; i < count; i++) {
          const deleted = changeMode === 'attributes' && next() < 0.05
          const values: FeatureValue[] = deleted
            ? features.map(() => null)
            : [
                next() < nullShare ? null : INTEGERS[Math.floor(next() * INTEGERS.length)]!,
                next() < nullShare ? null : DOUBLES[Math.floor(next() * DOUBLES.length)]!,
                next() < 0.5 ? null : DOUBLES[Math.floor(next() * DOUBLES.length)]!,
                next() < 0.2 ? null : `s${i % 7}`,
              ]
          const row = { entityKey: `user-${i % 40}`, asOfMs: 1_700_000_000_000 + Math.floor(next() * 1e9), createdAtMs: 1_800_000_000_000 + i, values, origin: { partition: 0, offset: String(10 + i), seq: 0, marker: false } }
          rows.push(deleted ? { ...row, deleted: true as const } : row)
        }
        const buffer = new OfflineRowBuffer(features.map((f) => f.type))
        for (const row of rows) buffer.push(row, row.createdAtMs, row.origin.offset, row.origin.seq)
        const fileOf = async (table: { readonly columns: Readonly<Record<string, unknown>> }): Promise<Buffer> =>
          Buffer.from((await encodeParquetColumns(columns, columns.map((c) => (table.columns[c.name] ?? new Array(count).fill(null)) as readonly unknown[]), { worker: false })).bytes)
        const expected = await fileOf(featureRowsToColumns(view, rows, (r) => archiveSeqOf(r.origin)))
        assert.deepStrictEqual(await fileOf(rowColumnsToTable(view, buffer, archiveSeq)), expected, `${changeMode ?? 'events'} seed ${seed}`)
      }
    }
  })
})
