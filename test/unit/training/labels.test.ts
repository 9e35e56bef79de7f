import assert from 'node:assert/strict'
import { writeFile, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, test } from 'node:test'
import { FeatureStoreError } from '../../../core/errors.ts'
import { encodeParquetColumns } from '../../../adapters/offline/parquet/index.ts'
import { createDuckDbLabelReader } from '../../../adapters/duckdb/duckdb-label-reader.ts'
import { parseCsv } from '../../../core/csv-parse.ts'
import { labelTimeMs, readLabels } from '../../../training/index.ts'

const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s)
const reader = await createDuckDbLabelReader()
const dir = await mkdtemp(join(tmpdir(), 'kfs-labels-test-'))
after(async () => {
  await reader.close()
  await rm(dir, { recursive: true, force: true })
})
const csv = (text: string, options = {}) => readLabels(reader, { format: 'csv', bytes: utf8(text) }, options)

void describe('training set > labels', () => {
  void test('CSV: quoted fields, escaped quotes, commas and newlines inside quotes, CRLF', () => {
    // The parser label files share with table snapshots (test/unit/training/csv-labels-lines.test.ts).
    assert.deepEqual(
      [...parseCsv('a,b\r\n"x, ""y""",2\n"multi\nline",\n')].map((r) => r.cells),
      [
        ['a', 'b'],
        ['x, "y"', '2'],
        ['multi\nline', ''],
      ],
    )
  })

  void test('CSV: types are inferred per column; join-key columns stay strings; empty is null', async () => {
    const t = await csv('user_id,n,x,flag,name\n007,1,1.5,true,a\n8,,2,false,\n', { stringColumns: ['user_id'] })
    assert.deepEqual(
      t.columns.map((c) => [c.name, c.type]),
      [['user_id', 'string'], ['n', 'long'], ['x', 'double'], ['flag', 'boolean'], ['name', 'string']],
    )
    assert.deepEqual(t.values, [['007', '8'], [1, null], [1.5, 2], [true, false], ['a', null]])
    assert.equal(t.rowCount, 2)
    assert.match(t.sha256, /^[0-9a-f]{64}$/)
  })

  void test('CSV: a row with the wrong number of fields is an error naming its line', async () => {
    await assert.rejects(
      csv('a,b\n1,2\n3\n'),
      (err: unknown) => err instanceof FeatureStoreError && /CSV line 3 has 1 fields/.test(err.message),
    )
  })

  void test('Parquet: column types come from the file (booleans and timestamps included)', async () => {
    const file = await encodeParquetColumns(
      [
        { name: 'user_id', type: 'string', fieldId: 1, required: true },
        { name: 'ts', type: 'timestamptz', fieldId: 2, required: true },
        { name: 'ok', type: 'boolean', fieldId: 3, required: false },
      ],
      [['u1', 'u2'], [1_700_000_000_123, 5], [true, null]],
    )
    const path = join(dir, 'l.parquet')
    await writeFile(path, file.bytes)
    const t = await readLabels(reader, { format: 'parquet', bytes: file.bytes, path })
    assert.deepEqual(
      t.columns.map((c) => [c.name, c.type]),
      [['user_id', 'string'], ['ts', 'timestamp'], ['ok', 'boolean']],
    )
    assert.deepEqual(t.values, [['u1', 'u2'], [1_700_000_000_123, 5], [true, null]])
  })

  void test('label time: epoch ms, digits, ISO with a zone, ISO without a zone read as UTC', () => {
    assert.equal(labelTimeMs(1_700_000_000_000, 0, 'ts'), 1_700_000_000_000)
    assert.equal(labelTimeMs('1700000000000', 0, 'ts'), 1_700_000_000_000)
    assert.equal(labelTimeMs('2024-01-02T03:04:05.006Z', 0, 'ts'), Date.UTC(2024, 0, 2, 3, 4, 5, 6))
    assert.equal(labelTimeMs('2024-01-02T03:04:05+02:00', 0, 'ts'), Date.UTC(2024, 0, 2, 1, 4, 5))
    assert.equal(labelTimeMs('2024-01-02T03:04:05', 0, 'ts'), Date.UTC(2024, 0, 2, 3, 4, 5))
    assert.equal(labelTimeMs('2024-01-02', 0, 'ts'), Date.UTC(2024, 0, 2))
    for (const bad of ['yesterday', null, '']) {
      assert.throws(() => labelTimeMs(bad, 4, 'ts'), (err: unknown) => err instanceof FeatureStoreError && /row 5/.test(err.message))
    }
  })
})
