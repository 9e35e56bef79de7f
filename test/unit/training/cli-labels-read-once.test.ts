/**
 * `kfs training-set` checks the label file's time column and rows (a usage error, exit 2, for a
 * missing --time-column; exit 1 for a file without rows) on the build's own read of it: a CSV
 * label file used to be read and parsed whole twice — once for these checks, once for the build
 * (training/README.md, "Labels as users write them"). Every label format is read once, and the
 * checks still answer as before.
 */
import assert from 'node:assert/strict'
import fsPromises from 'node:fs/promises'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { syncBuiltinESMExports } from 'node:module'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, mock, test } from 'node:test'
import { DuckDBInstance } from '@duckdb/node-api'
import * as examples from '../../../examples/features.ts'
import { LocalObjectStore } from '../../../adapters/object-store/index.ts'
import { runKfsInProcess } from '../../support/in-process-cli.ts'
import { BASE_MS, generateRows, registryWithViews, USERS, writeRows } from './fixtures.ts'

const dataDir = mkdtempSync(join(tmpdir(), 'kfs-labels-once-'))
after(() => rmSync(dataDir, { recursive: true, force: true }))
const store = new LocalObjectStore(join(dataDir, 'objects'))
await writeRows(store, examples.userClicks, generateRows(examples.userClicks, 100, 5))
await registryWithViews(store, [examples.userClicks])

const rows = USERS.map((u, i) => [u, BASE_MS + i * 60_000] as const)
const csv = (path: string, header: string, body = rows) =>
  writeFileSync(path, [header, ...body.map(([u, t]) => `${u},${t}`)].join('\n'))
async function parquet(path: string, header: string, body = rows): Promise<void> {
  const duck = await (await DuckDBInstance.create(':memory:')).connect()
  const [k, t] = header.split(',')
  const values =
    body.length === 0
      ? `SELECT 'u' AS ${k}, 0::BIGINT AS ${t} LIMIT 0`
      : `SELECT * FROM (VALUES ${body.map(([u, ms]) => `('${u}', ${ms}::BIGINT)`).join(', ')}) v(${k}, ${t})`
  await duck.run(`COPY (${values}) TO '${path}' (FORMAT parquet)`)
  duck.closeSync()
}
const FORMATS = [
  ['csv', csv],
  ['parquet', parquet],
] as const

/** `kfs training-set` on `labels`, counting the reads of that file. */
async function run(labels: string, extra: readonly string[] = []) {
  const reads = mock.method(fsPromises, 'readFile')
  syncBuiltinESMExports()
  try {
    const result = await runKfsInProcess(
      [
        'training-set',
        '--labels',
        labels,
        '--feature-refs',
        'user_clicks:count_1h',
        '--out',
        join(dataDir, `out-${Math.random()}.parquet`),
        ...extra,
      ],
      dataDir,
    )
    return { ...result, reads: reads.mock.calls.filter((c) => String(c.arguments[0]) === labels).length }
  } finally {
    reads.mock.restore()
    syncBuiltinESMExports()
  }
}

void describe('kfs training-set > the label file is read once', () => {
  for (const [format, write] of FORMATS) {
    void test(`${format}: one read of the label file for the checks and the build`, async () => {
      const labels = join(dataDir, `labels.${format}`)
      await write(labels, 'user_id,ts')
      const r = await run(labels)
      assert.equal(r.code, 0, r.stderr)
      assert.equal(r.reads, 1)
    })
    void test(`${format}: a missing --time-column is still a usage error naming the columns`, async () => {
      const labels = join(dataDir, `labels-t.${format}`)
      await write(labels, 'user_id,event_time')
      const r = await run(labels, ['--time-column', 'when'])
      assert.equal(r.code, 2, r.stderr)
      assert.match(r.stderr, /--time-column: .* has no column when \(columns: user_id, event_time\)/)
      const defaulted = await run(labels)
      assert.equal(defaulted.code, 2, defaulted.stderr)
      assert.match(defaulted.stderr, /has no column ts/)
    })
    void test(`${format}: a file without label rows fails (exit 1), nothing to build`, async () => {
      const labels = join(dataDir, `labels-empty.${format}`)
      await write(labels, 'user_id,ts', [])
      const r = await run(labels)
      assert.equal(r.code, 1, r.stderr)
      assert.match(r.stderr, /has no label rows: nothing to build/)
    })
  }
})
