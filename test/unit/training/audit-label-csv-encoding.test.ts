/**
 * CSV label files that are not UTF-8 text. `kfs training-set` decoded them with a fatal
 * TextDecoder and let its bare TypeError out: "unexpected error" and a stack trace, no file or
 * line named. Now they are refused as table snapshots are (one rule, core/csv-parse.ts's
 * csvUtf8Text): exit 1, one line naming the line that holds the first such bytes. The line is
 * found per line, so a real U+FFFD earlier in the file no longer points the snapshot reader's
 * message at the wrong line.
 */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import * as examples from '../../../examples/features.ts'
import { LocalObjectStore } from '../../../adapters/object-store/index.ts'
import { csvUtf8Text } from '../../../core/csv-parse.ts'
import { runKfsInProcess } from '../../support/in-process-cli.ts'
import { generateRows, registryWithViews, writeRows } from './fixtures.ts'

const dir = mkdtempSync(join(tmpdir(), 'kfs-label-encoding-'))
after(() => rmSync(dir, { recursive: true, force: true }))
const dataDir = join(dir, 'data')
const HEADER = 'user_id,ts\n'
const ROW = 'u1,2026-11-01T00:00:00Z\n'

/** Bytes that are not UTF-8, and the line holding the first of them. */
const NOT_UTF8: readonly (readonly [string, Buffer, number])[] = [
  ['a Latin-1 key', Buffer.concat([Buffer.from(HEADER), Buffer.from('caf\xe9,2026-11-01T00:00:00Z\n', 'latin1')]), 2],
  ['UTF-16 with its byte-order mark', Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(`${HEADER}${ROW}`, 'utf16le')]), 1],
  [
    'a lone continuation byte three rows down',
    Buffer.concat([Buffer.from(`${HEADER}${ROW}${ROW}u`), Buffer.from([0x80]), Buffer.from(',2026-11-01T00:00:00Z\n')]),
    4,
  ],
  [
    'a multi-byte character cut off at the end',
    Buffer.concat([Buffer.from(`${HEADER}u1,2026-11-01T00:00:00Z\nu`), Buffer.from([0xe2, 0x82])]),
    3,
  ],
  [
    'an overlong encoding of /',
    Buffer.concat([Buffer.from(`${HEADER}u`), Buffer.from([0xc0, 0xaf]), Buffer.from(',2026-11-01T00:00:00Z\n')]),
    2,
  ],
  [
    'an encoded surrogate',
    Buffer.concat([Buffer.from(`${HEADER}u`), Buffer.from([0xed, 0xa0, 0x80]), Buffer.from(',2026-11-01T00:00:00Z\n')]),
    2,
  ],
  [
    'a real U+FFFD on line 2, a Latin-1 byte on line 3',
    Buffer.concat([
      Buffer.from(`${HEADER}u\ufffd,2026-11-01T00:00:00Z\nu`),
      Buffer.from([0xe9]),
      Buffer.from(',2026-11-01T00:00:00Z\n'),
    ]),
    3,
  ],
  [
    'CRLF lines, a Latin-1 byte on line 2',
    Buffer.concat([Buffer.from('user_id,ts\r\ncaf'), Buffer.from([0xe9]), Buffer.from(',2026-11-01T00:00:00Z\r\n')]),
    2,
  ],
]

before(async () => {
  const store = new LocalObjectStore(join(dataDir, 'objects'))
  await writeRows(store, examples.userClicks, generateRows(examples.userClicks, 50, 2))
  await registryWithViews(store, [examples.userClicks])
})

void describe('csvUtf8Text: the line of the first bytes that are not UTF-8', () => {
  for (const [what, bytes, line] of NOT_UTF8) {
    void test(what, () => {
      assert.deepEqual(csvUtf8Text(bytes), { text: undefined, badLine: line })
    })
  }
  void test('UTF-8 (with a byte-order mark, a U+FFFD, an astral character) is its text', () => {
    const text = `\ufeff${HEADER}caf\u00e9,1\nu\ufffd,2\nu\u{1f600},3`
    assert.deepEqual(csvUtf8Text(Buffer.from(text)), { text })
    assert.deepEqual(csvUtf8Text(new Uint8Array(0)), { text: '' })
  })
})

void describe('kfs training-set: a CSV label file that is not UTF-8', () => {
  for (const [what, bytes, line] of NOT_UTF8) {
    void test(`${what}: exit 1, one line naming line ${line}`, async () => {
      const labels = join(dir, `${what.replaceAll(/\W+/g, '-')}.csv`)
      writeFileSync(labels, bytes)
      const r = await runKfsInProcess(
        [
          'training-set',
          '--labels',
          labels,
          '--feature-refs',
          'user_clicks:count_1h',
          '--out',
          join(dir, 'out.parquet'),
          '--json',
        ],
        dataDir,
      )
      assert.equal(r.code, 1, r.stderr)
      assert.doesNotMatch(r.stderr, /unexpected error|\n\s+at /, r.stderr)
      assert.equal(
        r.stderr,
        `kfs training-set: the CSV label file is not UTF-8 text (the first bytes that are not are on line ${line}): save it as UTF-8\n`,
      )
      const error = (JSON.parse(r.stdout) as { error: { code: string; context: { line: number } } }).error
      assert.deepEqual([error.code, error.context.line], ['BAD_REQUEST', line])
    })
  }

  void test('the same rows in UTF-8 build', async () => {
    const labels = join(dir, 'utf8.csv')
    writeFileSync(labels, `${HEADER}caf\u00e9,2026-11-01T00:00:00Z\n`)
    const r = await runKfsInProcess(
      ['training-set', '--labels', labels, '--feature-refs', 'user_clicks:count_1h', '--out', join(dir, 'ok.parquet')],
      dataDir,
    )
    assert.equal(r.code, 0, r.stderr)
  })
})
