/**
 * KFS_DATA_DIR must be a folder when it exists. One that names a file (or lies under one) was
 * read as empty — `kfs registry list` and `kfs tables` answered "nothing" with exit 0, `kfs run`
 * "not published" — while `kfs apply` failed with "local object create failed". Now every
 * command's configuration refuses it (CONFIG_INVALID, exit 1), naming the variable and why.
 */
import assert from 'node:assert/strict'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, test } from 'node:test'
import { ConfigError } from '../../core/errors.ts'
import { loadConfig } from '../../main/config.ts'
import { runKfsInProcess } from '../support/in-process-cli.ts'

const dir = mkdtempSync(join(tmpdir(), 'kfs-data-dir-'))
after(() => rmSync(dir, { recursive: true, force: true }))
const file = join(dir, 'a-file')
writeFileSync(file, 'not a folder\n')
mkdirSync(join(dir, 'a-folder'))

const NOT_A_FOLDER: readonly (readonly [string, string, RegExp])[] = [
  ['a file', file, /it names a file/],
  ['a path under a file', join(file, 'data'), /a part of it is a file/],
  ['a character device', '/dev/null', /it names a file/],
]

const noFile = (path: string): string => {
  throw new Error(`no file expected, asked for ${path}`)
}

void describe('KFS_DATA_DIR that is not a folder', () => {
  for (const [what, path, why] of NOT_A_FOLDER) {
    void test(`${what}: CONFIG_INVALID naming KFS_DATA_DIR, the path and why`, () => {
      assert.throws(
        () => loadConfig({ KFS_DATA_DIR: path }, noFile),
        (err: unknown) =>
          err instanceof ConfigError &&
          err.message.startsWith(`KFS_DATA_DIR ${JSON.stringify(path)} is not a folder (`) &&
          why.test(err.message) &&
          err.context?.variable === 'KFS_DATA_DIR',
      )
      // The same from a config file.
      assert.throws(() => loadConfig({ KFS_CONFIG_FILE: '/cfg.json' }, () => JSON.stringify({ KFS_DATA_DIR: path })), ConfigError)
    })
  }

  for (const [what, path] of [
    ['a folder', join(dir, 'a-folder')],
    ['a path not there yet', join(dir, 'later', 'data')],
  ] as const) {
    void test(`${what} is accepted`, () => {
      assert.equal(loadConfig({ KFS_DATA_DIR: path }, noFile).dataDir, path)
    })
  }

  for (const args of [['registry', 'list'], ['tables'], ['apply'], ['run', '--until-caught-up']]) {
    void test(`kfs ${args.join(' ')} on a data dir that is a file: exit 1 with the message, no "nothing" answer`, async () => {
      const r = await runKfsInProcess([...args, '--json'], file)
      assert.equal(r.code, 1, r.stdout + r.stderr)
      assert.match(r.stderr, /KFS_DATA_DIR ".*a-file" is not a folder \(it names a file\)/)
      assert.equal((JSON.parse(r.stdout) as { error: { code: string } }).error.code, 'CONFIG_INVALID')
    })
  }
})
