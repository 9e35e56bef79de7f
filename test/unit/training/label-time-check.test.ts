/**
 * Label times the engine derives itself (Parquet labels with a timestamp or integer time column)
 * are checked by the label reader in SQL (`firstTimeOutside`), not decoded into JS; a bad one must
 * still be refused with exactly the error the JS rule (labelTimeMs) gives for that row and value.
 */
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, test } from 'node:test'
import { DuckDBInstance } from '@duckdb/node-api'
import { FeatureStoreError } from '../../../core/errors.ts'
import { MemoryObjectStore } from '../../../adapters/object-store/index.ts'
import { createDuckDbLabelReader } from '../../../adapters/duckdb/duckdb-label-reader.ts'
import { createTrainingSet, labelTimeMs, MAX_LABEL_TIME_MS, MIN_LABEL_TIME_MS } from '../../../training/index.ts'
import * as examples from '../../../examples/features.ts'
import { BASE_MS, generateRows, registryWithViews, trainingDeps, writeRows } from './fixtures.ts'

const dir = await mkdtemp(join(tmpdir(), 'kfs-label-time-check-'))
const duck = await (await DuckDBInstance.create(':memory:')).connect()
const reader = await createDuckDbLabelReader()
after(async () => {
  await reader.close()
  await rm(dir, { recursive: true, force: true })
})
const RANGE = { minMs: MIN_LABEL_TIME_MS, maxMs: MAX_LABEL_TIME_MS }

let files = 0
/** A Parquet label file written by DuckDB from `SELECT …` (types DuckDB's own: infinity, year 10000). */
async function labelFile(select: string): Promise<string> {
  const path = join(dir, `labels-${files++}.parquet`)
  await duck.run(`COPY (${select}) TO '${path}' (FORMAT parquet)`)
  return path
}

/** The message labelTimeMs gives for `value` at 0-based `row`. */
function jsRuleMessage(value: unknown, row: number): string {
  try {
    labelTimeMs(value, row, 'ts')
  } catch (err) {
    return (err as Error).message
  }
  throw new Error(`labelTimeMs accepted ${String(value)}`)
}

const ok = `${BASE_MS}`
/** [what, label rows as SQL, the first bad row (0-based), the value `read` gives for it]. */
const BAD: readonly [string, string, number, unknown][] = [
  [
    'a null timestamp',
    `SELECT * FROM (VALUES ('u1', make_timestamptz(${ok}::BIGINT * 1000)), ('u2', NULL::TIMESTAMPTZ), ('u3', NULL::TIMESTAMPTZ)) t(user_id, ts)`,
    1,
    null,
  ],
  [
    'an infinite timestamp',
    `SELECT * FROM (VALUES ('u1', 'infinity'::TIMESTAMP), ('u2', '-infinity'::TIMESTAMP)) t(user_id, ts)`,
    0,
    null,
  ],
  [
    'a timestamp in year 10000',
    `SELECT * FROM (VALUES ('u1', make_timestamp(${ok}::BIGINT * 1000)), ('u2', TIMESTAMP '10000-01-01 00:00:00')) t(user_id, ts)`,
    1,
    MAX_LABEL_TIME_MS + 1,
  ],
  [
    'a date before year 1',
    `SELECT * FROM (VALUES ('u1', DATE '2024-01-01'), ('u2', DATE '0001-01-01'), ('u3', DATE '0000-12-31')) t(user_id, ts)`,
    2,
    MIN_LABEL_TIME_MS - 86_400_000,
  ],
  [
    'epoch ms past 9999 (BIGINT)',
    `SELECT * FROM (VALUES ('u1', ${ok}::BIGINT), ('u2', ${MAX_LABEL_TIME_MS + 1}::BIGINT)) t(user_id, ts)`,
    1,
    MAX_LABEL_TIME_MS + 1,
  ],
  ['a null epoch ms (INTEGER)', `SELECT * FROM (VALUES ('u1', 5::INTEGER), ('u2', NULL::INTEGER)) t(user_id, ts)`, 1, null],
]

void describe('training set > label times checked by the engine', () => {
  for (const [what, select, row, value] of BAD) {
    void test(`firstTimeOutside names the first bad row and its value: ${what}`, async () => {
      const path = await labelFile(select)
      assert.deepEqual(await reader.firstTimeOutside(path, 'ts', RANGE), { row, value })
      // The same row and value with a column DuckDB's row number would clash with (scanned in JS).
      const shadowed = await labelFile(`SELECT *, 7 AS file_row_number FROM (${select})`)
      assert.deepEqual(await reader.firstTimeOutside(shadowed, 'ts', RANGE), { row, value })
    })
  }

  void test('firstTimeOutside: none outside, the range ends included; a text column is refused', async () => {
    const path = await labelFile(
      `SELECT * FROM (VALUES ('u1', make_timestamptz(${MIN_LABEL_TIME_MS}::BIGINT * 1000), ${MIN_LABEL_TIME_MS}::BIGINT), ('u2', make_timestamptz(${MAX_LABEL_TIME_MS}::BIGINT * 1000 + 999), ${MAX_LABEL_TIME_MS}::BIGINT)) t(user_id, ts, ms)`,
    )
    assert.equal(await reader.firstTimeOutside(path, 'ts', RANGE), undefined)
    assert.equal(await reader.firstTimeOutside(path, 'ms', RANGE), undefined)
    assert.deepEqual(await reader.firstTimeOutside(path, 'ms', { minMs: MIN_LABEL_TIME_MS + 1, maxMs: MAX_LABEL_TIME_MS }), {
      row: 0,
      value: MIN_LABEL_TIME_MS,
    })
    const empty = await labelFile(`SELECT 'u1' AS user_id, make_timestamptz(0) AS ts LIMIT 0`)
    assert.equal(await reader.firstTimeOutside(empty, 'ts', RANGE), undefined)
    await assert.rejects(reader.firstTimeOutside(path, 'user_id', RANGE), RangeError)
    await assert.rejects(reader.firstTimeOutside(path, 'nope', RANGE), RangeError)
  })

  void test('a training set refuses each with the JS rule’s own error for that row', async () => {
    const store = new MemoryObjectStore()
    await writeRows(store, examples.userPurchases, generateRows(examples.userPurchases, 50, 3))
    const registry = await registryWithViews(store)
    for (const [what, select, row, value] of BAD) {
      const path = await labelFile(select)
      await assert.rejects(
        createTrainingSet({
          ...trainingDeps(store),
          registry,
          labels: { path },
          features: ['user_purchases:count'],
          output: join(dir, 'set.parquet'),
        }),
        (err: unknown) =>
          err instanceof FeatureStoreError && err.code === 'BAD_REQUEST' && err.message === jsRuleMessage(value, row),
        what,
      )
    }
  })
})
