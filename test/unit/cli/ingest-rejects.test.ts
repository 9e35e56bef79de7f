/**
 * `kfs ingest --rejects <file>`: every rejected row of a snapshot — of every reject reason, far
 * more than the summary's examples — is a line of the file with its reason, its place (file and
 * line, or file and row) and its values; the good rows are appended once; a re-run appends nothing
 * and writes the same file; a bad --rejects is a usage error before anything is read; a file that
 * cannot be written fails the run with nothing appended, and a failed run leaves the old file.
 */
import assert from 'node:assert/strict'
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { createParquetCodec } from '../../../adapters/offline/parquet/parquet-codec.ts'
import { REJECT_REASONS } from '../../../ingest/plan-snapshot.ts'
import { runKfsInProcess } from '../../support/in-process-cli.ts'
import type { SourceDef } from '../../../features/types.ts'
import { accountsCsv } from '../ingest/corpus-sources.ts'
import { writeAccountsParquet } from '../ingest/snapshots.ts'
import { loggedEnvelopes } from './accounts-log.ts'
import { CORPUS_FEATURES } from './ingest-corpus.ts'

const dir = mkdtempSync(join(tmpdir(), 'kfs-ingest-rejects-'))
after(() => rmSync(dir, { recursive: true, force: true }))

const T = Date.UTC(2026, 0, 1)
const ISO = '2026-01-01T00:00:00Z'
const BIG = '99999999999999999999'
const HUGE = 'x'.repeat(600_000)

interface Expected {
  readonly row: number
  readonly line: number
  readonly reason: string
  readonly key: string | null
}

/**
 * A CSV snapshot of 20 good rows and, for each, a bad row of every reason (some rows span two
 * lines: a quoted line break), plus 3 oversize rows: 20 good, 143 rejected.
 */
function badSnapshot(): { csv: string; good: string[]; rejected: Expected[] } {
  const lines = ['account_id,updated_at,balance,tier,visits']
  const good: string[] = []
  const rejected: Expected[] = []
  let line = 2
  let row = 0
  const add = (text: string, reason?: string, key: string | null = null): void => {
    row++
    if (reason !== undefined) rejected.push({ row, line, reason, key })
    lines.push(text)
    line += 1 + (text.match(/\n/g)?.length ?? 0)
  }
  for (let i = 0; i < 20; i++) {
    add(`g${i},${ISO},1.5,,3`)
    good.push(`g${i}@${T}`)
    add(`,${ISO},NaN,"two\nlines",3`, 'missing_key')
    add(`m${i},,1.5,,`, 'missing_event_time', `m${i}`)
    add(`t${i},yesterday,1.5,,`, 'invalid_event_time', `t${i}`)
    add(`s${i},${ISO},abc,,`, 'schema_mismatch', `s${i}`)
    add(`b${i},${ISO},1.5,,${BIG}`, 'schema_mismatch', `b${i}`)
    add(`g${i},${ISO},2.5,,3`, 'duplicate', `g${i}`)
    if (i % 7 === 0) add(`o${i},${ISO},1.5,${HUGE},`, 'oversize', `o${i}`)
  }
  return { csv: `${lines.join('\n')}\n`, good, rejected }
}

interface Line {
  source: string
  snapshot: string
  row: number
  at: string | null
  reason: string
  detail: string
  cells: Record<string, unknown>
}

const readLines = (path: string): Line[] =>
  readFileSync(path, 'utf8')
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as Line)

const logged = async (dataDir: string, source: SourceDef = accountsCsv): Promise<string[]> =>
  (await loggedEnvelopes(dataDir, source)).map(({ key, envelope }) => `${key}@${envelope.ts_ms}`).sort()

const ingest = (dataDir: string, source: string, snapshot: string, extra: readonly string[] = [], json = true) =>
  runKfsInProcess(
    ['ingest', '--source', source, '--snapshot', snapshot, ...CORPUS_FEATURES, ...(json ? ['--json'] : []), ...extra],
    dataDir,
  )

void describe('kfs ingest --rejects', () => {
  const { csv, good, rejected } = badSnapshot()
  const snapshot = join(dir, 'accounts.csv')
  writeFileSync(snapshot, csv)

  void it('writes every rejected row of every reason, with its line and values; the good rows are appended once; a re-run writes the same file', async () => {
    assert.deepEqual(new Set(rejected.map((r) => r.reason)), new Set(REJECT_REASONS), 'the snapshot has every reject reason')
    const dataDir = join(dir, 'data-all')
    const out = join(dir, 'rejects.ndjson')
    const first = await ingest(dataDir, 'accounts_csv', snapshot, ['--rejects', out])
    assert.equal(first.code, 1, first.stderr)
    const summary = JSON.parse(first.stdout) as {
      snapshot: string
      rejected: number
      appended: number
      rejectsFile: { path: string; rows: number }
    }
    assert.equal(summary.rejected, rejected.length)
    assert.deepEqual(summary.rejectsFile, { path: out, rows: rejected.length })
    assert.equal(summary.appended, good.length)
    assert.deepEqual(await logged(dataDir), [...good].sort(), 'the log holds exactly the good rows')

    const lines = readLines(out)
    assert.deepEqual(
      lines.map((l) => [l.row, l.at, l.reason, l.cells.account_id]),
      rejected.map((r) => [r.row, `accounts.csv line ${r.line}`, r.reason, r.key]),
      'every rejected row, in row order, with its reason and line',
    )
    for (const l of lines) {
      assert.deepEqual([l.source, l.snapshot], ['accounts_csv', summary.snapshot])
      assert.ok(l.detail.length > 0)
      assert.deepEqual(Object.keys(l.cells), ['account_id', 'updated_at', 'balance', 'tier', 'visits'])
    }
    // Values JSON cannot hold as they are, kept in tagged forms; the rest as read.
    const byKey = (key: string | null, reason: string) =>
      lines.find((l) => l.cells.account_id === key && l.reason === reason)!.cells
    assert.deepEqual(byKey(null, 'missing_key'), {
      account_id: null,
      updated_at: T,
      balance: { $double: 'NaN' },
      tier: 'two\nlines',
      visits: 3,
    })
    assert.deepEqual(byKey('b0', 'schema_mismatch'), {
      account_id: 'b0',
      updated_at: T,
      balance: 1.5,
      tier: null,
      visits: { $bigint: BIG },
    })
    assert.deepEqual(byKey('t0', 'invalid_event_time').updated_at, 'yesterday')
    assert.equal(byKey('o7', 'oversize').tier, HUGE)
    assert.deepEqual(byKey('g3', 'duplicate').balance, 2.5)

    const bytes = readFileSync(out)
    const again = await ingest(dataDir, 'accounts_csv', snapshot, ['--rejects', out])
    assert.equal(again.code, 1, again.stderr)
    assert.equal((JSON.parse(again.stdout) as { appended: number }).appended, 0, 'a re-run appends nothing')
    assert.deepEqual(readFileSync(out), bytes, 'and writes the same file')
    assert.deepEqual(await logged(dataDir), [...good].sort(), 'nothing doubled')
    assert.deepEqual(
      readdirSync(dir).filter((f) => f.includes('.partial-')),
      [],
      'no temp file left',
    )
  })

  void it('the text summary says where every rejected row is, or how to get them', async () => {
    const dataDir = join(dir, 'data-text')
    const without = await ingest(dataDir, 'accounts_csv', snapshot, [], false)
    assert.equal(without.code, 1)
    assert.match(
      without.stdout,
      new RegExp(
        `… and ${rejected.length - 5} more\\n  every rejected row, with its values: run again with --rejects <file> \\(it appends nothing new\\)`,
      ),
    )
    const out = join(dir, 'text.ndjson')
    const withFile = await ingest(dataDir, 'accounts_csv', snapshot, ['--rejects', out], false)
    assert.match(
      withFile.stdout,
      new RegExp(
        `every rejected row, with its values: ${out.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} \\(${rejected.length} lines\\)`,
      ),
    )
    assert.equal(readLines(out).length, rejected.length)
  })

  void it('names a Parquet row by its file and row there (a folder) or by its row alone (one file); no rejected row: an empty file', async () => {
    const codec = createParquetCodec({ worker: false })
    const folder = join(dir, 'parts')
    mkdirSync(folder)
    const acct = (id: string | null, t: number | null) => ({
      account_id: id,
      updated_at: t,
      balance: 1,
      tier: null,
      visits: null,
    })
    await writeAccountsParquet(codec, join(folder, 'part-1.parquet'), [acct('a', T), acct(null, T)])
    await writeAccountsParquet(codec, join(folder, 'part-2.parquet'), [acct('b', T), acct('c', null)])
    const out = join(dir, 'parts.ndjson')
    const r = await ingest(join(dir, 'data-parts'), 'accounts', folder, ['--rejects', out])
    assert.equal(r.code, 1, r.stderr)
    assert.deepEqual(
      readLines(out).map((l) => [l.row, l.at, l.reason]),
      [
        [2, 'part-1.parquet row 2', 'missing_key'],
        [4, 'part-2.parquet row 2', 'missing_event_time'],
      ],
    )
    const one = join(folder, 'part-2.parquet')
    const single = await ingest(join(dir, 'data-one'), 'accounts', one, ['--rejects', out])
    assert.equal(single.code, 1, single.stderr)
    assert.deepEqual(
      readLines(out).map((l) => [l.row, l.at, l.reason]),
      [[2, null, 'missing_event_time']],
      'the file replaced, not appended to',
    )
    const clean = join(dir, 'clean.parquet')
    await writeAccountsParquet(codec, clean, [acct('a', T)])
    const ok = await ingest(join(dir, 'data-clean'), 'accounts', clean, ['--rejects', out])
    assert.equal(ok.code, 0, ok.stderr)
    assert.deepEqual((JSON.parse(ok.stdout) as { rejectsFile: unknown }).rejectsFile, { path: out, rows: 0 })
    assert.equal(readFileSync(out, 'utf8'), '', 'an earlier run’s rejects do not linger')
  })

  void it('a --rejects that cannot be right is a usage error (exit 2) before anything is read or appended', async () => {
    const folder = join(dir, 'csv-folder')
    mkdirSync(folder)
    writeFileSync(join(folder, 'a.csv'), csv)
    const cases: readonly (readonly [string, string, string, RegExp])[] = [
      ['a missing folder', snapshot, join(dir, 'nope', 'rejects.ndjson'), /--rejects: the folder .*nope does not exist/],
      [
        'the snapshot file itself',
        snapshot,
        snapshot,
        /--rejects: .*accounts\.csv is a snapshot of the table \(.*accounts\.csv\); writing it would destroy/,
      ],
      ['a folder', snapshot, dir, /--rejects: .* is a folder; name the file to write/],
      [
        'a .csv file in the snapshot folder',
        folder,
        join(folder, 'rejects.csv'),
        /--rejects: .*rejects\.csv is a \.csv file in the snapshot folder .*; the next ingest would read it as part of the table/,
      ],
      [
        'the definitions module',
        snapshot,
        'test/unit/ingest/corpus-sources.ts',
        /--rejects: .*corpus-sources\.ts is the definitions module/,
      ],
    ]
    for (const [what, snap, out, message] of cases) {
      const dataDir = join(dir, `data-usage-${what.replace(/\W+/g, '-')}`)
      const r = await ingest(dataDir, 'accounts_csv', snap, ['--rejects', out])
      assert.equal(r.code, 2, `${what}: ${r.stderr}`)
      const [line, usage] = r.stderr.split('\n')
      assert.match(line!, message, what)
      assert.match(usage!, /^Usage: kfs ingest .*--rejects <file>/, what)
      assert.deepEqual(await logged(dataDir), [], `${what}: nothing appended`)
    }
    assert.equal(readFileSync(snapshot, 'utf8'), csv, 'the snapshot is untouched')
    assert.match(readFileSync('test/unit/ingest/corpus-sources.ts', 'utf8'), /accountsCsv/, 'the definitions module is untouched')
  })

  void it('a file that cannot be written fails the run with nothing appended; the next run appends every good row once', async () => {
    const dataDir = join(dir, 'data-unwritable')
    // Not even root may create a file in /proc: a folder that exists and cannot be written.
    const r = await ingest(dataDir, 'accounts_csv', snapshot, ['--rejects', '/proc/kfs-rejects.ndjson'])
    assert.equal(r.code, 1, r.stderr)
    assert.match(
      r.stderr.trimEnd(),
      /^kfs ingest: --rejects: cannot write \/proc\/kfs-rejects\.ndjson \(.*\); nothing was appended$/,
    )
    assert.deepEqual(await logged(dataDir), [], 'nothing appended')
    const out = join(dir, 'after-failure.ndjson')
    const next = await ingest(dataDir, 'accounts_csv', snapshot, ['--rejects', out])
    assert.equal(next.code, 1, next.stderr)
    assert.deepEqual(await logged(dataDir), [...good].sort(), 'every good row, once')
    assert.equal(readLines(out).length, rejected.length)
  })

  void it('a refused snapshot leaves the rejects file as it was', async () => {
    const out = join(dir, 'kept.ndjson')
    writeFileSync(out, 'the last run’s rejects\n')
    const changed = join(dir, 'no-balance.csv')
    writeFileSync(changed, `account_id,updated_at,tier,visits\na,${ISO},,\n`)
    const r = await ingest(join(dir, 'data-refused'), 'accounts_csv', changed, ['--rejects', out])
    assert.equal(r.code, 1, r.stderr)
    assert.match(r.stderr, /column balance \(double\) is missing/)
    assert.equal(readFileSync(out, 'utf8'), 'the last run’s rejects\n')
    assert.deepEqual(
      readdirSync(dir).filter((f) => f.includes('.partial-')),
      [],
      'no temp file left',
    )
  })
})
