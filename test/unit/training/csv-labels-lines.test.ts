/**
 * Label CSV files and table-snapshot CSV files are read by one parser (core/csv-parse.ts), so they
 * accept and refuse the same text and name the same line of the file when they refuse it. Before,
 * the label reader had its own parser: it counted rows after dropping blank lines (so "CSV row N"
 * pointed above the bad line), and read `"a"b` as `ab` where the table reader refused it.
 *
 * Each row of the table is one way a file's records and its lines come apart (blank lines, line
 * breaks inside quotes, CRLF, a byte-order mark) or one RFC 4180 violation; both readers must
 * refuse it naming `line`, the file's own line number.
 */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, test } from 'node:test'
import { FeatureStoreError } from '../../../core/errors.ts'
import { createParquetCodec } from '../../../adapters/offline/parquet/parquet-codec.ts'
import { createFileTableReader } from '../../../adapters/tables/file-table-reader.ts'
import { declaredTableColumns } from '../../../ingest/row-columns.ts'
import type { LabelReader } from '../../../ports/label-reader.ts'
import type { TableRow } from '../../../ports/table-snapshots.ts'
import { readLabels } from '../../../training/index.ts'
import { accountRow } from '../ingest/fixtures.ts'

const dir = mkdtempSync(join(tmpdir(), 'kfs-csv-lines-'))
after(() => rmSync(dir, { recursive: true, force: true }))

// CSV labels never reach the Parquet reader: one that is called is a bug in this test's premise.
const noParquet = new Proxy({} as LabelReader, {
  get: () => () => assert.fail('a CSV label file must not use the Parquet label reader'),
})
const tables = createFileTableReader({
  parquet: createParquetCodec({ worker: false }),
  columns: declaredTableColumns(accountRow),
  cwd: dir,
})

const H = 'account_id,updated_at,balance,tier,visits'

async function labelsOf(text: string): Promise<readonly (readonly unknown[] | undefined)[]> {
  return (
    await readLabels(noParquet, { format: 'csv', bytes: new TextEncoder().encode(text) }, { stringColumns: ['account_id'] })
  ).values
}

async function tableRowsOf(name: string, text: string): Promise<TableRow[]> {
  writeFileSync(join(dir, name), text)
  const rows: TableRow[] = []
  for await (const batch of (await tables.open({ format: 'csv', path: name })).rows()) rows.push(...batch)
  return rows
}

/** [what, file text, the line both readers must name, what the label reader must say]. */
const REFUSED: readonly (readonly [string, string, number, RegExp])[] = [
  ['a short row after blank lines', `${H}\n\na,1,1.5,,\n\n\nb,1\n`, 6, /CSV line 6 has 2 fields; the header \(line 1\) has 5/],
  ['a long row after a blank line', `${H}\n\na,1,1.5,,,extra\n`, 3, /CSV line 3 has 6 fields/],
  ['a short row after a quoted line break', `${H}\n"a\nb",1,1.5,,\nc,1\n`, 4, /CSV line 4 has 2 fields/],
  ['a short row in a CRLF file with blank lines', `${H}\r\n\r\na,1,1.5,,\r\n\r\nb\r\n`, 5, /CSV line 5 has 1 fields/],
  ['blank lines before the header', `\n\n${H}\na\n`, 4, /CSV line 4 has 1 fields; the header \(line 3\) has 5/],
  ['a byte-order mark and a blank line', `\uFEFF${H}\n\nx,1\n`, 3, /CSV line 3 has 2 fields/],
  ['text after a closing quote', `${H}\n\n"a"b,1,1.5,,\n`, 3, /not valid CSV: line 3: text after a closing quote/],
  ['text after a closing quote ending a quoted line break', `${H}\n"x\ny"z,1,1.5,,\n`, 3, /line 3: text after a closing quote/],
  ['a quote inside an unquoted field', `${H}\na,1,1.5,go"ld,\n`, 2, /line 2: a quote inside an unquoted field/],
  ['a quoted field never closed', `${H}\na,1,1.5,,\n\n"open,1\n`, 4, /line 4: a quoted field is never closed/],
]

void describe("training > CSV labels and table snapshots: one parser, the file's own line numbers", () => {
  for (const [what, text, line, message] of REFUSED) {
    void test(`${what}: both refuse it at line ${line}`, async () => {
      await assert.rejects(labelsOf(text), (err: unknown) => {
        assert.ok(err instanceof FeatureStoreError, `labels: ${String(err)}`)
        assert.equal(err.code, 'BAD_REQUEST')
        assert.match(err.message, message)
        assert.equal(err.context?.line, line, `labels: context.line of ${err.message}`)
        return true
      })
      const name = `${what.replace(/\W+/g, '-')}.csv`
      await assert.rejects(tableRowsOf(name, text), (err: unknown) => {
        assert.ok(err instanceof FeatureStoreError, `tables: ${String(err)}`)
        assert.match(err.message, new RegExp(`line ${line}\\b`), `tables: ${err.message}`)
        return true
      })
    })
  }

  void test('what both accept, both read alike: doubled quotes, quoted commas and line breaks, blank lines skipped', async () => {
    const text = `${H}\r\n\r\n"a ""1""",1,1.5,"g,old",\r\n\n"b\nc",2,2.5,,7\n\n`
    assert.deepEqual((await labelsOf(text))[0], ['a "1"', 'b\nc'])
    assert.deepEqual((await labelsOf(text))[3], ['g,old', null])
    const rows = await tableRowsOf('accepted.csv', text)
    assert.deepEqual(
      rows.map((r) => [r.account_id, r.tier]),
      [
        ['a "1"', 'g,old'],
        ['b\nc', null],
      ],
    )
  })

  void test('a label time that is no time names its label row and its line in the file', async () => {
    const text = 'user_id,ts\n\nu1,2026-11-01T00:00:00Z\n"u\n2",2026-02-30\n'
    await assert.rejects(
      readLabels(noParquet, { format: 'csv', bytes: new TextEncoder().encode(text) }, { timeColumn: 'ts' }),
      (err: unknown) =>
        err instanceof FeatureStoreError &&
        /^label row 2 \(CSV line 4\): ts must be/.test(err.message) &&
        err.context?.line === 4,
    )
  })

  void test('lines that end in CR alone are refused as such, not read as one long header', async () => {
    await assert.rejects(labelsOf(`${H}\ra,1,1.5,,\r`), /its lines seem to end in CR alone/)
  })
})
