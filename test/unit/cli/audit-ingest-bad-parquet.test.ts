/**
 * `kfs ingest` on the audit corpus of bad Parquet snapshots, one case per kind of bad input (files
 * written by DuckDB, as a user's export is, and by kfs's own codec): the file refused with one
 * line naming it or its column (exit 1, nothing appended), or each bad row rejected with its
 * reason while the good rows are appended exactly once (./ingest-corpus.ts checks both).
 * INT96 timestamps, which neither writer at hand writes, come from a file written by hand
 * (../ingest/int96-parquet.ts). DATE columns are read (midnight UTC).
 */
import { DuckDBInstance } from '@duckdb/node-api'
import assert from 'node:assert/strict'
import { mkdirSync, mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { createParquetCodec } from '../../../adapters/offline/parquet/parquet-codec.ts'
import { docs } from '../ingest/corpus-sources.ts'
import { type HandColumn, writeHandParquet } from '../ingest/int96-parquet.ts'
import { loggedEnvelopes } from './accounts-log.ts'
import { checkIngest, dataDirIn, type Outcome } from './ingest-corpus.ts'

const dir = mkdtempSync(join(tmpdir(), 'kfs-audit-bad-parquet-'))
const duck = await (await DuckDBInstance.create(':memory:')).connect()
after(() => {
  duck.closeSync()
  rmSync(dir, { recursive: true, force: true })
})
const T = Date.UTC(2026, 0, 1)

/** One row's SELECT list: the accounts columns, some replaced. */
const row = (over: Record<string, string> = {}): string =>
  Object.entries({
    account_id: "'a'",
    updated_at: "TIMESTAMPTZ '2026-01-01 00:00:00+00'",
    balance: '1.5::DOUBLE',
    tier: 'NULL::VARCHAR',
    visits: '3::BIGINT',
    ...over,
  })
    .map(([name, value]) => `${value} AS ${name}`)
    .join(', ')
/** Rows' SELECTs as one query (the first row's types are the file's). */
const rows = (...selects: string[]): string => selects.map((s) => `SELECT ${s}`).join(' UNION ALL ')
const good = row({ account_id: "'good'" })

const CASES: readonly (readonly [string, string, Outcome])[] = [
  // Columns of another type than declared: the file refused, naming the column, before anything is appended.
  ['a text event time', row({ updated_at: "'2026-01-01'" }), { refused: /column updated_at is string, declared timestamp/ }],
  ['a DECIMAL double', row({ balance: '1.5::DECIMAL(10,2)' }), { refused: /column balance is other, declared double/ }],
  ['a boolean double', row({ balance: 'true' }), { refused: /column balance is boolean, declared double/ }],
  ['an integer key', row({ account_id: '5::INTEGER' }), { refused: /column account_id is long, declared string/ }],
  ['a BLOB key', row({ account_id: "'a'::BLOB" }), { refused: /column account_id is other, declared string/ }],
  [
    'a UUID key',
    row({ account_id: "'00000000-0000-0000-0000-000000000001'::UUID" }),
    { refused: /column account_id is other, declared string/ },
  ],
  ['a HUGEINT long', row({ visits: '1::HUGEINT' }), { refused: /column visits is double, declared long/ }],
  ['a list column', row({ tier: "['x']" }), { refused: /column tier is other, declared string/ }],
  ['a struct column', row({ tier: "{'x': 1}" }), { refused: /column tier is other, declared string/ }],
  ['a map column', row({ tier: "MAP {'k': 1}" }), { refused: /column tier is other, declared string/ }],
  [
    'the key column missing',
    "TIMESTAMPTZ '2026-01-01 00:00:00+00' AS updated_at, 1.5 AS balance",
    { refused: /column account_id \(string\) is missing/ },
  ],
  // Columns of types that read.
  [
    'timestamps without a time zone (read as UTC), in seconds and in nanoseconds',
    rows(row({ account_id: "'a'", updated_at: "TIMESTAMP '2026-01-01 00:00:00'" })),
    { logged: [`a@${T}`] },
  ],
  [
    'a TIMESTAMP_NS event time',
    row({ updated_at: "TIMESTAMP_NS '2026-01-01 00:00:00.123456789'" }),
    { logged: [`a@${T + 123}`] },
  ],
  ['a TIMESTAMP_S event time', row({ updated_at: "TIMESTAMP_S '2026-01-01 00:00:00'" }), { logged: [`a@${T}`] }],
  // Parquet DATE (INT32 days since the epoch): its midnight UTC, as a CSV or Iceberg date reads.
  [
    'DATE event times (midnight UTC; before 1970 too), a null one rejected',
    rows(
      row({ account_id: "'a'", updated_at: "DATE '2026-01-01'" }),
      row({ account_id: "'b'", updated_at: "DATE '1969-12-31'" }),
      row({ account_id: "'c'", updated_at: 'NULL::DATE' }),
    ),
    { logged: [`a@${T}`, `b@${-86_400_000}`], rejected: ['3:missing_event_time'] },
  ],
  [
    'a FLOAT double, an INTEGER long, an ENUM text',
    row({ balance: '1.5::FLOAT', visits: '3::INTEGER', tier: "'x'::ENUM('x','y')" }),
    { logged: [`a@${T}`] },
  ],
  [
    'NaN and infinite doubles',
    rows(
      row({ account_id: "'a'", balance: "'NaN'::DOUBLE" }),
      row({ account_id: "'b'", balance: "'Infinity'::DOUBLE" }),
      row({ account_id: "'c'", balance: "'-Infinity'::DOUBLE" }),
    ),
    { logged: [`a@${T}`, `b@${T}`, `c@${T}`] },
  ],
  // Bad rows.
  [
    'a null key',
    rows(row({ account_id: 'NULL::VARCHAR' }), good),
    { logged: [`good@${T}`], rejected: ['1:missing_key'], detail: /primary-key column account_id is null/ },
  ],
  [
    'an empty key',
    rows(row({ account_id: "''" }), good),
    { logged: [`good@${T}`], rejected: ['1:missing_key'], detail: /is empty/ },
  ],
  [
    'a null event time',
    rows(row({ updated_at: 'NULL::TIMESTAMPTZ' }), good),
    { logged: [`good@${T}`], rejected: ['1:missing_event_time'] },
  ],
  [
    'a long beyond a signed 64-bit long (UBIGINT)',
    rows(row({ visits: '18446744073709551615::UBIGINT' }), row({ account_id: "'good'", visits: '3::UBIGINT' })),
    { logged: [`good@${T}`], rejected: ['1:schema_mismatch'], detail: /column visits holds bigint 18446744073709551615/ },
  ],
  [
    'a huge string (over what a change record carries)',
    rows(row({ tier: "repeat('x', 2000000)" }), good),
    { logged: [`good@${T}`], rejected: ['1:oversize'] },
  ],
  [
    'a key repeated: same time and values, other values, another time',
    rows(row(), row(), row({ balance: '9::DOUBLE' }), row({ updated_at: "TIMESTAMPTZ '2026-01-02 00:00:00+00'" })),
    { logged: [`a@${T}`, `a@${T + 86_400_000}`], rejected: ['3:duplicate'] },
  ],
]

void describe('kfs ingest: every kind of bad Parquet input', () => {
  for (const [what, select, want] of CASES) {
    void it(what, async () => {
      const file = join(dir, `${what.replace(/\W+/g, '-')}.parquet`)
      await duck.run(`COPY (${select.startsWith('SELECT ') ? select : `SELECT ${select}`}) TO '${file}' (FORMAT parquet)`)
      await checkIngest('accounts', file, dataDirIn(dir, what), want, what)
    })
  }

  void describe('files that are not Parquet, or hold no rows', () => {
    let bytes: Buffer
    before(async () => {
      await duck.run(`COPY (SELECT ${row()}) TO '${join(dir, 'one.parquet')}' (FORMAT parquet)`)
      bytes = readFileSync(join(dir, 'one.parquet'))
    })
    const files: readonly (readonly [string, () => Buffer | string, RegExp])[] = [
      ['an empty file', () => Buffer.alloc(0), /an-empty-file\.parquet is not a Parquet file \(/],
      ['text', () => 'account_id,updated_at\na,1000\n', /text\.parquet is not a Parquet file \(/],
      [
        'a file cut short (no footer)',
        () => bytes.subarray(0, bytes.length - 10),
        /a-file-cut-short-no-footer-\.parquet is not a Parquet file \(/,
      ],
      ['the magic bytes alone', () => Buffer.from('PAR1PAR1'), /is not a Parquet file \(/],
    ]
    for (const [what, content, refused] of files) {
      void it(what, async () => {
        const file = join(dir, `${what.replace(/\W+/g, '-')}.parquet`)
        writeFileSync(file, content())
        await checkIngest('accounts', file, dataDirIn(dir, what), { refused }, what)
      })
    }
    void it('a file over 2 GiB (sparse: nothing is written or read)', async () => {
      const file = join(dir, 'huge.parquet')
      writeFileSync(file, '')
      truncateSync(file, 3 * 2 ** 30)
      await checkIngest(
        'accounts',
        file,
        dataDirIn(dir, 'huge'),
        {
          refused:
            /cannot read the snapshot file .*huge\.parquet \(.*greater than 2 GiB\): a snapshot file is read whole; split the table into a folder of smaller files$/,
        },
        'over 2 GiB',
      )
    })
    void it('zero row groups (a query that selected nothing)', async () => {
      const file = join(dir, 'no-rows.parquet')
      await duck.run(`COPY (SELECT ${row()} WHERE false) TO '${file}' (FORMAT parquet)`)
      await checkIngest(
        'accounts',
        file,
        dataDirIn(dir, 'no-rows'),
        { refused: /nothing to ingest: the snapshot at .*no-rows\.parquet holds no rows/ },
        'zero row groups',
      )
    })
  })

  void it('binary and list columns declared bytes and array: read and logged as written, once', async () => {
    const codec = createParquetCodec({ worker: false })
    const columns = [
      { name: 'account_id', type: 'string', required: false },
      { name: 'updated_at', type: 'timestamptz', required: false },
      { name: 'blob', type: 'binary', required: false },
      { name: 'tags', type: 'list<string>', required: false },
    ] as const
    const file = join(dir, 'docs.parquet')
    writeFileSync(
      file,
      await codec.encode(columns, [
        ['a', 'b', 'c'],
        [1000, 1000, 1000],
        [new Uint8Array([1, 2, 3]), null, new Uint8Array(0)],
        [['x', 'y'], null, []],
      ]),
    )
    const dataDir = dataDirIn(dir, 'docs')
    await checkIngest('docs', file, dataDir, { logged: ['a@1000', 'b@1000', 'c@1000'] }, 'binary and list columns')
    const after = new Map((await loggedEnvelopes(dataDir, docs)).map(({ key, envelope }) => [key, envelope.after]))
    assert.deepEqual([...(after.get('a')!.blob as Uint8Array)], [1, 2, 3])
    assert.deepEqual(after.get('a')!.tags, ['x', 'y'])
    assert.deepEqual([after.get('b')!.blob, after.get('b')!.tags], [null, null])
    assert.deepEqual([(after.get('c')!.blob as Uint8Array).length, after.get('c')!.tags], [0, []])
  })

  void describe('files written by hand (what DuckDB will not write: columns named twice, text that is not UTF-8)', () => {
    const base = (): HandColumn[] => [
      { name: 'account_id', type: 'string', values: ['a', 'b'] },
      { name: 'updated_at', type: 'long', values: [1000, 2000] },
      { name: 'balance', type: 'double', values: [1.5, 2] },
      { name: 'tier', type: 'string', values: ['x', 'y'] },
      { name: 'visits', type: 'long', values: [3, 4] },
    ]
    const latin1 = (s: string): Uint8Array => Buffer.from(s, 'latin1')
    const files: readonly (readonly [string, () => HandColumn[], RegExp])[] = [
      // Which of the two columns a reader takes is its choice: the other's values would be dropped unsaid.
      [
        'the key column named twice',
        () => [...base(), { name: 'account_id', type: 'string', values: ['c', 'd'] }],
        /the-key-column-named-twice\.parquet has two columns named "account_id"/,
      ],
      [
        'a declared column named twice, of another type the second time',
        () => [...base(), { name: 'balance', type: 'long', values: [7, 8] }],
        /has two columns named "balance"/,
      ],
      [
        'a column the row schema does not declare, named twice',
        () => [...base(), { name: 'extra', type: 'string', values: ['p', 'q'] }, { name: 'extra', type: 'long', values: [1, 2] }],
        /has two columns named "extra"/,
      ],
      [
        'keys that are not UTF-8 (Latin-1 café, cafè: decoded leniently, they would be one key)',
        () =>
          base().map((c) =>
            c.name === 'account_id' ? { ...c, type: 'string', values: [latin1('caf\xe9'), latin1('caf\xe8')] } : c,
          ),
        /keys-that-are-not-UTF-8.*\.parquet holds text that is not UTF-8 \(.*non UTF-8 data.*\): write the table's text columns as UTF-8$/,
      ],
      [
        'a text cell that is not UTF-8',
        () => base().map((c) => (c.name === 'tier' ? { ...c, type: 'string', values: ['x', new Uint8Array([0xff, 0x41])] } : c)),
        /a-text-cell-that-is-not-UTF-8\.parquet holds text that is not UTF-8 \(/,
      ],
    ]
    for (const [what, columns, refused] of files) {
      void it(what, async () => {
        const file = join(dir, `${what.replace(/\W+/g, '-')}.parquet`)
        writeFileSync(file, writeHandParquet(columns()))
        await checkIngest('accounts', file, dataDirIn(dir, what), { refused }, what)
      })
    }
  })

  void it('INT96 event times (as Spark, Hive and Impala export them): epoch ms, floored, before 1970 too', async () => {
    const file = join(dir, 'int96.parquet')
    writeFileSync(
      file,
      writeHandParquet([
        { name: 'account_id', type: 'string', values: ['a', 'b'] },
        { name: 'updated_at', type: 'int96', values: [T + 123, -1] },
        { name: 'balance', type: 'double', values: [1.5, 2] },
        { name: 'tier', type: 'string', values: ['x', 'y'] },
        { name: 'visits', type: 'long', values: [3, 4] },
      ]),
    )
    await checkIngest('accounts', file, dataDirIn(dir, 'int96'), { logged: [`a@${T + 123}`, 'b@-1'] }, 'INT96')
  })

  void it('a folder of files: each rejected row named by its file and its row there', async () => {
    const folder = join(dir, 'folder')
    mkdirSync(folder)
    await duck.run(
      `COPY (${rows(row({ account_id: "'a'" }), row({ account_id: 'NULL::VARCHAR' }))}) TO '${join(folder, 'part-1.parquet')}' (FORMAT parquet)`,
    )
    await duck.run(
      `COPY (${rows(row({ account_id: "'b'" }), row({ account_id: "'c'" }), row({ account_id: "'d'", updated_at: 'NULL::TIMESTAMPTZ' }))}) TO '${join(folder, 'part-2.parquet')}' (FORMAT parquet)`,
    )
    const want: Outcome = {
      logged: [`a@${T}`, `b@${T}`, `c@${T}`],
      rejected: ['2:missing_key', '5:missing_event_time'],
      at: ['part-1.parquet row 2', 'part-2.parquet row 3'],
    }
    await checkIngest('accounts', folder, dataDirIn(dir, 'folder'), want, 'a folder')
  })
})
