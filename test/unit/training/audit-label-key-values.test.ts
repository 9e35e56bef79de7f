/**
 * Parquet label key columns holding values serving refuses as a key: a fraction, NaN, ±Infinity,
 * an integer past 2^53 held as a double (a DOUBLE column), true or false (a BOOLEAN column).
 * They used to become null keys, so the label row silently got nulls for an entity it names;
 * serving answers each with a 400. Now each is refused naming the label row and the join key,
 * like the key parts serving refuses for their text (label-key-check.test.ts). What serving takes
 * still builds: whole numbers of a DOUBLE column (pandas writes an id column with a gap as
 * float64), and nulls (no entity → nulls, training/README.md).
 */
import { DuckDBInstance } from '@duckdb/node-api'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import * as examples from '../../../examples/features.ts'
import { LocalObjectStore } from '../../../adapters/object-store/index.ts'
import { runKfsInProcess } from '../../support/in-process-cli.ts'
import { generateRows, registryWithViews, writeRows } from './fixtures.ts'

const dir = mkdtempSync(join(tmpdir(), 'kfs-label-key-values-'))
after(() => rmSync(dir, { recursive: true, force: true }))
const dataDir = join(dir, 'data')
const TS = `TIMESTAMPTZ '2026-11-01 00:00:00+00'`

/** A label file's user_id values (SQL literals, row order), and the row and value refused. */
const REFUSED: readonly (readonly [string, readonly string[], number, string])[] = [
  ['a fraction', ['5::DOUBLE', '1.5::DOUBLE'], 2, 'number 1.5'],
  ['NaN', [`'NaN'::DOUBLE`], 1, 'number NaN'],
  ['Infinity', ['7::DOUBLE', `'inf'::DOUBLE`], 2, 'number Infinity'],
  ['-Infinity', [`'-inf'::DOUBLE`], 1, 'number -Infinity'],
  ['an integer past 2^53 as a double', ['1e20::DOUBLE'], 1, 'number 100000000000000000000'],
  ['true', ['true'], 1, 'boolean true'],
  ['false after a null', ['NULL::BOOLEAN', 'false'], 2, 'boolean false'],
]

/** What serving takes builds: the user_id values of a label file that must build. */
const ACCEPTED: readonly (readonly [string, readonly string[]])[] = [
  ['whole numbers of a DOUBLE column', ['5::DOUBLE', '-3::DOUBLE', '0::DOUBLE']],
  ['whole numbers and nulls of a DOUBLE column', ['NULL::DOUBLE', '42::DOUBLE']],
  ['nulls of a BOOLEAN column', ['NULL::BOOLEAN']],
]

let instance: DuckDBInstance
let files = 0
async function labelFile(values: readonly string[]): Promise<string> {
  const path = join(dir, `labels-${files++}.parquet`)
  const rows = values.map((v) => `(${v}, ${TS})`).join(', ')
  const connection = await instance.connect()
  await connection.run(`COPY (SELECT * FROM (VALUES ${rows}) t(user_id, ts)) TO '${path}' (FORMAT parquet)`)
  connection.closeSync()
  return path
}

before(async () => {
  const store = new LocalObjectStore(join(dataDir, 'objects'))
  await writeRows(store, examples.userClicks, generateRows(examples.userClicks, 50, 2))
  await registryWithViews(store, [examples.userClicks])
  instance = await DuckDBInstance.create(':memory:')
})
after(() => instance.closeSync())

const build = (labels: string) =>
  runKfsInProcess(
    ['training-set', '--labels', labels, '--feature-refs', 'user_clicks:count_1h', '--out', join(dir, 'out.parquet'), '--json'],
    dataDir,
  )

void describe('kfs training-set: Parquet label keys serving refuses', () => {
  for (const [what, values, row, shown] of REFUSED) {
    void test(`${what}: exit 1 naming label row ${row} and user_id`, async () => {
      const r = await build(await labelFile(values))
      assert.equal(r.code, 1, r.stderr)
      assert.doesNotMatch(r.stderr, /unexpected error|\n\s+at /)
      assert.match(
        r.stderr,
        new RegExp(
          `^kfs training-set: label row ${row}: user_id is ${shown}, not a key: serving takes a join key as text or an integer`,
        ),
      )
      const error = (JSON.parse(r.stdout) as { error: { code: string; context: { row: number; joinKey: string } } }).error
      assert.deepEqual([error.code, error.context.row, error.context.joinKey], ['BAD_REQUEST', row, 'user_id'])
    })
  }
  for (const [what, values] of ACCEPTED) {
    void test(`${what}: built, one row per label`, async () => {
      const r = await build(await labelFile(values))
      assert.equal(r.code, 0, r.stderr)
      assert.equal((JSON.parse(r.stdout) as { rows: number }).rows, values.length)
    })
  }
})
