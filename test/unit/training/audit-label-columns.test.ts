/**
 * Label column names the join engine cannot tell apart. DuckDB compares column names without
 * case: two CSV label columns `ts` and `TS` made the build fail with an "unexpected error"
 * (Catalog Error: Column with name TS already exists!), and a Parquet label file repeating a name
 * (`ts`, `ts`, or `ts`, `TS`) was read with the second column renamed `ts_1` / `TS_1`; a label
 * column `USER_CLICKS__COUNT_1H` pushed the feature's column aside as `user_clicks__count_1h_1`.
 * Each is now a BAD_REQUEST naming the columns, before any output is written, for CSV and Parquet
 * alike; a nested field that repeats a top-level name is not a repeat.
 */
import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import * as arrow from 'apache-arrow'
import * as pw from 'parquet-wasm/node'
import { FeatureStoreError } from '../../../core/errors.ts'
import * as examples from '../../../examples/features.ts'
import { MemoryObjectStore } from '../../../adapters/object-store/index.ts'
import { createTrainingSet } from '../../../training/index.ts'
import type { Registry } from '../../../registry/index.ts'
import { BASE_MS, generateRows, registryWithViews, trainingDeps, writeRows } from './fixtures.ts'

const dir = await mkdtemp(join(tmpdir(), 'kfs-label-columns-'))
const store = new MemoryObjectStore()
let registry: Registry
before(async () => {
  await writeRows(store, examples.userClicks, generateRows(examples.userClicks, 100, 7))
  registry = await registryWithViews(store)
})
after(() => rm(dir, { recursive: true, force: true }))

const FEATURE = 'user_clicks:count_1h'
const T = String(BASE_MS + 3_600_000)

/** A Parquet label file with exactly these top-level names (Arrow allows repeats, as pyarrow does). */
async function parquetWith(name: string, columns: readonly [string, arrow.Vector][]): Promise<string> {
  const fields = columns.map(([n, v]) => new arrow.Field(n, v.type, true))
  const schema = new arrow.Schema(fields)
  const data = arrow.makeData({
    type: new arrow.Struct(fields),
    length: 1,
    nullCount: 0,
    children: columns.map(([, v]) => v.data[0]!),
  })
  const table = new arrow.Table([new arrow.RecordBatch(schema, data)])
  const path = join(dir, `${name}.parquet`)
  await writeFile(path, pw.writeParquet(pw.Table.fromIPCStream(arrow.tableToIPC(table, 'stream'))))
  return path
}
const text = (v: string): arrow.Vector => arrow.vectorFromArray([v], new arrow.Utf8())
const long = (v: bigint): arrow.Vector => arrow.vectorFromArray([v], new arrow.Int64())

async function csvWith(name: string, header: string, row: string): Promise<string> {
  const path = join(dir, `${name}.csv`)
  await writeFile(path, `${header}\n${row}\n`)
  return path
}

async function build(labels: string, name: string): Promise<string> {
  const output = join(dir, `${name}.out.parquet`)
  await createTrainingSet({ ...trainingDeps(store), registry, labels: { path: labels }, features: [FEATURE], output })
  return output
}

const CASES: readonly { name: string; file: () => Promise<string>; message: RegExp }[] = [
  {
    name: 'CSV: a column twice',
    file: () => csvWith('csv-twice', 'user_id,ts,ts', `u1,${T},${T}`),
    message: /the CSV header names column ts twice/,
  },
  {
    name: 'CSV: two columns differing only in case',
    file: () => csvWith('csv-case', 'user_id,ts,TS', `u1,${T},1`),
    message: /the CSV header names columns ts and TS, which differ only in case/,
  },
  {
    name: 'CSV: a join key in another case beside it',
    file: () => csvWith('csv-key-case', 'user_id,ts,USER_ID', `u1,${T},x`),
    message: /names columns user_id and USER_ID, which differ only in case/,
  },
  {
    name: 'CSV: a label column named like the feature column in another case',
    file: () => csvWith('csv-feature-case', 'user_id,ts,User_Clicks__Count_1h', `u1,${T},x`),
    message: /label column User_Clicks__Count_1h clashes with the feature column user_clicks__count_1h/,
  },
  {
    name: 'CSV: the reserved prefix in another case',
    file: () => csvWith('csv-reserved-case', 'user_id,ts,__KFS_ROW', `u1,${T},x`),
    message: /label column __KFS_ROW: the prefix __kfs_ is reserved/,
  },
  {
    name: 'Parquet: a column twice',
    file: () =>
      parquetWith('pq-twice', [
        ['user_id', text('u1')],
        ['ts', long(BigInt(T))],
        ['ts', long(5n)],
      ]),
    message: /label file .*pq-twice\.parquet names column ts twice/,
  },
  {
    name: 'Parquet: the join key twice',
    file: () =>
      parquetWith('pq-key-twice', [
        ['user_id', text('u1')],
        ['ts', long(BigInt(T))],
        ['user_id', text('u2')],
      ]),
    message: /pq-key-twice\.parquet names column user_id twice/,
  },
  {
    name: 'Parquet: two columns differing only in case',
    file: () =>
      parquetWith('pq-case', [
        ['user_id', text('u1')],
        ['ts', long(BigInt(T))],
        ['TS', long(5n)],
      ]),
    message: /pq-case\.parquet names columns ts and TS, which differ only in case/,
  },
  {
    name: 'Parquet: a label column named like the feature column in another case',
    file: () =>
      parquetWith('pq-feature-case', [
        ['user_id', text('u1')],
        ['ts', long(BigInt(T))],
        ['USER_CLICKS__COUNT_1H', long(1n)],
      ]),
    message: /label column USER_CLICKS__COUNT_1H clashes with the feature column user_clicks__count_1h/,
  },
]

void describe('training set > label column names the join engine cannot tell apart', () => {
  for (const c of CASES) {
    void test(`${c.name}: BAD_REQUEST naming the columns, nothing written`, async () => {
      const labels = await c.file()
      const output = join(dir, `${c.name.replace(/\W+/g, '-')}.out.parquet`)
      await assert.rejects(
        createTrainingSet({ ...trainingDeps(store), registry, labels: { path: labels }, features: [FEATURE], output }),
        (err: unknown) => {
          assert.ok(err instanceof FeatureStoreError, `not a FeatureStoreError: ${String(err)}`)
          assert.equal(err.code, 'BAD_REQUEST')
          assert.match(err.message, c.message)
          return true
        },
      )
      assert.equal(existsSync(output), false)
    })
  }

  void test('distinct names build; a nested field repeating a top-level name is no repeat', async () => {
    const nested = new arrow.Struct([new arrow.Field('ts', new arrow.Int64(), true)])
    const struct = arrow.makeVector(arrow.makeData({ type: nested, length: 1, nullCount: 0, children: [long(9n).data[0]!] }))
    const parquet = await parquetWith('pq-ok', [
      ['user_id', text('u1')],
      ['meta', struct],
      ['ts', long(BigInt(T))],
      ['Label', long(1n)],
    ])
    const csv = await csvWith('csv-ok', 'user_id,ts,Label', `u1,${T},1`)
    for (const [labels, name] of [
      [parquet, 'pq-ok'],
      [csv, 'csv-ok'],
    ] as const)
      assert.ok(existsSync(await build(labels, name)))
  })
})
