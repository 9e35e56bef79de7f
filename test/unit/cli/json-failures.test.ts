/**
 * The `--json` contract for failures: a command run with `--json` prints exactly one JSON object
 * on stdout however it fails — `{"error": {"code", "message", "context"?}}` — so a cron script that
 * parses stdout always gets a document; the human message still goes to stderr. Before, only
 * kfs's own errors printed one: usage errors (exit 2), errors of the operating system (EACCES,
 * ENOSPC…) and bugs printed nothing on stdout. Without `--json`, stdout stays empty on a failure.
 *
 * One table of every kind of failure a command can throw, through the router, with and without
 * `--json`; one of the failures the router finds itself before any command runs; and the helper
 * `kfs run` reports its own failures with.
 */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, test } from 'node:test'
import { systemClock } from '../../../core/clock.ts'
import { CLI_ERROR_CODES, ERROR_CODES } from '../../../core/error-codes.ts'
import { ConfigError, FeatureStoreError } from '../../../core/errors.ts'
import { UsageError, type Command, type CommandContext } from '../../../main/commands/command.ts'
import { errorJson, printFailure, runCli, type ErrorJson } from '../../../main/commands/router.ts'
import { runKfsInProcess } from '../../support/in-process-cli.ts'

function contextFor(json: boolean, captured: { out: string; err: string }): CommandContext {
  return {
    cwd: tmpdir(),
    json,
    env: {},
    clock: systemClock,
    out: (t) => void (captured.out += t),
    err: (t) => void (captured.err += t),
    config: () => assert.fail('not used'),
    openObjectStore: () => assert.fail('not used'),
  }
}

async function run(command: Command, json: boolean): Promise<{ code: number; out: string; err: string }> {
  const captured = { out: '', err: '' }
  const code = await runCli(['boom', ...(json ? ['--json'] : [])], [command], (j) => contextFor(j, captured))
  return { code, ...captured }
}

const throwing = (error: unknown): Command => ({
  name: 'boom',
  summary: 'throws',
  usage: 'kfs boom',
  help: '',
  run: () => Promise.reject(error),
})

function systemError(code: string, message: string, syscall: string, path: string): Error {
  return Object.assign(new Error(`${code}: ${message}, ${syscall} '${path}'`), { errno: -1, code, syscall, path })
}

/** [what, thrown, exit code, the error object stdout must hold under --json, what stderr must say]. */
const FAILURES: readonly (readonly [string, unknown, number, ErrorJson, RegExp])[] = [
  [
    'a usage error',
    new UsageError('--x: bad'),
    2,
    { code: 'USAGE', message: '--x: bad' },
    /^kfs boom: --x: bad\nUsage: kfs boom\n/,
  ],
  [
    'a kfs error with context',
    new FeatureStoreError('NOT_FOUND', 'nothing to verify', { context: { view: 'v', version: 2 } }),
    1,
    { code: 'NOT_FOUND', message: 'nothing to verify', context: { view: 'v', version: 2 } },
    /^kfs boom: nothing to verify\n$/,
  ],
  [
    'a kfs error without context',
    new FeatureStoreError('SINK_UNAVAILABLE', 'redis is down'),
    1,
    { code: 'SINK_UNAVAILABLE', message: 'redis is down' },
    /redis is down/,
  ],
  [
    'a config error',
    new ConfigError('KFS_X="y" is invalid', { context: { variable: 'KFS_X' } }),
    1,
    { code: 'CONFIG_INVALID', message: 'KFS_X="y" is invalid', context: { variable: 'KFS_X' } },
    /^kfs boom: KFS_X="y" is invalid\n$/,
  ],
  ...(
    [
      ['EACCES', 'permission denied', 'open', '/data/labels.csv'],
      ['ENOSPC', 'no space left on device', 'write', '/data/out.parquet'],
      ['ENOENT', 'no such file or directory', 'open', '/gone/labels.csv'],
      ['EROFS', 'read-only file system', 'mkdir', '/ro/kfs'],
    ] as const
  ).map(
    ([code, text, syscall, path]) =>
      [
        `an operating-system error, ${code}`,
        systemError(code, text, syscall, path),
        1,
        { code, message: `${code}: ${text}, ${syscall} '${path}'`, context: { syscall, path } },
        new RegExp(`^kfs boom: ${code}: ${text}`),
      ] as const,
  ),
  [
    'a refused connection',
    Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:6379'), {
      code: 'ECONNREFUSED',
      syscall: 'connect',
      address: '127.0.0.1',
      port: 6379,
    }),
    1,
    {
      code: 'ECONNREFUSED',
      message: 'connect ECONNREFUSED 127.0.0.1:6379',
      context: { syscall: 'connect', address: '127.0.0.1', port: 6379 },
    },
    /ECONNREFUSED/,
  ],
  [
    'a bug',
    new TypeError('x is undefined'),
    1,
    { code: 'INTERNAL', message: 'x is undefined' },
    /unexpected error: TypeError: x is undefined\n\s+at /,
  ],
  ['a thrown non-error', 'boom', 1, { code: 'INTERNAL', message: 'boom' }, /unexpected error: boom/],
]

const KNOWN_CODE = (code: string): boolean =>
  code in ERROR_CODES || (CLI_ERROR_CODES as readonly string[]).includes(code) || /^E[A-Z]+$/.test(code)

void describe('cli > --json: every failure of a command prints one error object on stdout', () => {
  for (const [what, thrown, exit, expected, human] of FAILURES) {
    void test(`${what}: exit ${exit}, {"error": {code: ${expected.code}}} on stdout, the message on stderr`, async () => {
      const r = await run(throwing(thrown), true)
      assert.equal(r.code, exit)
      // JSON.parse takes one document only: two objects, or text around one, would throw here.
      assert.deepEqual(JSON.parse(r.out), { error: expected })
      assert.ok(KNOWN_CODE(expected.code), expected.code)
      assert.match(r.err, human)
    })

    void test(`${what}, without --json: the same exit and message, nothing on stdout`, async () => {
      const r = await run(throwing(thrown), false)
      assert.equal(r.code, exit)
      assert.equal(r.out, '')
      assert.match(r.err, human)
    })
  }

  void test('a command that ends with a failure code itself reports through printFailure: the same object, only under --json', () => {
    for (const json of [true, false]) {
      const captured = { out: '', err: '' }
      printFailure(
        contextFor(json, captured),
        errorJson(new FeatureStoreError('SINK_UNAVAILABLE', 'down')),
        'engine failed: down\n',
      )
      assert.equal(captured.err, 'engine failed: down\n')
      if (json) assert.deepEqual(JSON.parse(captured.out), { error: { code: 'SINK_UNAVAILABLE', message: 'down' } })
      else assert.equal(captured.out, '')
    }
  })
})

void describe('cli > --json: the usage errors the router finds before a command runs', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'kfs-json-failures-'))
  after(() => rmSync(dataDir, { recursive: true, force: true }))

  /** [argv, the message in the error object and after `kfs…: ` on stderr]. */
  const EARLY: readonly (readonly [readonly string[], RegExp])[] = [
    [['--json'], /^--json needs a command/],
    [['--json', '--version', 'x'], /^unexpected argument 'x' after --version$/],
    [['--version', 'extra', '--json'], /^unexpected argument 'extra' after --version$/],
    [['help', 'serv', '--json'], /^unknown command 'serv'\. Did you mean 'serve'\?/],
    [['aply', '--json'], /^unknown command 'aply'\. Did you mean 'apply'\?/],
    [['--json', 'frobnicate'], /^unknown command 'frobnicate'\./],
    [['--hepl', '--json'], /^unknown option '--hepl'\. Did you mean '--help'\?/],
    [['run', '--vews', 'a', '--json'], /^unknown option '--vews'\. Did you mean '--views'\?/],
    [['run', '--until-caught-up', '--idle', 'banana', '--json'], /^--idle: 'banana' is not a duration/],
    [['apply', 'stray', '--json'], /^unexpected argument 'stray'$/],
    [['--json', 'compact', '--views', 'a', '--views', 'b'], /^--views is given more than once$/],
  ]
  for (const [args, message] of EARLY) {
    void test(`kfs ${args.join(' ')}: exit 2, one {"error": {code: USAGE}} on stdout`, async () => {
      const r = await runKfsInProcess(args, dataDir)
      assert.equal(r.code, 2, r.stderr)
      const body = JSON.parse(r.stdout) as { error: ErrorJson }
      assert.deepEqual(Object.keys(body), ['error'])
      assert.equal(body.error.code, 'USAGE')
      assert.match(body.error.message, message)
      assert.ok(r.stderr.includes(body.error.message), `stderr carries the same message:\n${r.stderr}`)
    })

    const plain = args.filter((a) => a !== '--json')
    if (plain.length === 0) continue
    void test(`kfs ${plain.join(' ')}: exit 2, nothing on stdout`, async () => {
      const r = await runKfsInProcess(plain, dataDir)
      assert.equal(r.code, 2, r.stderr)
      assert.equal(r.stdout, '')
    })
  }
})
