/**
 * How the router reports what a command throws: a usage error exits 2 with the usage, an error of
 * kfs or of the operating system exits 1 in one line, only a bug (anything else) keeps its stack —
 * and KFS_DEBUG=1 shows the stack of every error. Plus the real entry (main/cli.ts as a process)
 * exits with the router's code.
 */
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { systemClock } from '../../../core/clock.ts'
import { FeatureStoreError } from '../../../core/errors.ts'
import { UsageError, type Command, type CommandContext } from '../../../main/commands/command.ts'
import { runCli } from '../../../main/commands/router.ts'
import { KFS_BIN } from '../../support/node-ts.ts'

function contextFor(env: Record<string, string>, captured: { out: string; err: string }): CommandContext {
  return {
    cwd: tmpdir(),
    json: false,
    env,
    clock: systemClock,
    out: (t) => void (captured.out += t),
    err: (t) => void (captured.err += t),
    config: () => assert.fail('not used'),
    openObjectStore: () => assert.fail('not used'),
  }
}

function throwing(error: unknown): Command {
  return { name: 'boom', summary: 'throws', usage: 'kfs boom', help: '', run: () => Promise.reject(error) }
}

async function run(error: unknown, env: Record<string, string> = {}): Promise<{ code: number; out: string; err: string }> {
  const captured = { out: '', err: '' }
  const code = await runCli(['boom'], [throwing(error)], () => contextFor(env, captured))
  return { code, ...captured }
}

const STACK = /\n\s+at .+/

function systemError(): Error {
  return Object.assign(new Error("ENOENT: no such file or directory, open '/gone/labels.csv'"), {
    code: 'ENOENT',
    syscall: 'open',
  })
}

void describe('cli > router error reporting', () => {
  void test('usage error: exit 2, message and usage, no stack', async () => {
    const r = await run(new UsageError('--x: bad'))
    assert.equal(r.code, 2)
    assert.match(r.err, /kfs boom: --x: bad\nUsage: kfs boom/)
    assert.doesNotMatch(r.err, STACK)
  })

  void test('a kfs error: exit 1, one line', async () => {
    const r = await run(new FeatureStoreError('NOT_FOUND', 'nothing to verify'))
    assert.equal(r.code, 1)
    assert.equal(r.err, 'kfs boom: nothing to verify\n')
  })

  void test('an operating-system error (ENOENT, EACCES, ECONNREFUSED…): exit 1, one line, not "unexpected"', async () => {
    const r = await run(systemError())
    assert.equal(r.code, 1)
    assert.equal(r.err, "kfs boom: ENOENT: no such file or directory, open '/gone/labels.csv'\n")
  })

  void test('a bug: exit 1, "unexpected error" with its stack', async () => {
    const r = await run(new TypeError('x is undefined'))
    assert.equal(r.code, 1)
    assert.match(r.err, /kfs boom: unexpected error: TypeError: x is undefined/)
    assert.match(r.err, STACK)
  })

  void test('KFS_DEBUG=1: the stack of any error, the exit code unchanged', async () => {
    for (const [error, code] of [
      [new UsageError('--x: bad'), 2],
      [new FeatureStoreError('NOT_FOUND', 'nothing'), 1],
      [systemError(), 1],
    ] as const) {
      const r = await run(error, { KFS_DEBUG: '1' })
      assert.equal(r.code, code)
      assert.match(r.err, STACK, `${error.message}: stack under KFS_DEBUG`)
    }
  })
})

void describe('cli > the real entry exits with the router code', () => {
  const repo = fileURLToPath(new URL('../../../', import.meta.url))
  for (const [args, code, message] of [
    [['run', '--until-caught-up', '--idle', 'banana'], 2, /--idle: 'banana' is not a duration/],
    [
      ['training-set', '--labels', '/no/labels.csv', '--service', 's', '--out', '/tmp/x.parquet'],
      2,
      /--labels: \/no\/labels\.csv does not exist/,
    ],
    [['verify-parity'], 1, /is not published: run `kfs apply` first/],
  ] as const) {
    void test(`kfs ${args.join(' ')} → exit ${code}`, () => {
      const dataDir = mkdtempSync(join(tmpdir(), 'kfs-entry-'))
      try {
        const env = {
          PATH: process.env.PATH ?? '',
          HOME: process.env.HOME ?? tmpdir(),
          KFS_DATA_DIR: dataDir,
          KFS_LOG_LEVEL: 'warn',
        }
        const r = spawnSync(process.execPath, [KFS_BIN, ...args], {
          cwd: repo,
          env,
          encoding: 'utf8',
        })
        assert.equal(r.status, code, r.stderr)
        assert.match(r.stderr, message)
        assert.doesNotMatch(r.stderr, STACK)
      } finally {
        rmSync(dataDir, { recursive: true, force: true })
      }
    })
  }
})
