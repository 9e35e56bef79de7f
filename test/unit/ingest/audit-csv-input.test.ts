/**
 * CSV snapshots the audit corpus sends: text that is not UTF-8, dates their month does not have,
 * and numbers beyond a double. Each must be refused (the file, or the row with a reason) —
 * never read as another value: U+FFFD merging two keys, 2024-02-30 read as 1 March, 1e400 as
 * Infinity.
 */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { createParquetCodec } from '../../../adapters/offline/parquet/parquet-codec.ts'
import { typeCell } from '../../../adapters/tables/csv-cells.ts'
import { createFileTableReader } from '../../../adapters/tables/file-table-reader.ts'
import { declaredTableColumns } from '../../../ingest/row-columns.ts'
import type { TableRow, TableSnapshot } from '../../../ports/table-snapshots.ts'
import { accountRow } from './fixtures.ts'

const dir = mkdtempSync(join(tmpdir(), 'kfs-audit-csv-'))
after(() => rmSync(dir, { recursive: true, force: true }))
const reader = createFileTableReader({ parquet: createParquetCodec({ worker: false }), columns: declaredTableColumns(accountRow), cwd: dir })
const HEADER = 'account_id,updated_at,balance,tier,visits\n'

async function allRows(snapshot: TableSnapshot): Promise<TableRow[]> {
  const rows: TableRow[] = []
  for await (const batch of snapshot.rows()) rows.push(...batch)
  return rows
}

void describe('CSV snapshots: input that must not be read as something else', () => {
  const notUtf8: readonly (readonly [string, Buffer, number])[] = [
    ['Latin-1 keys (café, cafè)', Buffer.concat([Buffer.from(HEADER), Buffer.from('caf\xe9,1000,1.5,,\ncaf\xe8,1000,2.5,,\n', 'latin1')]), 2],
    ['UTF-16 with its byte-order mark', Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(`${HEADER}a,1000,1.5,,\n`, 'utf16le')]), 1],
    ['a lone continuation byte in a later row', Buffer.concat([Buffer.from(`${HEADER}a,1000,1.5,,\nb,1000,1.5,`), Buffer.from([0x80]), Buffer.from(',\n')]), 3],
    ['a multi-byte character cut off at the end', Buffer.concat([Buffer.from(`${HEADER}a,1000,1.5,gold,`), Buffer.from([0xe2, 0x82])]), 2],
    ['an overlong encoding of /', Buffer.concat([Buffer.from(`${HEADER}a`), Buffer.from([0xc0, 0xaf]), Buffer.from(',1000,1.5,,\n')]), 2],
    // The line is the first bad byte's, not the first U+FFFD's (a real one may come earlier).
    ['a real U+FFFD on line 2, a Latin-1 byte on line 3', Buffer.concat([Buffer.from(`${HEADER}a\ufffd,1000,1.5,,\nb`), Buffer.from([0xe9]), Buffer.from(',1000,1.5,,\n')]), 3],
  ]
  for (const [what, bytes, line] of notUtf8) {
    void it(`refuses a file that is not UTF-8, naming the file and line: ${what}`, async () => {
      const name = `${what.replace(/\W+/g, '-')}.csv`
      writeFileSync(join(dir, name), bytes)
      await assert.rejects(
        async () => allRows(await reader.open({ format: 'csv', path: name })),
        (err: Error) => err.message === `${name} is not UTF-8 text (the first bytes that are not are on line ${line}): save the CSV file as UTF-8`,
      )
    })
  }

  void it('reads UTF-8 (with or without a byte-order mark) as before', async () => {
    writeFileSync(join(dir, 'utf8.csv'), `\uFEFF${HEADER}café,1000,1.5,,\ncafè,1000,2.5,,\n`)
    assert.deepEqual((await allRows(await reader.open({ format: 'csv', path: 'utf8.csv' }))).map((r) => r.account_id), ['café', 'cafè'])
  })

  void it('leaves a date its month does not have as text (Date.parse would roll it into the next month), in every form', () => {
    const impossible = ['2023-02-29', '2100-02-29', '2024-02-30', '2024-02-31', '2024-04-31', '2024-06-31', '2024-09-31', '2024-11-31']
    for (const date of impossible) {
      for (const cell of [date, `${date}T00:00:00Z`, `${date} 10:00:00`, `${date}T10:00:00.123+02:00`, `${date}T10:00`]) assert.equal(typeCell(cell, 'timestamp'), cell, cell)
    }
    const real: readonly (readonly [string, number])[] = [
      ['2024-02-29', Date.UTC(2024, 1, 29)],
      ['2000-02-29T12:00:00Z', Date.UTC(2000, 1, 29, 12)],
      ['2023-02-28', Date.UTC(2023, 1, 28)],
      ['2024-01-31', Date.UTC(2024, 0, 31)],
      ['2024-12-31 23:59:59', Date.UTC(2024, 11, 31, 23, 59, 59)],
      ['2024-04-30T00:00:00+02:00', Date.UTC(2024, 3, 29, 22)],
    ]
    for (const [cell, ms] of real) assert.equal(typeCell(cell, 'timestamp'), ms, cell)
  })

  void it('leaves a number beyond a double as text (not ±Infinity); explicit Infinity and the largest double still read', () => {
    for (const cell of ['1e400', '-1e400', '1.8e308', '99999' + '9'.repeat(400)]) assert.equal(typeCell(cell, 'double'), cell, cell.slice(0, 20))
    assert.equal(typeCell('1.7976931348623157e308', 'double'), Number.MAX_VALUE)
    assert.equal(typeCell('Infinity', 'double'), Infinity)
    assert.equal(typeCell('1e-400', 'double'), 0)
  })

  void it('the reader hands such cells on as the text they are (ingest then rejects the row: invalid_event_time, schema_mismatch)', async () => {
    writeFileSync(join(dir, 'odd-cells.csv'), `${HEADER}a,2024-02-30,1.5,,\nb,1000,1e400,,\n`)
    const rows = await allRows(await reader.open({ format: 'csv', path: 'odd-cells.csv' }))
    assert.deepEqual(rows.map((r) => [r.updated_at, r.balance]), [
      ['2024-02-30', 1.5],
      [1000, '1e400'],
    ])
  })

  void it('refuses a file whose lines end in CR alone, naming the line endings (not "column missing")', async () => {
    for (const [name, text] of [
      ['cr-only.csv', `${HEADER}a,1000,1.5,,\nb,1000,2.5,,\n`.replaceAll('\n', '\r')],
      ['cr-only-no-final.csv', `${HEADER}a,1000,1.5,,`.replaceAll('\n', '\r')],
    ] as const) {
      writeFileSync(join(dir, name), text)
      await assert.rejects(
        async () => allRows(await reader.open({ format: 'csv', path: name })),
        (err: Error) => err.message === `${name}: its header row holds a carriage return, so its lines seem to end in CR alone; save the CSV file with LF or CRLF line endings`,
      )
    }
    // CRLF, and a lone CR inside a data cell, read as before.
    writeFileSync(join(dir, 'crlf.csv'), `${HEADER}a,1000,1.5,go\rld,\r\n`.replace('\n', '\r\n'))
    assert.deepEqual((await allRows(await reader.open({ format: 'csv', path: 'crlf.csv' }))).map((r) => r.tier), ['go\rld'])
  })
})
