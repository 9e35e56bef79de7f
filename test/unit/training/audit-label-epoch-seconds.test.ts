/**
 * Label times written as numbers are epoch milliseconds (training/README.md). A label file whose
 * times are epoch seconds — what `date +%s`, Python's `time.time()` and most SQL `UNIX_TIMESTAMP`
 * give — used to be read as milliseconds in January 1970: every label before every feature row, so
 * a training set of nulls, built without a word. Epoch µs and ns are refused already (past 9999).
 * Every way a label file can hold such numbers — CSV digits or decimals, a Parquet BIGINT or INTEGER
 * column (the engine derives the times in SQL), the same behind a composite key (times in JS), a
 * DOUBLE, a DECIMAL, digits in a VARCHAR — is refused naming the column, when all of them fall in
 * 1970-01-01 … 1973-03-03 read as ms. The same encodings holding milliseconds build, and so do
 * times that really are from 1970 written as a timestamp or ISO-8601 text.
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

const dir = await mkdtemp(join(tmpdir(), 'kfs-epoch-seconds-'))
const instance = await DuckDBInstance.create(':memory:')
const duck = await instance.connect()
after(async () => {
  duck.closeSync()
  instance.closeSync()
  await rm(dir, { recursive: true, force: true })
})

const SECONDS = [1_700_000_000, 1_700_003_600, 1_000_000_000]
const MILLIS = SECONDS.map((s) => s * 1000)

/** `millis`: whether the encoding can hold epoch ms of today (a 32-bit INTEGER cannot). */
type Encoding = readonly [what: string, file: (times: readonly number[]) => Promise<string>, ref: string, millis?: false]

const { csvFile, parquetFile } = labelTimeFiles(dir, duck)
let outputs = 0

const single = 'user_clicks:count_1h'
const composite = 'user_item_clicks:count_1d'
const ENCODINGS: readonly Encoding[] = [
  ['CSV digits', (t) => csvFile(t.map(String)), single],
  ['CSV decimals', (t) => csvFile(t.map((x) => `${x}.5`)), single],
  ['Parquet BIGINT (times in SQL)', (t) => parquetFile(t, 'BIGINT'), single],
  ['Parquet INTEGER (times in SQL)', (t) => parquetFile(t, 'INTEGER'), single, false],
  ['Parquet BIGINT, composite key (times in JS)', (t) => parquetFile(t, 'BIGINT'), composite],
  ['Parquet UBIGINT, composite key (times in JS)', (t) => parquetFile(t, 'UBIGINT'), composite],
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

void describe('training set > label times that are epoch seconds', () => {
  for (const [what, file, ref, millis] of ENCODINGS) {
    void test(`${what}: epoch seconds are refused naming the column`, async () => {
      await assert.rejects(
        build(await file(SECONDS), ref),
        (err: unknown) =>
          err instanceof FeatureStoreError &&
          err.code === 'BAD_REQUEST' &&
          /every label time in ts .* epoch milliseconds/.test(err.message),
      )
    })
    if (millis !== false)
      void test(`${what}: epoch milliseconds build`, async () => {
        assert.equal((await build(await file(MILLIS), ref)).rows, SECONDS.length)
      })
  }

  void test('times that really are from 1970, as a timestamp or ISO-8601 text, build', async () => {
    const iso = SECONDS.map((s) => new Date(s).toISOString())
    assert.equal((await build(await csvFile(iso), single)).rows, 3)
    const path = join(dir, 'timestamps-1970.parquet')
    await duck.run(
      `COPY (SELECT 'u' || i AS user_id, 'x' AS item_id, make_timestamp(i * 1000000000::BIGINT) AS ts FROM range(1, 4) r(i)) TO '${path}' (FORMAT parquet)`,
    )
    assert.equal((await build(path, single)).rows, 3)
    assert.equal((await build(path, composite)).rows, 3)
  })
})
