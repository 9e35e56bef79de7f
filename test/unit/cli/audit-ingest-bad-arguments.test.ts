/**
 * `kfs ingest` with every kind of bad invocation: each a usage error — exit 2, one line naming the
 * option or value at fault, then the command's usage — before any snapshot or log is opened.
 */
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { runKfsInProcess } from '../../support/in-process-cli.ts'
import { CORPUS_FEATURES as F } from './ingest-corpus.ts'

const dir = mkdtempSync(join(tmpdir(), 'kfs-audit-ingest-args-'))
after(() => rmSync(dir, { recursive: true, force: true }))
const file = 'package.json'
// A pipe nobody writes: read, it blocked the event loop for good (the process deaf to SIGTERM).
const pipe = join(dir, 'accounts.parquet')
const pipeFolder = join(dir, 'snapshot-with-a-pipe')
mkdirSync(pipeFolder)
for (const path of [pipe, join(pipeFolder, 'part-0.parquet')]) assert.equal(spawnSync('mkfifo', [path]).status, 0, 'mkfifo')

const CASES: readonly (readonly [string, readonly string[], RegExp])[] = [
  ['no --source', [...F], /name the table source to ingest with --source/],
  ['an unknown source', ['--source', 'account', ...F], /no source named account\. Did you mean 'accounts'\?/],
  ['an event source', ['--source', 'clicks'], /source clicks is not a table source \(an event source\)/],
  ['an empty source name', ['--source', '', ...F], /--source: empty value is not a name/],
  ['--source without its value', ['--source', ...F], /'--source'/],
  ['--source twice', ['--source', 'accounts', '--source', 'accounts_csv', ...F], /--source is given more than once/],
  ['--snapshot empty', ['--source', 'accounts', ...F, '--snapshot', ''], /--snapshot: empty value is not a value/],
  ['--snapshot without its value', ['--source', 'accounts', ...F, '--snapshot'], /'--snapshot <value>' argument missing/],
  [
    '--snapshot twice',
    ['--source', 'accounts', ...F, '--snapshot', file, '--snapshot', file],
    /--snapshot is given more than once/,
  ],
  [
    '--snapshot a path that does not exist',
    ['--source', 'accounts', ...F, '--snapshot', join(dir, 'nope')],
    /--snapshot .*nope: no such file or folder/,
  ],
  [
    '--snapshot a pipe',
    ['--source', 'accounts', ...F, '--snapshot', pipe],
    /--snapshot .*accounts\.parquet: not a file or folder \(a pipe, device or socket\)/,
  ],
  [
    '--snapshot a device',
    ['--source', 'accounts_csv', ...F, '--snapshot', '/dev/zero'],
    /--snapshot \/dev\/zero: not a file or folder/,
  ],
  [
    '--snapshot not an Iceberg snapshot id',
    ['--source', 'accounts_iceberg', ...F, '--snapshot', '1.5'],
    /--snapshot 1\.5: an Iceberg snapshot id is an integer/,
  ],
  ['--batch 0', ['--source', 'accounts', ...F, '--batch', '0'], /--batch: '0' is not a whole number of at least 1/],
  ['--batch not a number', ['--source', 'accounts', ...F, '--batch', 'many'], /--batch: 'many' is not a whole number/],
  ['--batch a fraction', ['--source', 'accounts', ...F, '--batch', '1.5'], /--batch: '1\.5' is not a whole number/],
  [
    '--batch beyond a safe integer',
    ['--source', 'accounts', ...F, '--batch', '99999999999999999999'],
    /--batch: '99999999999999999999' is not a whole number/,
  ],
  ['--batch negative', ['--source', 'accounts', ...F, '--batch', '-1'], /'-1'/],
  ['an unknown option', ['--source', 'accounts', ...F, '--bogus'], /unknown option '--bogus'/],
  [
    "another command's option",
    ['--source', 'accounts', ...F, '--until-caught-up'],
    /unknown option '--until-caught-up': it is an option of kfs run/,
  ],
  ['a value for a flag', ['--source', 'accounts', ...F, '--json=yes'], /'--json' does not take an argument/],
  ['a stray argument', ['--source', 'accounts', ...F, 'accounts.parquet'], /unexpected argument 'accounts\.parquet'/],
  [
    'a definitions module that does not exist',
    ['--source', 'accounts', '--features', join(dir, 'nope.ts')],
    /--features: .*nope\.ts does not exist/,
  ],
]

void describe('kfs ingest: every kind of bad invocation exits 2', () => {
  for (const [what, args, message] of CASES) {
    void it(what, async () => {
      const r = await runKfsInProcess(['ingest', ...args], join(dir, 'data'))
      assert.equal(r.code, 2, `${what}: ${r.stderr}`)
      const [line, usage] = r.stderr.split('\n')
      assert.match(line!, /^kfs ingest: /)
      assert.match(line!, message)
      assert.match(usage!, /^Usage: kfs ingest /)
      assert.equal(r.stdout, '')
    })
  }
})

void describe('kfs ingest: a snapshot folder holding a pipe named like a snapshot file', () => {
  void it('exit 1 naming it, not its rows silently dropped (nor a read that never ends)', async () => {
    const r = await runKfsInProcess(['ingest', '--source', 'accounts', ...F, '--snapshot', pipeFolder], join(dir, 'data'))
    assert.equal(r.code, 1, r.stderr)
    assert.match(r.stderr, /^kfs ingest: .*part-0\.parquet is not a regular file \(a pipe, device or socket\)/)
  })
})
