/**
 * Snapshot folders the audit corpus builds: files reached by symbolic links, a partitioned export
 * (`date=…/part.csv`) and a link to nothing. A file of the snapshot is read or the folder is
 * refused naming it — never skipped without a word (a symlinked file was not read; files in
 * subfolders were left out while the ones beside them were ingested).
 */
import assert from 'node:assert/strict'
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { createParquetCodec } from '../../../adapters/offline/parquet/parquet-codec.ts'
import { createFileTableReader } from '../../../adapters/tables/file-table-reader.ts'
import { declaredTableColumns } from '../../../ingest/row-columns.ts'
import type { TableRow, TableSnapshot } from '../../../ports/table-snapshots.ts'
import { accountRow } from './fixtures.ts'

const dir = mkdtempSync(join(tmpdir(), 'kfs-audit-folders-'))
after(() => rmSync(dir, { recursive: true, force: true }))
const reader = createFileTableReader({ parquet: createParquetCodec({ worker: false }), columns: declaredTableColumns(accountRow), cwd: dir })
const csv = (...ids: string[]): string => `account_id,updated_at,balance,tier,visits\n${ids.map((id) => `${id},1000,1.5,,`).join('\n')}\n`

async function ids(path: string): Promise<unknown[]> {
  const snapshot: TableSnapshot = await reader.open({ format: 'csv', path })
  const rows: TableRow[] = []
  for await (const batch of snapshot.rows()) rows.push(...batch)
  return rows.map((r) => r.account_id)
}

/** A folder under `dir` holding `files` (path → text; a `->` value makes a symbolic link to that path). */
function folder(name: string, files: Record<string, string>): string {
  for (const [path, content] of Object.entries(files)) {
    mkdirSync(join(dir, name, path, '..'), { recursive: true })
    if (content.startsWith('->')) symlinkSync(content.slice(2), join(dir, name, path))
    else writeFileSync(join(dir, name, path), content)
  }
  return name
}

void describe('snapshot folders: every file is read, or the folder refused naming it', () => {
  void it('a file reached by a symbolic link is read like the others, in name order', async () => {
    writeFileSync(join(dir, 'elsewhere.csv'), csv('b'))
    const f = folder('linked', { 'a.csv': csv('a'), 'b.csv': `->${join(dir, 'elsewhere.csv')}`, 'c.csv': csv('c') })
    assert.deepEqual(await ids(f), ['a', 'b', 'c'])
  })

  void it('a link to nothing named like a snapshot file is refused, naming it', async () => {
    const f = folder('dangling', { 'a.csv': csv('a'), 'b.csv': `->${join(dir, 'no-such.csv')}` })
    await assert.rejects(ids(f), /dangling\/b\.csv is a link to nothing/)
  })

  void it('files in subfolders (a partitioned export) are refused whole, naming the first, with or without files beside them', async () => {
    const mixed = folder('partitioned', { 'a.csv': csv('a'), 'date=2026-11-01/part-0.csv': csv('x') })
    await assert.rejects(ids(mixed), /has \.csv files in a subfolder \(date=2026-11-01\/part-0\.csv\)/)
    const only = folder('only-partitions', { 'date=2026-11-02/deeper/part-0.csv': csv('y') })
    await assert.rejects(ids(only), /has \.csv files in a subfolder \(date=2026-11-02\/deeper\/part-0\.csv\)/)
  })

  void it('files named with a leading _ or . (markers, checksums, macOS ._ copies) are not table files, as Spark reads the folder', async () => {
    const f = folder('spark-export', {
      'part-0.csv': csv('a'),
      'part-1.csv': csv('b'),
      '._part-0.csv': 'AppleDouble bytes, not a table',
      '.part-0.csv.crc': 'crc',
      '_SUCCESS': '',
      '_logs/history.txt': 'job history, no table files',
    })
    assert.deepEqual(await ids(f), ['a', 'b'])
    // A hidden file named on its own is what was asked for: read.
    folder('named-hidden', { '_only.csv': csv('h') })
    assert.deepEqual(await ids(join('named-hidden', '_only.csv')), ['h'])
  })

  void it('table files in a hidden folder (a job\'s _temporary or .spark-staging area) refuse the folder as unfinished, naming the file', async () => {
    const failed = folder('failed-job', { 'part-0.csv': csv('a'), '_temporary/0/task/part-2.csv': csv('uncommitted') })
    await assert.rejects(ids(failed), /has \.csv files in _temporary\/0\/task\/part-2\.csv: a job writing it has not finished or failed/)
    const staging = folder('staging', { 'part-0.csv': csv('a'), '.spark-staging-7/part-1.csv': csv('b') })
    await assert.rejects(ids(staging), /has \.csv files in \.spark-staging-7\/part-1\.csv: a job writing it/)
  })

  void it('subfolders without snapshot files, and files of other kinds, change nothing', async () => {
    const f = folder('other-things', { 'a.csv': csv('a'), 'notes/readme.txt': 'x', 'b.parquet': 'not read for a csv table', _SUCCESS: '' })
    assert.deepEqual(await ids(f), ['a'])
  })
})
