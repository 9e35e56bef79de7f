/**
 * Label files named *.parquet whose bytes are not (readable) Parquet: empty, text, the magic
 * alone, garbage between two magics, a real file cut short, a damaged footer. Each is the user's
 * input, so `kfs training-set` exits 1 with one line naming the file and what the reader said
 * (BAD_REQUEST under --json) — it used to be an "unexpected error" (INTERNAL), reported as a bug.
 * The port's every read method refuses such a file the same way.
 */
import { DuckDBInstance } from '@duckdb/node-api'
import assert from 'node:assert/strict'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import * as examples from '../../../examples/features.ts'
import { LocalObjectStore } from '../../../adapters/object-store/index.ts'
import { createDuckDbLabelReader } from '../../../adapters/duckdb/duckdb-label-reader.ts'
import { FeatureStoreError } from '../../../core/errors.ts'
import { runKfsInProcess } from '../../support/in-process-cli.ts'
import { generateRows, registryWithViews, writeRows } from './fixtures.ts'

const dir = mkdtempSync(join(tmpdir(), 'kfs-bad-label-files-'))
after(() => rmSync(dir, { recursive: true, force: true }))
const dataDir = join(dir, 'data')
const good = join(dir, 'good.parquet')

/** The bytes of each unreadable label file, from the good one's. */
const UNREADABLE: readonly [string, (good: Buffer) => Buffer][] = [
  ['empty', () => Buffer.alloc(0)],
  ['CSV text', () => Buffer.from('user_id,ts\nu1,2026-11-01T00:00:00Z\n')],
  ['the magic alone', () => Buffer.from('PAR1')],
  ['garbage between two magics', () => Buffer.from('PAR1garbage-garbage-garbagePAR1')],
  ['cut in half', (g) => g.subarray(0, g.length >> 1)],
  ['the last byte cut', (g) => g.subarray(0, g.length - 1)],
  [
    'a footer length past the file',
    (g) => Buffer.concat([g.subarray(0, g.length - 8), Buffer.from([0xff, 0xff, 0xff, 0x7f]), Buffer.from('PAR1')]),
  ],
  ['the first byte of the footer flipped', (g) => flip(g, g.length - 8 - g.readUInt32LE(g.length - 8))],
]

function flip(bytes: Buffer, at: number): Buffer {
  const out = Buffer.from(bytes)
  out[at]! ^= 0xff
  return out
}

before(async () => {
  const store = new LocalObjectStore(join(dataDir, 'objects'))
  await writeRows(store, examples.userClicks, generateRows(examples.userClicks, 50, 2))
  await registryWithViews(store, [examples.userClicks])
  const instance = await DuckDBInstance.create(':memory:')
  const connection = await instance.connect()
  await connection.run(
    `COPY (SELECT 'u' || (i % 5) AS user_id, TIMESTAMPTZ '2026-11-01 00:00:00+00' + i * INTERVAL 1 minute AS ts FROM range(50) t(i)) TO '${good}' (FORMAT parquet)`,
  )
  connection.closeSync()
  instance.closeSync()
})

void describe('kfs training-set: a .parquet label file that is not readable Parquet', () => {
  void test('the good file builds (the table below differs from it only in its bytes)', async () => {
    const r = await runKfsInProcess(
      ['training-set', '--labels', good, '--feature-refs', 'user_clicks:count_1h', '--out', join(dir, 'ok.parquet')],
      dataDir,
    )
    assert.equal(r.code, 0, r.stderr)
  })

  for (const [what, bytes] of UNREADABLE) {
    void test(`${what}: exit 1, one line naming the file, BAD_REQUEST with --json`, async () => {
      const file = join(dir, `${what.replaceAll(' ', '-')}.parquet`)
      writeFileSync(file, bytes(readFileSync(good)))
      const r = await runKfsInProcess(
        ['training-set', '--labels', file, '--feature-refs', 'user_clicks:count_1h', '--out', join(dir, 'out.parquet'), '--json'],
        dataDir,
      )
      assert.equal(r.code, 1, r.stderr)
      assert.doesNotMatch(r.stderr, /unexpected error|\n\s+at /, r.stderr)
      assert.equal(r.stderr.trimEnd().split('\n').length, 1, r.stderr)
      assert.match(
        r.stderr,
        new RegExp(`^kfs training-set: label file ${file.replaceAll('/', '\\/')} cannot be read as Parquet \\(.+\\)\n$`),
      )
      const error = (JSON.parse(r.stdout) as { error: { code: string; context: { path: string } } }).error
      assert.equal(error.code, 'BAD_REQUEST')
      assert.equal(error.context.path, file)
    })
  }
})

void describe('LabelReader (DuckDB): every read of an unreadable file is BAD_REQUEST naming it', () => {
  const calls: readonly [
    string,
    (reader: Awaited<ReturnType<typeof createDuckDbLabelReader>>, path: string) => Promise<unknown>,
  ][] = [
    ['describe', (r, p) => r.describe(p)],
    ['read', (r, p) => r.read(p, ['ts'])],
    ['firstTimeOutside', (r, p) => r.firstTimeOutside(p, 'ts', { minMs: 0, maxMs: 1 })],
    ['firstBadKeyPart', (r, p) => r.firstBadKeyPart(p, 'user_id', { maxBytes: 512 })],
  ]
  for (const [method, call] of calls) {
    void test(method, async () => {
      const reader = await createDuckDbLabelReader()
      try {
        for (const [what, bytes] of UNREADABLE) {
          const file = join(dir, `port-${what.replaceAll(' ', '-')}.parquet`)
          writeFileSync(file, bytes(readFileSync(good)))
          await assert.rejects(call(reader, file), (err: unknown) => {
            assert.ok(err instanceof FeatureStoreError, `${what}: ${String(err)}`)
            assert.equal(err.code, 'BAD_REQUEST')
            assert.match(err.message, /^label file .+ cannot be read as Parquet \(.+\)$/)
            return true
          })
        }
        // The reader still reads a good file after refusing bad ones.
        assert.equal((await reader.describe(good)).rowCount, 50)
      } finally {
        await reader.close()
      }
    })
  }
})
