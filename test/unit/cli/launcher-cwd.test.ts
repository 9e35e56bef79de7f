/**
 * `bin/kfs.mjs` (what `npx kfs` and an installed `kfs` run) from any working directory: the
 * launcher must find tsx beside itself, not in the cwd — it used to fail from every folder
 * outside the checkout with Node's ERR_MODULE_NOT_FOUND stack trace, before kfs ran. Relative
 * paths in options still mean the cwd's.
 */
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, test } from 'node:test'
import { fileURLToPath } from 'node:url'

const ROOT = fileURLToPath(new URL('../../..', import.meta.url))
const outside = mkdtempSync(join(tmpdir(), 'kfs-launcher-'))
after(() => rmSync(outside, { recursive: true, force: true }))
mkdirSync(join(outside, 'nested', 'deeper'), { recursive: true })
writeFileSync(join(outside, 'events.ndjson'), '\n')

function kfsIn(cwd: string, args: readonly string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [join(ROOT, 'bin/kfs.mjs'), ...args], {
    cwd,
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? tmpdir(),
      KFS_LOG_LEVEL: 'silent',
      KFS_DATA_DIR: join(outside, 'data'),
      KFS_FEATURES: join(ROOT, 'examples/features.ts'),
    },
    encoding: 'utf8',
    timeout: 120_000,
  })
  return { code: r.status, stdout: r.stdout, stderr: r.stderr }
}

const CWDS: readonly [string, string][] = [
  ['a folder outside the checkout', outside],
  ['a folder two levels below it', join(outside, 'nested', 'deeper')],
  ['the filesystem root', '/'],
  ['the checkout', ROOT],
]

const CASES: readonly { args: readonly string[]; code: number; out?: RegExp; err?: RegExp }[] = [
  { args: ['--version'], code: 0, out: /^kfs \d+\.\d+\.\d+\n$/ },
  { args: ['apply', '--bogus'], code: 2, err: /^kfs apply: unknown option '--bogus'/ },
  {
    args: ['produce', '--topic', 'purchases', '--file', 'no-such.ndjson'],
    code: 2,
    err: /--file: .*no-such\.ndjson does not exist/,
  },
]

void describe('bin/kfs.mjs runs kfs from any working directory', () => {
  for (const [where, cwd] of CWDS) {
    for (const c of CASES) {
      void test(`${where}: kfs ${c.args.join(' ')} → exit ${c.code}`, () => {
        const r = kfsIn(cwd, c.args)
        assert.doesNotMatch(r.stderr, /ERR_MODULE_NOT_FOUND|\n\s+at /, r.stderr)
        assert.equal(r.code, c.code, r.stderr)
        if (c.out !== undefined) assert.match(r.stdout, c.out)
        if (c.err !== undefined) assert.match(r.stderr, c.err)
      })
    }
  }

  void test("a relative --file is the cwd's: the empty file beside the cwd is read (nothing to send: exit 1)", () => {
    const r = kfsIn(outside, ['produce', '--topic', 'purchases', '--file', 'events.ndjson'])
    assert.doesNotMatch(r.stderr, /\n\s+at /, r.stderr)
    assert.equal(r.code, 1, r.stderr)
    assert.match(r.stderr, new RegExp(`${join(outside, 'events.ndjson').replaceAll('/', '\\/')} holds no events`))
  })
})
