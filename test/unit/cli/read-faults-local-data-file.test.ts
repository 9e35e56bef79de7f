/**
 * On a local object store a training set reads the feature table's data files in place (the
 * engine opens them; no read of the store's port). One that is not there where the table's
 * manifests say it is (deleted, or a directory in its place), or that is damaged (cut short, other
 * bytes, empty), fails `kfs training-set` with one line naming the file (exit 1), `--out`
 * untouched, as verify-parity and compact, which read it through the store, already did. Before,
 * DuckDB's own "No files found" or "No magic bytes found" came out as an unexpected error with
 * its stack trace.
 */
import assert from 'node:assert/strict'
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, test } from 'node:test'
import { runKfsInProcess } from '../../support/in-process-cli.ts'

const built = mkdtempSync(join(tmpdir(), 'kfs-local-data-file-'))
const backups = mkdtempSync(join(tmpdir(), 'kfs-local-data-file-backup-'))
after(() => {
  rmSync(built, { recursive: true, force: true })
  rmSync(backups, { recursive: true, force: true })
})

const DATA = 'objects/warehouse/features/user_purchases_v1/data'
const OUT = join(built, 'set.parquet')
const EARLIER = 'the training set an earlier run wrote here'
const files = (dir: string): string[] =>
  readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? files(join(dir, e.name)) : [join(dir, e.name)]))

before(async () => {
  for (const args of [['apply'], ['produce', '--generate', '300'], ['run', '--until-caught-up', '--idle', '1s']]) {
    const r = await runKfsInProcess(args, built)
    assert.equal(r.code, 0, `kfs ${args.join(' ')}\n${r.stderr}`)
  }
  writeFileSync(join(built, 'labels.csv'), 'user_id,ts\nu1,1767230000000\nu2,1767240000000\n')
})

/** Each damage is done in place (the metadata names absolute file URIs) and undone after the case. */
const DAMAGE: readonly { name: string; apply: (file: string, bytes: Buffer) => void; says: RegExp }[] = [
  { name: 'a data file deleted', apply: () => undefined, says: /is missing$/ },
  { name: 'a directory where a data file was', apply: (file) => mkdirSync(file), says: /is missing$/ },
  {
    name: 'a data file cut in half',
    apply: (file, bytes) => writeFileSync(file, bytes.subarray(0, bytes.length >> 1)),
    says: /does not read as Parquet/,
  },
  {
    name: 'a data file of other bytes',
    apply: (file) => writeFileSync(file, 'not Parquet at all'),
    says: /does not read as Parquet/,
  },
  { name: 'a data file emptied', apply: (file) => writeFileSync(file, ''), says: /does not read as Parquet/ },
]

const COMMANDS: readonly { command: string; args: string[] }[] = [
  {
    command: 'training-set',
    args: ['training-set', '--labels', join(built, 'labels.csv'), '--feature-refs', 'user_purchases:count', '--out', OUT],
  },
  { command: 'verify-parity', args: ['verify-parity', '--views', 'user_purchases'] },
  { command: 'compact', args: ['compact', '--views', 'user_purchases', '--older-than', '1h'] },
]

void test('a data file of a local feature table missing or damaged: exit 1 naming it, no stack trace, --out untouched', async (t) => {
  for (const { name, apply, says } of DAMAGE) {
    for (const { command, args } of COMMANDS) {
      await t.test(`${command}: ${name}`, async () => {
        const [file] = files(join(built, DATA)).sort()
        assert.ok(file !== undefined, 'the table has data files')
        const backup = join(backups, 'data-file')
        const bytes = readFileSync(file)
        renameSync(file, backup)
        apply(file, bytes)
        writeFileSync(OUT, EARLIER)
        try {
          const got = await runKfsInProcess(args, built)
          assert.equal(got.code, 1, `${got.stdout}${got.stderr}`)
          const lines = got.stderr.split('\n').filter((l) => l !== '')
          assert.equal(lines.length, 1, `one line: ${got.stderr}`)
          assert.doesNotMatch(lines[0]!, /unexpected error/)
          assert.ok(new RegExp(`^kfs ${command}: data file (file://)?${file} `).test(lines[0]!), lines[0])
          assert.match(lines[0]!, says)
          assert.equal(readFileSync(OUT, 'utf8'), EARLIER, '--out as it was')
        } finally {
          rmSync(file, { recursive: true, force: true })
          renameSync(backup, file)
        }
      })
    }
  }
})
