/**
 * `kfs ingest` on the audit corpus of bad CSV snapshots, one case per kind of bad input: the file
 * refused whole with one line naming it (exit 1, nothing appended), or each bad row rejected with
 * its reason while the good rows are appended exactly once (./ingest-corpus.ts checks both).
 */
import assert from 'node:assert/strict'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { runKfsInProcess } from '../../support/in-process-cli.ts'
import { accountsCsv } from '../ingest/corpus-sources.ts'
import { loggedEnvelopes } from './accounts-log.ts'
import { CORPUS_FEATURES, checkIngest, dataDirIn, type Outcome } from './ingest-corpus.ts'

const dir = mkdtempSync(join(tmpdir(), 'kfs-audit-bad-csv-'))
after(() => rmSync(dir, { recursive: true, force: true }))
const H = 'account_id,updated_at,balance,tier,visits\n'
const ok = (key: string, t = 1000): string => `${key},${t},1.5,,\n`
const T = Date.UTC(2024, 0, 1)

const CASES: readonly (readonly [string, string | Buffer, Outcome])[] = [
  // The file as a whole.
  ['an empty file', '', { refused: /an-empty-file\.csv is empty: a CSV snapshot needs a header row$/ }],
  ['a header row only', H, { refused: /nothing to ingest: the snapshot at .* holds no rows; nothing was appended$/ }],
  ['blank lines only after the header', `${H}\n\n\r\n`, { refused: /holds no rows/ }],
  [
    'no header row (the first row is data)',
    'a,1000,1.5,gold,3\nb,1000,1.5,gold,3\n',
    { refused: /column account_id \(string\) is missing; .*nothing was appended/ },
  ],
  [
    'no header row, the first row with empty cells',
    'a,1000,1.5,,\n',
    {
      refused:
        /the header row names the column "" twice \(line 1 names none of the row schema's columns: is it a header row\?\)$/,
    },
  ],
  [
    'a column named twice',
    'account_id,updated_at,balance,tier,visits,tier\na,1000,1.5,,,\n',
    { refused: /the header row names the column "tier" twice$/ },
  ],
  [
    'the event-time column missing',
    'account_id,balance,tier,visits\na,1.5,,\n',
    { refused: /column updated_at \(timestamp\) is missing; nothing was appended/ },
  ],
  [
    'the key column missing',
    'updated_at,balance,tier,visits\n1000,1.5,,\n',
    { refused: /column account_id \(string\) is missing/ },
  ],
  [
    'a header cell with spaces around the name',
    ' account_id,updated_at,balance,tier,visits\na,1000,1.5,,\n',
    { refused: /column account_id \(string\) is missing/ },
  ],
  [
    'a row with too few cells',
    `${H}${ok('a')}b,1000,1.5\n`,
    { refused: /a-row-with-too-few-cells\.csv line 3: 3 fields, the header row has 5$/ },
  ],
  ['a row with too many cells', `${H}${ok('a')}b,1000,1.5,,,x\n`, { refused: /line 3: 6 fields, the header row has 5$/ }],
  ['an unclosed quote', `${H}"a,1000,1.5,,\n`, { refused: /is not valid CSV: line 2: a quoted field is never closed$/ }],
  [
    'a quote inside an unquoted cell',
    `${H}a"b,1000,1.5,,\n`,
    { refused: /is not valid CSV: line 2: a quote inside an unquoted field/ },
  ],
  ['text after a closing quote', `${H}"a"b,1000,1.5,,\n`, { refused: /is not valid CSV: line 2: .*text after a closing quote/ }],
  ['lines ending in CR alone', `${H}${ok('a')}`.replaceAll('\n', '\r'), { refused: /its lines seem to end in CR alone/ }],
  [
    'Latin-1 text',
    Buffer.concat([Buffer.from(H), Buffer.from('caf\xe9,1000,1.5,,\n', 'latin1')]),
    { refused: /is not UTF-8 text \(the first bytes that are not are on line 2\)/ },
  ],
  [
    'UTF-16',
    Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(`${H}a,1000,1.5,,\n`, 'utf16le')]),
    { refused: /is not UTF-8 text/ },
  ],
  // Rows that read: line endings, byte-order mark, quoting.
  [
    'LF, CRLF and a last line without a break, mixed',
    `account_id,updated_at,balance,tier,visits\r\n${ok('a')}b,1000,2,,\r\nc,1000,3,,`,
    { logged: ['a@1000', 'b@1000', 'c@1000'] },
  ],
  ['a UTF-8 byte-order mark', `\uFEFF${H}${ok('a')}`, { logged: ['a@1000'] }],
  ['quoted cells with commas, quotes and line breaks', `${H}"a,1",1000,1.5,"say ""hi""\nthere",\n`, { logged: ['a,1@1000'] }],
  ['a NUL byte in a text cell', `${H}a,1000,1.5,go\0ld,\n`, { logged: ['a@1000'] }],
  [
    'a huge text cell (over what a change record carries) beside a good row',
    `${H}a,1000,1.5,${'x'.repeat(600_000)},\n${ok('b')}`,
    {
      logged: ['b@1000'],
      rejected: ['1:oversize'],
      detail: /the row's values take \d+ bytes, over the 523776 a change record can carry/,
    },
  ],
  ['a text cell just within what a change record carries', `${H}a,1000,1.5,${'é'.repeat(261_000)},\n`, { logged: ['a@1000'] }],
  [
    'a key updated with two rows each just within (the update record carries both)',
    `${H}a,1000,1.5,${'x'.repeat(523_000)},\na,2000,1.5,${'y'.repeat(523_000)},\n`,
    { logged: ['a@1000', 'a@2000'] },
  ],
  // Keys.
  [
    'an empty key',
    `${H},1000,1.5,,\n${ok('b')}`,
    { logged: ['b@1000'], rejected: ['1:missing_key'], detail: /primary-key column account_id is null/ },
  ],
  [
    'a key with a NUL byte',
    `${H}a\0b,1000,1.5,,\n${ok('b')}`,
    { logged: ['b@1000'], rejected: ['1:missing_key'], detail: /is not printable/ },
  ],
  [
    'a key over the key limit',
    `${H}${'k'.repeat(513)},1000,1.5,,\n${ok('b')}`,
    { logged: ['b@1000'], rejected: ['1:missing_key'], detail: /longer than 512 bytes/ },
  ],
  // Event times.
  [
    'event times in every bad form',
    [
      H,
      ...[
        '2024-13-01',
        '2024-02-30',
        '2024-01-01T25:00:00Z',
        '2024-01-01T10:00:00+25:00',
        ' 2024-01-01',
        '1000.5',
        '1e3',
        'true',
        '99999999999999999999',
        'tomorrow',
      ].map((t, i) => `k${i},${t},1,,\n`),
      ok('good'),
    ].join(''),
    {
      logged: ['good@1000'],
      rejected: Array.from({ length: 10 }, (_, i) => `${i + 1}:invalid_event_time`),
      detail: /event-time column updated_at holds text "2024-13-01", not epoch milliseconds/,
    },
  ],
  ['an empty event time', `${H}a,,1.5,,\n${ok('b')}`, { logged: ['b@1000'], rejected: ['1:missing_event_time'] }],
  [
    'event times that read: ISO with and without a zone, a date, epoch ms, -0',
    `${H}a,2024-01-01T00:00:00Z,1,,\nb,2024-01-01 00:00:00,1,,\nc,2024-01-01,1,,\nd,${T},1,,\ne,-0,1,,\n`,
    { logged: ['a@' + T, 'b@' + T, 'c@' + T, 'd@' + T, 'e@0'] },
  ],
  // Numbers and booleans.
  [
    'numbers that are not a double',
    `${H}a,1000,1e400,,\nb,1000,0x10,,\nc,1000, 1 ,,\nd,1000,,,\ne,1000,1_000,,\n${ok('good')}`,
    {
      logged: ['good@1000'],
      rejected: ['1:schema_mismatch', '2:schema_mismatch', '3:schema_mismatch', '4:schema_mismatch', '5:schema_mismatch'],
      detail: /column balance holds text "1e400", not double/,
    },
  ],
  [
    'numbers that are not a long',
    `${H}a,1000,1,,1e3\nb,1000,1,,1.0\nc,1000,1,,99999999999999999999\nd,1000,1,,0x10\n${ok('good')}`,
    { logged: ['good@1000'], rejected: ['1:schema_mismatch', '2:schema_mismatch', '3:schema_mismatch', '4:schema_mismatch'] },
  ],
  [
    'NaN, Infinity and -0 doubles, and a -0 long',
    `${H}a,1000,NaN,,\nb,1000,-Infinity,,\nc,1000,-0,,-0\n`,
    { logged: ['a@1000', 'b@1000', 'c@1000'] },
  ],
  ['a row repeated with -0 for 0 is the same row', `${H}a,1000,1,,0\na,1000,1,,-0\n`, { logged: ['a@1000'] }],
  // Repeats within the snapshot.
  [
    'a key repeated: same time and values, other values, another time',
    `${H}${ok('a')}${ok('a')}a,1000,9,,\na,2000,1,,\n`,
    { logged: ['a@1000', 'a@2000'], rejected: ['3:duplicate'] },
  ],
]

void describe('kfs ingest: every kind of bad CSV input', () => {
  for (const [what, text, want] of CASES) {
    void it(what, async () => {
      const file = join(dir, `${what.replace(/\W+/g, '-')}.csv`)
      writeFileSync(file, text)
      await checkIngest('accounts_csv', file, dataDirIn(dir, what), want, what)
    })
  }

  void it('a folder of files: each rejected row named by its file and line (not only its number across the files)', async () => {
    const folder = join(dir, 'folder')
    mkdirSync(folder)
    writeFileSync(join(folder, 'part-1.csv'), `${H}${ok('a')}"b","1000","1.5","two\nlines",\n,1000,1,,\n`)
    writeFileSync(join(folder, 'part-2.csv'), `${H}\n${ok('c')},2000,1,,\nd,later,1,,\n`)
    const want: Outcome = {
      logged: ['a@1000', 'b@1000', 'c@1000'],
      rejected: ['3:missing_key', '5:missing_key', '6:invalid_event_time'],
      at: ['part-1.csv line 5', 'part-2.csv line 4', 'part-2.csv line 5'],
    }
    await checkIngest('accounts_csv', folder, dataDirIn(dir, 'folder'), want, 'a folder')
    const text = await runKfsInProcess(
      ['ingest', '--source', 'accounts_csv', '--snapshot', folder, ...CORPUS_FEATURES],
      dataDirIn(dir, 'folder-text'),
    )
    assert.match(text.stdout, /\n    row 3 \(part-1\.csv line 5\): missing_key: primary-key column account_id is null\n/)
  })

  void it('an empty text is not a null: a quoted empty cell ("") of a text column is the empty string, an empty cell null — as Postgres, DuckDB and Spark write them', async () => {
    // The other kinds have no empty value: a quoted empty cell there is null too (Python's QUOTE_ALL writes None so).
    const file = join(dir, 'empty-text.csv')
    writeFileSync(file, `${H}a,1000,1.5,"",""\nb,1000,1.5,,\n"c","1000","1.5","x","3"\n`)
    const dataDir = dataDirIn(dir, 'empty-text')
    await checkIngest('accounts_csv', file, dataDir, { logged: ['a@1000', 'b@1000', 'c@1000'] }, 'empty text')
    const after = new Map((await loggedEnvelopes(dataDir, accountsCsv)).map(({ key, envelope }) => [key, envelope.after]))
    assert.deepEqual(
      ['a', 'b', 'c'].map((k) => [after.get(k)!['tier'], after.get(k)!['visits']]),
      [
        ['', null],
        [null, null],
        ['x', 3],
      ],
    )
  })
})
