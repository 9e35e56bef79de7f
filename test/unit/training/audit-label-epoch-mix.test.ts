/**
 * A label-time column of epoch milliseconds with some rows in epoch seconds (two exports
 * concatenated, one from `date +%s`) used to build: the seconds rows, read as ms in January 1970,
 * came before every feature row and got nulls without a word (a column all in seconds is refused:
 * audit-label-epoch-seconds.test.ts). Every encoding of numeric label times — CSV digits or
 * decimals, Parquet BIGINT (times in SQL), INTEGER/UBIGINT/DOUBLE/DECIMAL/VARCHAR digits, behind a
 * composite key (times in JS) — × every place of the seconds (first, last, alone among many) is
 * refused naming the column and a row of each kind. Pure ms, timestamps of 1970 next to today's,
 * and ISO-8601 text of 1970 next to epoch ms still build.
 */
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, test } from 'node:test'
import { DuckDBInstance } from '@duckdb/node-api'
import { FeatureStoreError } from '../../../core/errors.ts'
import * as examples from '../../../examples/features.ts'
import { MemoryObjectStore } from '../../../adapters/object-store/index.ts'
import { createTrainingSet } from '../../../training/index.ts'
import { labelTimeFiles } from './label-time-files.ts'
import { registryWithViews, trainingDeps, userItemClicks } from './fixtures.ts'

const dir = await mkdtemp(join(tmpdir(), 'kfs-epoch-mix-'))
const instance = await DuckDBInstance.create(':memory:')
const duck = await instance.connect()
after(async () => {
  duck.closeSync()
  instance.closeSync()
  await rm(dir, { recursive: true, force: true })
})

const S = 1_700_000_000
const MS = 1_700_000_000_000
/** [what, times, 1-based row of the first seconds value, 1-based row of the first ms value]. */
const MIXES: readonly [string, readonly number[], number, number][] = [
  ['seconds first', [S, MS, MS + 1000], 1, 2],
  ['seconds last', [MS, MS + 1000, S + 60], 3, 1],
  ['one seconds row among many ms', [...Array.from({ length: 20 }, (_, i) => MS + i * 1000), S, MS], 21, 1],
]

const { csvFile, parquetFile } = labelTimeFiles(dir, duck)
let outputs = 0

const single = 'user_clicks:count_1h'
const composite = 'user_item_clicks:count_1d'
const ENCODINGS: readonly [string, (t: readonly number[]) => Promise<string>, string][] = [
  ['CSV digits', (t) => csvFile(t.map(String)), single],
  ['CSV decimals', (t) => csvFile(t.map((x) => `${x}.5`)), single],
  ['Parquet BIGINT (times in SQL)', (t) => parquetFile(t, 'BIGINT'), single],
  ['Parquet UBIGINT (times in SQL)', (t) => parquetFile(t, 'UBIGINT'), single],
  ['Parquet BIGINT, composite key (times in JS)', (t) => parquetFile(t, 'BIGINT'), composite],
  ['Parquet DOUBLE', (t) => parquetFile(t, 'DOUBLE'), single],
  ['Parquet DECIMAL(18,1)', (t) => parquetFile(t, 'DECIMAL(18,1)'), single],
  ['Parquet VARCHAR of digits', (t) => parquetFile(t, 'VARCHAR'), single],
]

const store = new MemoryObjectStore()
const registry = await registryWithViews(store, [examples.userClicks, userItemClicks])
const build = (path: string, ref: string) =>
  createTrainingSet({
    ...trainingDeps(store),
    registry,
    labels: { path },
    features: [ref],
    output: join(dir, `out-${outputs++}.parquet`),
  })

void describe('training set > label times mixing epoch seconds and milliseconds', () => {
  for (const [what, file, ref] of ENCODINGS) {
    for (const [where, times, secondsRow, msRow] of MIXES)
      void test(`${what}, ${where}: refused naming the column and a row of each`, async () => {
        await assert.rejects(build(await file(times), ref), (err: unknown) => {
          assert.ok(err instanceof FeatureStoreError && err.code === 'BAD_REQUEST', String(err))
          assert.match(err.message, /^ts mixes epoch seconds and epoch milliseconds/)
          assert.match(err.message, new RegExp(`label row ${secondsRow}\\b.* reads as 197`))
          assert.match(err.message, new RegExp(`label row ${msRow}\\b.* reads as 2023`))
          return true
        })
      })
    void test(`${what}: all epoch milliseconds build`, async () => {
      assert.equal((await build(await file([MS, MS + 1000, MS + 2000]), ref)).rows, 3)
    })
  }

  void test('1970 written as ISO-8601 text or a timestamp beside today is no mix', async () => {
    assert.equal((await build(await csvFile([new Date(S).toISOString(), String(MS)]), single)).rows, 2)
    const path = join(dir, 'timestamps.parquet')
    await duck.run(
      `COPY (SELECT 'u' || i AS user_id, 'x' AS item_id, make_timestamp(CAST(i AS BIGINT) * ${MS * 1000}) AS ts FROM range(0, 3) r(i)) TO '${path}' (FORMAT parquet)`,
    )
    assert.equal((await build(path, single)).rows, 3)
    assert.equal((await build(path, composite)).rows, 3)
  })
})
