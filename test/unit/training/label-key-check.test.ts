/**
 * String entity keys the engine reads in place (Parquet labels with single string keys) are
 * checked by the label reader in SQL (`firstBadKeyPart`), not decoded into JS; it must find
 * exactly the rows core/entity-key.ts's rule refuses — over MAX_ENTITY_KEY_BYTES UTF-8 bytes, or a
 * control character — and pass every key serving accepts. Also with a column named like DuckDB's
 * row number (scanned in JS).
 */
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, test } from 'node:test'
import { DuckDBInstance } from '@duckdb/node-api'
import { createDuckDbLabelReader } from '../../../adapters/duckdb/duckdb-label-reader.ts'
import { invalidKeyPartReason, MAX_ENTITY_KEY_BYTES } from '../../../core/entity-key.ts'

const dir = await mkdtemp(join(tmpdir(), 'kfs-label-key-check-'))
const duck = await (await DuckDBInstance.create(':memory:')).connect()
const reader = await createDuckDbLabelReader()
after(async () => {
  await reader.close()
  await rm(dir, { recursive: true, force: true })
})
const LIMITS = { maxBytes: MAX_ENTITY_KEY_BYTES }

let files = 0
/** A Parquet label file of `keys` (column user_id, nulls kept), optionally with a file_row_number column. */
async function labelFile(keys: readonly (string | null)[], shadowed = false): Promise<string> {
  const path = join(dir, `labels-${files++}.parquet`)
  const table = `t${files}`
  await duck.run(`CREATE TABLE ${table} (user_id VARCHAR, n INTEGER${shadowed ? ', file_row_number INTEGER' : ''})`)
  const appender = await duck.createAppender(table)
  keys.forEach((k, i) => {
    if (k === null) appender.appendNull()
    else appender.appendVarchar(k)
    appender.appendInteger(i)
    if (shadowed) appender.appendInteger(7)
    appender.endRow()
  })
  appender.closeSync()
  await duck.run(`COPY ${table} TO '${path}' (FORMAT parquet)`)
  return path
}

const GOOD = [
  'u1',
  '',
  'a'.repeat(MAX_ENTITY_KEY_BYTES),
  'ü'.repeat(MAX_ENTITY_KEY_BYTES / 2),
  '😀'.repeat(MAX_ENTITY_KEY_BYTES / 4),
  ' lead',
  'a"b,c',
  '\u00a0',
  '\u0080 (a C1 control: printable to the rule)',
]
const BAD = [
  'a'.repeat(MAX_ENTITY_KEY_BYTES + 1),
  'ü'.repeat(MAX_ENTITY_KEY_BYTES / 2 + 1),
  '😀'.repeat(MAX_ENTITY_KEY_BYTES / 4) + 'a',
  'a\u0000b',
  'a\tb',
  '\n',
  '\u001f',
  'x\u007f',
]

void describe('training set > string entity keys checked by the engine', () => {
  for (const shadowed of [false, true]) {
    const how = shadowed ? ' (a file_row_number column: scanned in JS)' : ''
    void test(`every key the rule accepts passes, nulls included${how}`, async () => {
      for (const k of GOOD)
        assert.equal(invalidKeyPartReason(k) === undefined || k === '', true, `the rule refuses ${JSON.stringify(k)}`)
      assert.equal(await reader.firstBadKeyPart(await labelFile([...GOOD, null], shadowed), 'user_id', LIMITS), undefined)
    })
    for (const [i, bad] of BAD.entries()) {
      void test(`bad key ${i + 1}, ${invalidKeyPartReason(bad)} (${bad.length} chars), is found at its row${how}`, async () => {
        const path = await labelFile([...GOOD, null, bad, 'a'.repeat(MAX_ENTITY_KEY_BYTES + 5)], shadowed)
        assert.deepEqual(await reader.firstBadKeyPart(path, 'user_id', LIMITS), { row: GOOD.length + 1, value: bad })
      })
    }
  }

  void test('a column that is not a string, or not there, is refused', async () => {
    const path = await labelFile(['u1'])
    await assert.rejects(reader.firstBadKeyPart(path, 'n', LIMITS), RangeError)
    await assert.rejects(reader.firstBadKeyPart(path, 'nope', LIMITS), RangeError)
  })
})
