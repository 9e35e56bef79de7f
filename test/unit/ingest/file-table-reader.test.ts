import assert from 'node:assert/strict'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { createParquetCodec } from '../../../adapters/offline/parquet/parquet-codec.ts'
import { createFileTableReader } from '../../../adapters/tables/file-table-reader.ts'
import type { TableRow, TableSnapshot } from '../../../ports/table-snapshots.ts'
import { declaredTableColumns } from '../../../ingest/row-columns.ts'
import { accountRow } from './fixtures.ts'
import { writeAccountsParquet } from './snapshots.ts'

const dir = mkdtempSync(join(tmpdir(), 'kfs-table-reader-'))
after(() => rmSync(dir, { recursive: true, force: true }))
const parquet = createParquetCodec({ worker: false })
const reader = createFileTableReader({ parquet, columns: declaredTableColumns(accountRow), cwd: dir, batchRows: 2 })

async function allRows(snapshot: TableSnapshot): Promise<TableRow[]> {
  const rows: TableRow[] = []
  for await (const batch of snapshot.rows()) rows.push(...batch)
  return rows
}

void describe('file table reader', () => {
  void it('reads a Parquet file: columns, rows in order, a content id', async () => {
    const rows = [
      { account_id: 'a', updated_at: 1_000, balance: 1.5, tier: 'gold', visits: 3 },
      { account_id: 'b', updated_at: 2_000, balance: 0, tier: null, visits: null },
      { account_id: 'c', updated_at: 3_000, balance: -2, tier: 'x', visits: 1 },
    ]
    await writeAccountsParquet(parquet, join(dir, 'one.parquet'), rows)
    const snapshot = await reader.open({ format: 'parquet', path: 'one.parquet' })
    assert.deepEqual(snapshot.columns, [
      { name: 'account_id', kind: 'string' },
      { name: 'updated_at', kind: 'timestamp' },
      { name: 'balance', kind: 'double' },
      { name: 'tier', kind: 'string' },
      { name: 'visits', kind: 'long' },
    ])
    assert.match(snapshot.id, /^[0-9a-f]{16}$/)
    assert.equal(snapshot.rowCount, 3, 'the row count, from the footer')
    assert.deepEqual(await allRows(snapshot), rows)
    assert.deepEqual(await allRows(snapshot), rows, 'each rows() call reads anew')
    assert.equal((await reader.open({ format: 'parquet', path: join(dir, 'one.parquet') })).id, snapshot.id, 'same bytes, same id')
    await writeAccountsParquet(parquet, join(dir, 'one.parquet'), rows.slice(0, 2))
    assert.notEqual((await reader.open({ format: 'parquet', path: 'one.parquet' })).id, snapshot.id, 'other bytes, other id')
  })

  void it('reads a folder of CSV files in name order, cells typed by the declared row', async () => {
    const folder = join(dir, 'csv')
    mkdirSync(folder)
    const header = 'account_id,updated_at,balance,tier,visits,note\r\n'
    writeFileSync(join(folder, 'b.csv'), `${header}z,2026-11-01T00:00:00Z,2.5,,7,"x, ""y"""\r\n`)
    writeFileSync(join(folder, 'a.csv'), `${header}y,1000,12x,gold,,\r\nw,2000,1,,3,\r\n`)
    writeFileSync(join(folder, 'ignored.txt'), 'not a table')
    const snapshot = await reader.open({ format: 'csv', path: 'elsewhere.csv' }, folder)
    assert.deepEqual(snapshot.columns.map((c) => `${c.name}:${c.kind}`), ['account_id:string', 'updated_at:timestamp', 'balance:double', 'tier:string', 'visits:long', 'note:string'])
    assert.deepEqual(await allRows(snapshot), [
      { account_id: 'y', updated_at: 1000, balance: '12x', tier: 'gold', visits: null, note: null },
      { account_id: 'w', updated_at: 2000, balance: 1, tier: null, visits: 3, note: null },
      { account_id: 'z', updated_at: Date.UTC(2026, 10, 1), balance: 2.5, tier: null, visits: 7, note: 'x, "y"' },
    ])
  })

  void it('fails clearly: no such path, an empty folder, a ragged CSV row, a file that is not Parquet', async () => {
    await assert.rejects(reader.open({ format: 'parquet', path: 'nope.parquet' }), /no table snapshot at .*nope\.parquet/)
    mkdirSync(join(dir, 'empty'))
    await assert.rejects(reader.open({ format: 'csv', path: 'empty' }), /holds no \.csv files/)
    writeFileSync(join(dir, 'ragged.csv'), 'account_id,updated_at\na,1,extra\n')
    await assert.rejects(allRows(await reader.open({ format: 'csv', path: 'ragged.csv' })), /ragged\.csv line 2: 3 fields, the header row has 2/)
    await assert.rejects(reader.open({ format: 'parquet', path: 'ragged.csv' }), /ragged\.csv is not a Parquet file/)
  })
})
