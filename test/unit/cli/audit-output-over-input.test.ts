/**
 * `kfs training-set --out` naming a file the command reads: the label file (by its path, another
 * spelling of it, a symbolic link or a hard link to it) or the definitions module. It used to
 * build and write the training set over it — the user's labels, often the only copy, replaced by
 * Parquet bytes (and every later run on them an "unexpected error"). Each is a usage error (exit
 * 2) naming both files, and the input is left byte for byte as it was.
 */
import assert from 'node:assert/strict'
import { copyFileSync, linkSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, relative } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import * as examples from '../../../examples/features.ts'
import { LocalObjectStore } from '../../../adapters/object-store/index.ts'
import { runKfsInProcess } from '../../support/in-process-cli.ts'
import { generateRows, registryWithViews, writeRows } from '../training/fixtures.ts'

const repo = fileURLToPath(new URL('../../../', import.meta.url))
const dir = mkdtempSync(join(tmpdir(), 'kfs-out-over-input-'))
after(() => rmSync(dir, { recursive: true, force: true }))
const dataDir = join(dir, 'data')
const labels = join(dir, 'labels.csv')
const LABELS = 'user_id,ts\nu1,2026-11-01T00:00:00Z\nu2,2026-11-01T01:00:00Z\n'
const module = join(dir, 'features.ts')
const REFS = ['--feature-refs', 'user_clicks:count_1h']

before(async () => {
  const store = new LocalObjectStore(join(dataDir, 'objects'))
  await writeRows(store, examples.userClicks, generateRows(examples.userClicks, 50, 2))
  await registryWithViews(store, [examples.userClicks])
  writeFileSync(labels, LABELS)
  symlinkSync(labels, join(dir, 'labels-link.csv'))
  linkSync(labels, join(dir, 'labels-hard.csv'))
  // A module that is the examples' one, at a path of its own (so writing it would harm no checkout).
  writeFileSync(module, `export * from ${JSON.stringify(join(repo, 'examples/features.ts'))}\n`)
  copyFileSync(module, join(dir, 'features-copy.ts'))
})

/** Invocations whose --out is a file the command reads, the input it is, and the message. */
const OVER_INPUT: readonly { what: string; args: string[]; input: string; message: RegExp }[] = [
  {
    what: 'the label file',
    args: ['--labels', labels, ...REFS, '--out', labels],
    input: labels,
    message: /--out: .*labels\.csv is the label file \(--labels\)/,
  },
  {
    what: 'the label file, spelled relative to the cwd',
    args: ['--labels', labels, ...REFS, '--out', relative(repo, labels)],
    input: labels,
    message: /is the label file \(--labels\)/,
  },
  {
    what: 'the label file, with ./ and ../ in it',
    args: ['--labels', labels, ...REFS, '--out', join(dir, '.', 'x', '..', 'labels.csv')],
    input: labels,
    message: /is the label file/,
  },
  {
    what: 'a symbolic link to the label file',
    args: ['--labels', labels, ...REFS, '--out', join(dir, 'labels-link.csv')],
    input: labels,
    message: /labels-link\.csv is the label file/,
  },
  {
    what: 'a hard link to the label file',
    args: ['--labels', labels, ...REFS, '--out', join(dir, 'labels-hard.csv')],
    input: labels,
    message: /labels-hard\.csv is the label file/,
  },
  {
    what: 'the label file named through its link',
    args: ['--labels', join(dir, 'labels-link.csv'), ...REFS, '--out', labels],
    input: labels,
    message: /is the label file/,
  },
  {
    what: 'the definitions module (-f)',
    args: ['--labels', labels, ...REFS, '-f', module, '--out', module],
    input: module,
    message: /features\.ts is the definitions module/,
  },
  {
    what: 'the definitions module (--features)',
    args: ['--labels', labels, ...REFS, '--features', module, '--out', module],
    input: module,
    message: /is the definitions module/,
  },
  {
    what: 'the definitions module, on --rebuild',
    args: ['--rebuild', '0123456789abcdef', '-f', module, '--out', module],
    input: module,
    message: /is the definitions module/,
  },
]

void describe('kfs training-set --out over a file it reads', () => {
  for (const row of OVER_INPUT) {
    void test(`${row.what}: exit 2 naming both, the input unchanged`, async () => {
      const before = readFileSync(row.input)
      const r = await runKfsInProcess(['training-set', ...row.args], dataDir)
      assert.equal(r.code, 2, r.stderr + r.stdout)
      assert.match(r.stderr, row.message)
      assert.match(r.stderr, /writing it would destroy what the command reads/)
      assert.doesNotMatch(r.stderr, /unexpected error|\n\s+at /)
      assert.deepEqual(readFileSync(row.input), before)
    })
  }

  void test('a copy of an input is another file: it is written (the rule is sameness, not a name)', async () => {
    const out = join(dir, 'features-copy.ts')
    const r = await runKfsInProcess(['training-set', '--labels', labels, ...REFS, '-f', module, '--out', out], dataDir)
    assert.equal(r.code, 0, r.stderr)
    assert.equal(readFileSync(out).subarray(0, 4).toString(), 'PAR1')
    assert.equal(readFileSync(labels, 'utf8'), LABELS)
  })
})
