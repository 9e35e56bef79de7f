/**
 * `kfs ingest` on snapshots the audit corpus sends: Parquet whose footer reads but whose pages
 * are corrupt, a snapshot without rows, a long beyond 2^53, and extra columns of types kfs does
 * not read (which must be ignored and listed, as the ones it reads are). Each exits 1 with one line naming the file or the
 * snapshot (and a JSON error with --json) — not an "unexpected error" stack trace with nothing
 * on stdout, and not exit 0 for a run that checked nothing.
 */
import { DuckDBInstance } from '@duckdb/node-api'
import assert from 'node:assert/strict'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { createParquetCodec } from '../../../adapters/offline/parquet/parquet-codec.ts'
import { createFileTableReader } from '../../../adapters/tables/file-table-reader.ts'
import { FeatureStoreError } from '../../../core/errors.ts'
import { declaredTableColumns } from '../../../ingest/row-columns.ts'
import { runKfsInProcess } from '../../support/in-process-cli.ts'
import { loggedEnvelopes } from './accounts-log.ts'
import { accountRow } from '../ingest/fixtures.ts'
import { writeAccountsParquet } from '../ingest/snapshots.ts'

const dir = mkdtempSync(join(tmpdir(), 'kfs-audit-ingest-'))
after(() => rmSync(dir, { recursive: true, force: true }))
const parquet = createParquetCodec({ worker: false })
const FEATURES = ['--features', 'test/unit/ingest/fixtures.ts']
const acct = (id: string, t: number, balance: number) => ({ account_id: id, updated_at: t, balance, tier: `tier-${id}`, visits: t })

let runs = 0
const ingest = (file: string, json: boolean, dataDir = join(dir, `data-${runs++}`)) =>
  runKfsInProcess(['ingest', '--source', 'accounts', '--snapshot', file, ...FEATURES, ...(json ? ['--json'] : [])], dataDir)

/** The `after` images the accounts topic holds under `dataDir`, by key (a key's latest last). */
async function loggedRows(dataDir: string): Promise<Map<string, Record<string, unknown>>> {
  return new Map((await loggedEnvelopes(dataDir)).map(({ key, envelope }) => [key, { ...envelope.after }]))
}

/** The good file's bytes with one byte of its pages (between the magic and the footer) inverted. */
function corruptPages(good: Buffer): Buffer[] {
  const footerStart = good.length - 8 - good.readUInt32LE(good.length - 8)
  const out: Buffer[] = []
  for (let i = 4; i < footerStart; i++) {
    const b = Buffer.from(good)
    b[i]! ^= 0xff
    out.push(b)
  }
  return out
}

void describe('kfs ingest: corrupt and empty snapshots', () => {
  void it('every single-byte corruption of the pages either reads or fails as the file\'s error, never as an unexpected one', async () => {
    const good = join(dir, 'good.parquet')
    await writeAccountsParquet(parquet, good, Array.from({ length: 20 }, (_, i) => acct(`k${i}`, 1000 + i, i / 4)))
    const reader = createFileTableReader({ parquet, columns: declaredTableColumns(accountRow), cwd: dir })
    const unexpected: string[] = []
    let refused = 0
    for (const [i, bytes] of corruptPages(readFileSync(good)).entries()) {
      writeFileSync(join(dir, 'bad.parquet'), bytes)
      try {
        const snapshot = await reader.open({ format: 'parquet', path: 'bad.parquet' })
        for await (const batch of snapshot.rows()) void batch
        for await (const batch of snapshot.columnBatches!()) void batch
      } catch (err: unknown) {
        // A flipped byte inside a text value makes it bytes that are not UTF-8: the file's error too.
        if (err instanceof FeatureStoreError && /^bad\.parquet (is not a Parquet file|holds text that is not UTF-8) \(/.test(err.message)) refused++
        else unexpected.push(`byte ${i + 4}: ${String(err)}`)
      }
    }
    assert.deepEqual(unexpected.slice(0, 5), [], `${unexpected.length} unexpected failures`)
    assert.ok(refused > 0, 'some corruption is detected')
  })

  void it('a file whose pages are corrupt: exit 1, one line naming it, the JSON error on stdout with --json', async () => {
    const good = join(dir, 'one.parquet')
    await writeAccountsParquet(parquet, good, Array.from({ length: 20 }, (_, i) => acct(`k${i}`, 1000 + i, i / 4)))
    // The first corruption the reader refuses after its footer checks passed.
    const reader = createFileTableReader({ parquet, columns: declaredTableColumns(accountRow), cwd: dir })
    let file: string | undefined
    for (const bytes of corruptPages(readFileSync(good))) {
      writeFileSync(join(dir, 'pages.parquet'), bytes)
      const snapshot = await reader.open({ format: 'parquet', path: 'pages.parquet' }).catch(() => undefined)
      if (snapshot === undefined) continue
      try {
        for await (const batch of snapshot.rows()) void batch
      } catch {
        file = join(dir, 'pages.parquet')
        break
      }
    }
    assert.ok(file, 'a corruption that only the page reads find')
    const text = await ingest(file, false)
    assert.equal(text.code, 1)
    assert.match(text.stderr, /^kfs ingest: pages\.parquet is not a Parquet file \(.*\)\n$/)
    const json = await ingest(file, true)
    assert.equal(json.code, 1)
    assert.match((JSON.parse(json.stdout) as { error: { message: string } }).error.message, /^pages\.parquet is not a Parquet file/)
  })

  void it('a snapshot without rows checked nothing: exit 1 naming it, nothing appended; one row is enough', async () => {
    const empty = join(dir, 'empty.parquet')
    await writeAccountsParquet(parquet, empty, [])
    for (const json of [false, true]) {
      const r = await ingest(empty, json)
      assert.equal(r.code, 1, r.stdout + r.stderr)
      assert.match(r.stderr, /nothing to ingest: the snapshot at .*empty\.parquet holds no rows; nothing was appended/)
    }
    const one = join(dir, 'one-row.parquet')
    await writeAccountsParquet(parquet, one, [acct('a', 1000, 1)])
    const r = await ingest(one, true)
    assert.equal(r.code, 0, r.stderr)
    assert.equal((JSON.parse(r.stdout) as { appended: number }).appended, 1)
  })

  void it('a long beyond 2^53 (an Avro long holds it) is appended exactly, not a failure of the whole file; a re-run appends nothing', async () => {
    const big = join(dir, 'big.parquet')
    const values = [2n ** 53n + 1n, 2n ** 62n + 3n, -(2n ** 63n)]
    await writeAccountsParquet(parquet, big, [...values.map((visits, i) => ({ ...acct(`b${i}`, 1000, 1), visits })), acct('small', 1000, 1)])
    const dataDir = join(dir, 'data-big')
    const first = await ingest(big, true, dataDir)
    assert.equal(first.code, 0, first.stdout + first.stderr)
    assert.equal((JSON.parse(first.stdout) as { appended: number }).appended, 4)
    const again = await ingest(big, true, dataDir)
    assert.equal(again.code, 0, again.stderr)
    assert.deepEqual(JSON.parse(again.stdout) as { appended: number; unchanged: number }, { ...(JSON.parse(again.stdout) as object), appended: 0, unchanged: 4 })
    const rows = await loggedRows(dataDir)
    assert.deepEqual(values.map((_, i) => BigInt(rows.get(`b${i}`)?.visits as bigint | number)), values)
    assert.equal(Number(rows.get('small')?.visits), 1000)
  })

  void it('an extra column of a type kfs does not read (a Spark or DuckDB export\'s decimal, struct…) is ignored and listed, not a failure of the file', async () => {
    const duck = await (await DuckDBInstance.create(':memory:')).connect()
    const row = `'a' AS account_id, TIMESTAMPTZ '2026-01-01 00:00:00+00' AS updated_at, 1.5::DOUBLE AS balance, NULL::VARCHAR AS tier, 3::BIGINT AS visits`
    const extras = ['12.34::DECIMAL(10,2)', "{'x': 1, 'y': 'z'}", "MAP {'k': 1}", "TIME '10:00:00'", "'00000000-0000-0000-0000-000000000001'::UUID", 'INTERVAL 1 DAY']
    const file = join(dir, 'extras.parquet')
    await duck.run(`COPY (SELECT ${row}, ${extras.map((e, i) => `${e} AS extra_${i}`).join(', ')}) TO '${file}' (FORMAT parquet)`)
    const r = await ingest(file, true)
    assert.equal(r.code, 0, r.stdout + r.stderr)
    const summary = JSON.parse(r.stdout) as { appended: number; ignoredColumns: string[] }
    assert.equal(summary.appended, 1)
    assert.deepEqual(summary.ignoredColumns, extras.map((_, i) => `extra_${i}`))
    // Declared, such a column is still refused as a schema change, naming it.
    const declared = join(dir, 'decimal-balance.parquet')
    await duck.run(`COPY (SELECT 'a' AS account_id, TIMESTAMPTZ '2026-01-01 00:00:00+00' AS updated_at, 1.5::DECIMAL(10,2) AS balance) TO '${declared}' (FORMAT parquet)`)
    const refused = await ingest(declared, false)
    assert.equal(refused.code, 1)
    assert.match(refused.stderr, /column balance is other, declared double;.*nothing was appended/)
    duck.closeSync()
  })
})
